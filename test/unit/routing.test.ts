// Unit tests of eligibility rules and department routing from the default configuration.
import { expect } from 'chai';
import { evaluateEligibility } from '../../src/domain/eligibility.js';
import { divisionPrefix, resolveDepartments } from '../../src/domain/routing.js';
import type { Application } from '../../src/domain/types.js';
import { loadConfig } from '../../src/config/load.js';
import { CONFIG_DIR } from '../../src/paths.js';
import { join } from 'node:path';

const cfg = loadConfig(join(CONFIG_DIR, 'default.json'));
const app = (over: Partial<Application>): Application => ({
  enterpriseName: 'E', legalForm: 'limited_liability_company', registeredCapital: 1_000_000, industry: 'x', businessScope: ['retail'],
  address: 'a', divisionCode: '320102', investors: [], contact: { name: 'n', phone: '1' }, ...over,
});

describe('eligibility (pilot scope) from configuration', function () {
  const verdict = (over: Partial<Application>) => evaluateEligibility(app(over), cfg.eligibility);
  it('admits 1,000,000 yuan and more, refuses less, naming the rule', function () {
    expect(verdict({ registeredCapital: 1_000_000 })).to.include({ eligible: true, ruleId: 'capital-threshold' });
    expect(verdict({ registeredCapital: 999_999 })).to.include({ eligible: false, ruleId: 'below-capital-threshold' });
  });
  it('refuses dangerous goods, flammable and explosive trades and internet cafés whatever the capital', function () {
    for (const item of ['dangerous_goods', 'flammable_explosive', 'internet_cafe']) {
      expect(verdict({ registeredCapital: 50_000_000, businessScope: ['retail', item] })).to.include({ eligible: false, ruleId: 'excluded-special-trades' });
    }
  });
  it('admits bars, music tea-houses, cafés and bookstores regardless of capital', function () {
    for (const item of ['bar', 'music_teahouse', 'cafe', 'bookstore']) {
      expect(verdict({ registeredCapital: 0, businessScope: [item] })).to.include({ eligible: true, ruleId: 'listed-trades' });
    }
  });
});

describe('routing of scope items to departments', function () {
  it('maps catering to health, environment and fire of Xuanwu', function () {
    expect(resolveDepartments(app({ businessScope: ['catering'] }), cfg).map((d) => d.id)).to.deep.equal(['xw-health', 'xw-environment', 'xw-fire']);
  });
  it('asks each department once for several items', function () {
    const ids = resolveDepartments(app({ businessScope: ['catering', 'cafe', 'bar'] }), cfg).map((d) => d.id);
    expect(ids).to.have.members(['xw-health', 'xw-environment', 'xw-fire', 'xw-police']);
    expect(new Set(ids).size).to.equal(ids.length);
  });
  it('prefers an item-specific route: hotels go to the city fire bureau', function () {
    const d = resolveDepartments(app({ businessScope: ['hotel'] }), cfg);
    expect(d.find((x) => x.type === 'fire')).to.include({ id: 'nj-fire', level: 'city' });
  });
  it('needs no department for retail', function () {
    expect(resolveDepartments(app({ businessScope: ['retail'] }), cfg)).to.deep.equal([]);
  });
  it('refuses unknown items and divisions with their own codes', function () {
    expect(() => resolveDepartments(app({ businessScope: ['moon_base'] }), cfg)).to.throw().with.property('code', 'UNKNOWN_SCOPE_ITEM');
    expect(() => resolveDepartments(app({ businessScope: ['catering'], divisionCode: '110101' }), cfg)).to.throw().with.property('code', 'UNKNOWN_DIVISION');
  });
  it('reads division codes as their prefixes', function () {
    expect([divisionPrefix('320000'), divisionPrefix('320100'), divisionPrefix('320102')]).to.deep.equal(['32', '3201', '320102']);
  });
});
