// Which departments hear of a provincial status change: subscriptions by area and kind, and the AMQP routing key of a publication.
import type { ChangeKind, ChangeRecord } from './province-change.js';

/** A department's subscription: changes of enterprises in its areas, of the kinds it names (all when absent). */
export interface Subscription {
  department: string;
  /** Division codes: a district (320102) covers itself, a city (320100) its districts, a province (320000) its cities. */
  areas: string[];
  kinds?: ChangeKind[];
}

/** The prefix of division codes an area covers: trailing "00" pairs widen it (city, province). */
export function areaPrefix(area: string): string {
  if (/^[0-9]{2}0000$/.test(area)) return area.slice(0, 2);
  if (/^[0-9]{4}00$/.test(area)) return area.slice(0, 4);
  return area;
}

export function inArea(area: string, divisionCode: string): boolean {
  return divisionCode.startsWith(areaPrefix(area));
}

/** The subscriptions a change concerns. */
export function subscribersOf(subs: readonly Subscription[], change: Pick<ChangeRecord, 'kind' | 'divisionCode'>): Subscription[] {
  return subs.filter((s) => (!s.kinds || s.kinds.includes(change.kind)) && s.areas.some((a) => inArea(a, change.divisionCode)));
}

/**
 * The routing key of a change on the topic exchange: `<divisionCode>.<departmentType>.<kind>`, so a department's queue
 * binds by area and type (`320102.fire.*`, `*.police.revoked`).
 */
export function routingKey(divisionCode: string, departmentType: string, kind: string): string {
  return `${divisionCode}.${departmentType}.${kind}`;
}
