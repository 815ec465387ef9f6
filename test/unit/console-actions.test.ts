// The console listens for every event the gateway writes: its list of named server-sent events covers every audit action in src/.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../src/paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('the console and the audit actions', function () {
  it('subscribes to every action the gateway writes (a missing one would leave pages stale)', function () {
    const written = new Set<string>();
    for (const file of sources(join(ROOT, 'src'))) {
      const text = readFileSync(file, 'utf8');
      // `action: 'x.y'` in events, `audit(req, 'x.y', ...)` in the administration routes, and the configuration's two.
      for (const m of text.matchAll(/(?:action: |audit\(req, |\? |: )'([a-z_]+\.[a-z_.]+)'/g)) {
        // File names (`'index.html'`) share the shape; actions never end in an extension.
        if (/^[a-z_]+\.[a-z_]+$/.test(m[1]!) && !/\.(html|js|css|json|xml|xsd|wsdl|pem|ts|png)$/.test(m[1]!)) written.add(m[1]!);
      }
    }
    expect(written.size).to.be.greaterThan(40);
    for (const a of ['case.accepted', 'complaint.filed', 'user.added', 'config.imported']) expect(written.has(a), a).to.equal(true);
    const live = readFileSync(join(ROOT, 'console/js/live.js'), 'utf8');
    const listed = new Set([...live.slice(live.indexOf('const ACTIONS')).matchAll(/'([a-z_]+\.[a-z_.]+)'/g)].map((m) => m[1]!));
    expect([...written].filter((a) => !listed.has(a)).sort()).to.deep.equal([]);
  });
});
