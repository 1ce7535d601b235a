/**
 * @driftless/common: the runtime shared by hub and agent — error classes and
 * classification, the one backoff, clocks and durations, flags, logging,
 * telemetry, name and label rules, URL redaction, canonical JSON and the
 * Driftless version.
 */
export * from './errors.ts';
export * from './backoff.ts';
export * from './time.ts';
export * from './flags.ts';
export * from './log.ts';
export * from './telemetry.ts';
export * from './names.ts';
export * from './canonical-json.ts';
export * from './urls.ts';
export * from './version.ts';
