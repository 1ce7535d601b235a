import type { DestinationKind } from '../../store/index.ts';
import type { NotificationEvent } from '../model.ts';

/** A destination with its secret opened, as a provider needs it. Never logged. */
export interface OpenDestination {
  name: string;
  kind: DestinationKind;
  config: Record<string, string>;
  secret: Record<string, string>;
}

/** Sends a notification to one kind of destination. */
export interface Provider {
  /**
   * Delivers `event`; throws a classified error (transient ones are retried)
   * whose message names the destination, never its secret.
   */
  send(event: NotificationEvent, destination: OpenDestination, signal?: AbortSignal): Promise<void>;
}
