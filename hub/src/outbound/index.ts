/**
 * Outgoing requests to addresses people configure (notification destinations, Git
 * commit-status hosts): the address guard, and the destination's answer kept apart from
 * error text. See docs/notifications.md, "Where destinations may point".
 */
export { AllowList, AllowListError, nonPublicReason, parseIp } from './address.ts';
export { ANSWER_MAX, answerLine, answerOf, readHead, unanswered, type Answered } from './answer.ts';
export {
  ALLOW_FLAG,
  ForbiddenDestinationError,
  OUTBOUND_DEFAULTS,
  OutboundGuard,
  type OutboundOptions,
  type OutboundRequest,
  type Resolver,
} from './guard.ts';
