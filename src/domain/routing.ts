// Which departments review a case: scope items name department types; routes pick the department for where the case is filed.
import { fail } from './errors.js';
import type { Application, Level } from './types.js';

/** A pre-approval department, as configured. */
export interface Department {
  id: string;
  name: string;
  type: string;
  level: Level;
  divisionCode: string;
  adapter: string;
  issuesPermit: boolean;
  /** No system of its own: its reviewers answer in the console and the gateway signs for it with its key in certs/. */
  hosted?: boolean;
  /** Mutual TLS: over the gateway's HTTP endpoints, this department must present a client certificate its CA issued. */
  clientCertificate?: { ca: string; subject?: string };
}

/** A business-scope item and the department types that must pre-approve it. */
export interface ScopeItem {
  name: string;
  requires: string[];
}

/**
 * For cases filed in `filedIn` (a division code; a city or province code covers its districts), `type` goes to
 * `department`; with `then`, that department reviews first and reports up to each of `then` in turn (a chained review).
 */
export interface Route {
  filedIn: string;
  type: string;
  department: string;
  items?: string[];
  then?: string[];
}

/** A department chosen for a case; `after` is the department whose approval opens its review (a chain's later step). */
export type ChosenDepartment = Department & { after: string | null };

const LEVEL_RANK: Record<Level, number> = { district: 0, city: 1, province: 2 };

/**
 * What is wrong with a route's chain, if anything: each step a known department of the route's type, none twice (a
 * cycle), each at the level of the one before or above it (a chain reports up, never down). Returns [index, reason].
 */
export function chainProblem(route: Route, departments: Department[]): [number, string] | null {
  const byId = new Map(departments.map((d) => [d.id, d]));
  const steps = [route.department, ...(route.then ?? [])];
  const seen = new Set<string>();
  for (const [i, id] of steps.entries()) {
    const dep = byId.get(id);
    if (!dep) return [i, `no department ${id}`];
    if (seen.has(id)) return [i, `department ${id} appears twice in the chain (a cycle)`];
    if (dep.type !== route.type) return [i, `department ${id} is of type ${dep.type}; every step of a ${route.type} chain is a ${route.type} department`];
    seen.add(id);
    const prev = i > 0 ? byId.get(steps[i - 1]!)! : null;
    if (prev && LEVEL_RANK[dep.level] < LEVEL_RANK[prev.level]) return [i, `a chain reports up: ${id} (${dep.level}) cannot follow ${prev.id} (${prev.level})`];
  }
  return null;
}

/** Routing tables from configuration. */
export interface RoutingTables {
  scopeItems: Record<string, ScopeItem>;
  departments: Department[];
  routes: Route[];
}

/** The prefix of a division code that it stands for: 320000 -> "32", 320100 -> "3201", 320102 -> "320102". */
export function divisionPrefix(code: string): string {
  if (code.endsWith('0000')) return code.slice(0, 2);
  if (code.endsWith('00')) return code.slice(0, 4);
  return code;
}

/** A cycle in the chains of all routes together (A before B in one chain, B before A in another), as its departments, or null. */
export function chainCycle(routes: Route[]): string[] | null {
  const next = new Map<string, Set<string>>();
  for (const r of routes) {
    const steps = [r.department, ...(r.then ?? [])];
    for (let i = 1; i < steps.length; i++) (next.get(steps[i - 1]!) ?? next.set(steps[i - 1]!, new Set()).get(steps[i - 1]!)!).add(steps[i]!);
  }
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | null => {
    if (state.get(id) === 'done') return null;
    if (state.get(id) === 'open') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'open');
    path.push(id);
    for (const n of next.get(id) ?? []) {
      const found = visit(n);
      if (found) return found;
    }
    path.pop();
    state.set(id, 'done');
    return null;
  };
  for (const id of next.keys()) {
    const found = visit(id);
    if (found) return found;
  }
  return null;
}

/**
 * Departments that must review an application, each once, in configuration order of the scope items; a chained route
 * adds its later steps, each after the one before. A department reached both directly and as a later step of a chain
 * reviews once, as the chain's step (the stricter of the two).
 */
export function resolveDepartments(app: Application, t: RoutingTables): ChosenDepartment[] {
  const byId = new Map(t.departments.map((d) => [d.id, d]));
  const chosen = new Map<string, ChosenDepartment>();
  const choose = (id: string, after: string | null) => {
    const dep = byId.get(id);
    if (!dep) fail('UNKNOWN_DEPARTMENT', { departmentId: id });
    const had = chosen.get(id);
    if (!had || (had.after === null && after !== null)) chosen.set(id, { ...dep, after });
  };
  for (const item of app.businessScope) {
    const spec = t.scopeItems[item];
    if (!spec) fail('UNKNOWN_SCOPE_ITEM', { item });
    for (const type of spec.requires) {
      const candidates = t.routes
        .filter((r) => r.type === type && app.divisionCode.startsWith(divisionPrefix(r.filedIn)) && (!r.items || r.items.includes(item)))
        // The most specific route wins: an item-specific route, then the longest matching division prefix.
        .sort((a, b) => Number(!!b.items) - Number(!!a.items) || divisionPrefix(b.filedIn).length - divisionPrefix(a.filedIn).length);
      const route = candidates[0];
      if (!route) fail('UNKNOWN_DIVISION', { divisionCode: app.divisionCode }, { item, departmentType: type });
      choose(route.department, null);
      let prev = route.department;
      for (const next of route.then ?? []) {
        choose(next, prev);
        prev = next;
      }
    }
  }
  return [...chosen.values()];
}
