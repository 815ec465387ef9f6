// The enterprise list's filters and scoping: what is read from a query string, every refusal naming its field, and how a
// reviewer's area narrows an asked one.
import { expect } from 'chai';
import { creditCodeKey, DEFAULT_LIMIT, ENTERPRISE_STATUSES, MAX_LIMIT, narrowArea, parseEnterpriseFilter, viewerScope } from '../../src/domain/enterprise-filter.js';
import { GatewayError } from '../../src/domain/errors.js';
import { inArea } from '../../src/domain/province-subscription.js';
import { simEnterprise } from '../../src/province/sim-data.js';

const refused = (q: Record<string, unknown>) => {
  try {
    parseEnterpriseFilter(q);
  } catch (e) {
    const g = e as GatewayError;
    return [g.code, g.details.field, g.status];
  }
  return null;
};

describe('enterprise filter', function () {
  it('reads every filter, with the default page size when none is given', function () {
    expect(parseEnterpriseFilter({})).to.deep.equal({ divisionPrefix: null, status: null, q: null, limit: DEFAULT_LIMIT, after: null });
    const code = simEnterprise(7).creditCode;
    expect(parseEnterpriseFilter({ division: '320100', status: 'suspended', q: '模拟', limit: '25', after: code.toLowerCase() })).to.deep.equal({
      divisionPrefix: '3201', status: 'suspended', q: '模拟', limit: 25, after: code,
    });
    expect(parseEnterpriseFilter({ division: '320102' }).divisionPrefix).to.equal('320102');
    expect(parseEnterpriseFilter({ division: '320000' }).divisionPrefix).to.equal('32');
    expect(parseEnterpriseFilter({ limit: String(MAX_LIMIT) }).limit).to.equal(MAX_LIMIT);
    // An empty value is no filter, as in the statistics.
    expect(parseEnterpriseFilter({ status: '', q: '' })).to.include({ status: null, q: null });
  });

  it('knows the statuses a change leaves behind', function () {
    expect([...ENTERPRISE_STATUSES].sort()).to.deep.equal(['deregistered', 'operating', 'revoked', 'suspended']);
    for (const s of ENTERPRISE_STATUSES) expect(parseEnterpriseFilter({ status: s }).status).to.equal(s);
  });

  it('refuses unknown filters and bad values with INVALID_ENTERPRISE_FILTER naming the field', function () {
    const bad = 'INVALID_ENTERPRISE_FILTER';
    expect(refused({ divisoin: '320102' })).to.deep.equal([bad, 'divisoin', 422]);
    expect(refused({ offset: '10' })).to.deep.equal([bad, 'offset', 422]);
    for (const division of ['3201', '32010x', '3201020', ' 320102']) expect(refused({ division }), division).to.deep.equal([bad, 'division', 422]);
    for (const status of ['established', 'active', 'Operating']) expect(refused({ status }), status).to.deep.equal([bad, 'status', 422]);
    for (const limit of ['0', '501', '-1', '1.5', 'ten', '0100000']) expect(refused({ limit }), limit).to.deep.equal([bad, 'limit', 422]);
    for (const after of ['91320102', 'Z'.repeat(18), '91320102MA1ABCDEIO', '91320102000000071 ']) expect(refused({ after }), after).to.deep.equal([bad, 'after', 422]);
    expect(refused({ q: '企'.repeat(101) })).to.deep.equal([bad, 'q', 422]);
    expect(refused({ q: '企'.repeat(100) })).to.equal(null);
    // A filter given twice (?status=a&status=b) arrives as a list.
    expect(refused({ status: ['operating', 'revoked'] })).to.deep.equal([bad, 'status', 422]);
    expect(refused({ division: { x: '1' } })).to.deep.equal([bad, 'division', 422]);
  });

  it('takes as a credit code 18 characters of its alphabet or an old 15-digit number, check characters unjudged', function () {
    const legacy = simEnterprise(5).creditCode; // a legacy code: the wrong check character
    expect(creditCodeKey(legacy)).to.equal(legacy);
    expect(creditCodeKey('320102000012345')).to.equal('320102000012345');
    expect(creditCodeKey('91320102ma1abcdx1y')).to.equal('91320102MA1ABCDX1Y');
    for (const s of ['', '91320102MA1ABCDX1', '91320102MA1ABCDX1YY', '91320102MA1ABCDI1Y', '32010200001234A', '91320102MA1ABCD%1Y']) expect(creditCodeKey(s), s).to.equal(null);
  });

  it('scopes a reviewer to the area of their department; everyone else sees all', function () {
    for (const role of ['secretary', 'registrar', 'supervisor', 'admin']) expect(viewerScope(role, undefined)).to.equal(null);
    expect(viewerScope('reviewer', '320102')).to.equal('320102');
    expect(viewerScope('reviewer', '320100')).to.equal('3201');
    expect(viewerScope('reviewer', undefined)).to.equal('none');
  });

  it('narrows an asked area to the part of it a viewer may see, and to nothing when they do not meet', function () {
    expect(narrowArea(null, null)).to.equal(null);
    expect(narrowArea(null, '3201')).to.equal('3201');
    expect(narrowArea('3201', null)).to.equal('3201');
    expect(narrowArea('3201', '320102')).to.equal('320102');
    expect(narrowArea('320102', '3201')).to.equal('320102');
    expect(narrowArea('320102', '32')).to.equal('320102');
    expect(narrowArea('320102', '320104')).to.equal('none');
    expect(narrowArea('3201', '3205')).to.equal('none');
    // The narrowed area is exactly the codes both cover, checked against inArea for every pair of some areas.
    const areas = ['320000', '320100', '320102', '320104', '320500', '320506', '110000'];
    const codes = ['320102', '320104', '320105', '320205', '320506', '110101'];
    const prefix = (a: string) => parseEnterpriseFilter({ division: a }).divisionPrefix!;
    for (const s of areas) {
      for (const a of areas) {
        const n = narrowArea(prefix(s), prefix(a));
        for (const c of codes) expect(n !== 'none' && n !== null && c.startsWith(n), `${s} ${a} ${c}`).to.equal(inArea(s, c) && inArea(a, c));
      }
    }
  });
});
