/**
 * Kubernetes label selectors (metav1.LabelSelector): the type, and matching a set of labels the
 * way the API server does. An empty selector matches everything (as in a webhook's
 * objectSelector); a selector with an unknown operator never matches (it is refused when the
 * injector configuration is parsed, so that only happens for hand-built values).
 */

export const SelectorOperators = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
export type SelectorOperator = (typeof SelectorOperators)[number];

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Required (non-empty) for In and NotIn; must be empty for Exists and DoesNotExist. */
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, requirement.key);
    const value = labels[requirement.key];
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case 'In':
        if (!has || value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (has && value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** True when any selector in the list matches. */
export function anySelectorMatches(selectors: readonly LabelSelector[], labels: Readonly<Record<string, string>>): boolean {
  return selectors.some((selector) => selectorMatches(selector, labels));
}
