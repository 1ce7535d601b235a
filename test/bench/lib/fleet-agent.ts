/**
 * One simulated agent's Connect stream for the fleet benchmarks: its own mTLS connection with its
 * own client certificate, as `connect` of test/integration/hub/helpers.ts, but cheap to open by
 * the ten thousand. grpc-js shares connections between channels through a process-wide
 * subchannel pool that it searches linearly on every new channel (address, options and
 * credentials compared one by one), so opening N agents in one process costs O(N²); each agent
 * here gets a pool of its own, as a real agent (one channel per process) has. Channelz
 * bookkeeping is off: nothing reads it.
 */
import * as grpc from '@grpc/grpc-js';
import {
  AgentMessage,
  AgentServiceClient,
  type AgentMessageBody,
  type HubMessage,
} from '@driftless/proto';

/** The channel options every simulated agent uses. */
export const FLEET_AGENT_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.enable_channelz': 0,
};

/** An open Connect stream of one simulated agent. */
export interface FleetAgentStream {
  /** Sends one message (a report, the Hello). */
  send(seq: bigint, body: AgentMessageBody): void;
  /** Calls `fn` with every hub message, in order. */
  onMessage(fn: (m: HubMessage) => void): void;
  /** The stream's final status (OK or the error the hub or the transport ended it with). */
  status: Promise<{ code: number; details: string }>;
  /** Ends the stream and closes the agent's connection. */
  close(): void;
}

/** Opens agent `identity`'s own mTLS connection to `hub` and its Connect stream. */
export function connectFleetAgent(
  hub: { grpc: string; caPem: string },
  identity: { keyPem: string; certPem: string },
): FleetAgentStream {
  const creds = grpc.credentials.createSsl(
    Buffer.from(hub.caPem),
    Buffer.from(identity.keyPem),
    Buffer.from(identity.certPem),
  );
  const client = new AgentServiceClient(hub.grpc, creds, FLEET_AGENT_CHANNEL_OPTIONS);
  const call = client.connect();
  const status = new Promise<{ code: number; details: string }>((resolveStatus) => {
    let done = false;
    const finish = (s: { code: number; details: string }) => {
      if (done) return;
      done = true;
      client.close();
      resolveStatus(s);
    };
    call.on('error', (e: grpc.ServiceError) => finish({ code: e.code, details: e.details }));
    call.on('status', (s: grpc.StatusObject) => {
      // 'status' precedes 'error' for failures; let 'error' carry them.
      if (s.code === grpc.status.OK) finish({ code: s.code, details: s.details });
    });
  });
  return {
    send: (seq, body) =>
      void call.write(
        AgentMessage.create({
          seq,
          body,
          trace: { traceparent: '', tracestate: '' },
          sentAtUnixMs: BigInt(Date.now()),
        }),
      ),
    onMessage: (fn) => void call.on('data', fn),
    status,
    close: () => {
      call.end();
      call.cancel();
    },
  };
}
