// Break-glass pauses: the hub's time-limited `driftless suspend` and Git's `suspend: true`.
export {
  SuspensionBook,
  SUSPENSION_BOOK_DEFAULTS,
  type SuspensionBookOptions,
  type SuspensionStore,
} from './book.ts';
export { ConfigMapSuspensionStore, SUSPENSIONS_CONFIGMAP } from './configmap-store.ts';
export {
  describeSuspension,
  inForce,
  strongest,
  type Suspension,
  type SuspensionSource,
} from './types.ts';
