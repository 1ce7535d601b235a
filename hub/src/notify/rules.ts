import { parseSelector, type Labels, type RuleRecord, type SelectorTerm } from '../store/index.ts';
import { severityAtLeast, type NotificationEvent } from './model.ts';

/** Whether `labels` satisfy every term of a selector (the same terms the API's `selector` takes). */
export function labelsMatch(terms: readonly SelectorTerm[], labels: Labels): boolean {
  return terms.every((t) => {
    const v = labels[t.key];
    switch (t.op) {
      case '=':
        return v === t.value;
      case '!=':
        return v !== t.value;
      case 'exists':
        return v !== undefined;
      case '!exists':
        return v === undefined;
    }
  });
}

/**
 * Whether `rule` routes `event`: its kind is listed (or the rule lists none),
 * the cluster's labels match the selector, the app is listed (or none is), and
 * the severity is at least the rule's minimum.
 */
export function ruleMatches(rule: RuleRecord, event: NotificationEvent): boolean {
  if (rule.events.length && !rule.events.includes(event.kind)) return false;
  if (rule.apps.length && !rule.apps.includes(event.app)) return false;
  if (!severityAtLeast(event.severity, rule.minSeverity)) return false;
  return labelsMatch(parseSelector(rule.selector), event.labels);
}
