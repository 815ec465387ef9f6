// Pilot-scope eligibility: an ordered rule list from configuration; the first rule that matches decides.
import type { Application } from './types.js';

/** Conditions of one rule; every condition given must hold for the rule to match. */
export interface RuleCondition {
  anyScopeItem?: string[];
  allScopeItemsIn?: string[];
  industryIn?: string[];
  minCapital?: number;
  maxCapital?: number;
  legalFormIn?: string[];
}

/** One eligibility rule: admit or refuse when its condition matches. */
export interface EligibilityRule {
  id: string;
  effect: 'admit' | 'refuse';
  when: RuleCondition;
  reason: string;
}

/** The rule set: rules in order, and what happens when none matches. */
export interface EligibilityRules {
  rules: EligibilityRule[];
  otherwise: { id: string; effect: 'admit' | 'refuse'; reason: string };
}

/** The verdict, naming the rule that decided it. */
export interface EligibilityVerdict {
  eligible: boolean;
  ruleId: string;
  reason: string;
}

export function matches(when: RuleCondition, app: Application): boolean {
  const scope = app.businessScope;
  if (when.anyScopeItem && !scope.some((s) => when.anyScopeItem!.includes(s))) return false;
  if (when.allScopeItemsIn && !(scope.length > 0 && scope.every((s) => when.allScopeItemsIn!.includes(s)))) return false;
  if (when.industryIn && !when.industryIn.includes(app.industry)) return false;
  if (when.minCapital !== undefined && app.registeredCapital < when.minCapital) return false;
  if (when.maxCapital !== undefined && app.registeredCapital > when.maxCapital) return false;
  if (when.legalFormIn && !when.legalFormIn.includes(app.legalForm)) return false;
  return true;
}

export function evaluateEligibility(app: Application, rules: EligibilityRules): EligibilityVerdict {
  for (const rule of rules.rules) {
    if (matches(rule.when, app)) return { eligible: rule.effect === 'admit', ruleId: rule.id, reason: rule.reason };
  }
  const o = rules.otherwise;
  return { eligible: o.effect === 'admit', ruleId: o.id, reason: o.reason };
}
