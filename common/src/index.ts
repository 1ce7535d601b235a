/**
 * @driftless/common: the runtime shared by hub and agent — error classes and
 * classification, the one backoff, clocks and durations, flags, logging,
 * telemetry, canonical JSON and URLs fit for logs.
 */
export * from './errors.ts';
export * from './backoff.ts';
export * from './time.ts';
export * from './flags.ts';
export * from './log.ts';
export * from './telemetry.ts';
export * from './canonical-json.ts';
export * from './urls.ts';
