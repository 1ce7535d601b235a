/**
 * @driftless/common: the runtime shared by hub and agent — error classes and
 * classification, the one backoff, clocks and durations, flags, logging and
 * telemetry.
 */
export * from './errors.ts';
export * from './backoff.ts';
export * from './time.ts';
export * from './flags.ts';
export * from './log.ts';
export * from './telemetry.ts';
