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
}

/** A business-scope item and the department types that must pre-approve it. */
export interface ScopeItem {
  name: string;
  requires: string[];
}

/** For cases filed in `filedIn` (a division code; a city or province code covers its districts), `type` goes to `department`. */
export interface Route {
  filedIn: string;
  type: string;
  department: string;
  items?: string[];
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

/** Departments that must review an application, each once, in configuration order of the scope items. */
export function resolveDepartments(app: Application, t: RoutingTables): Department[] {
  const byId = new Map(t.departments.map((d) => [d.id, d]));
  const chosen = new Map<string, Department>();
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
      const dep = byId.get(route.department);
      if (!dep) fail('UNKNOWN_DEPARTMENT', { departmentId: route.department });
      chosen.set(dep.id, dep);
    }
  }
  return [...chosen.values()];
}
