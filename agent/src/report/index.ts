/** What the agent tells the world (reports) and hears from it (approvals). */
export * from './report.ts';
export * from './events.ts';
export { isSecret, REDACTED, redactValue } from './redact.ts';
