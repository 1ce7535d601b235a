/**
 * Health: how healthy each live object is by its kind, and an app's health
 * as the worst of its objects'.
 */
export { healthOf } from './kinds.ts';
export { aggregateHealth, type ObjectHealth } from './aggregate.ts';
export { gatesWave, SEVERITY, type Health, type HealthStatus } from './types.ts';
export { celProblem, healthByRule } from './expressions.ts';
export { isFinishedRunOnce, isRunOnce } from './run-once.ts';
