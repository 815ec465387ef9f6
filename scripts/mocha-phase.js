// One phase of the suite: runs mocha on every *.test.js below a folder and writes its counts to a JSON file.
import Mocha from 'mocha';
import { writeFileSync } from 'node:fs';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [statsFile, dir] = process.argv.slice(2);
const find = (d) => !existsSync(d) ? [] : readdirSync(d, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? find(join(d, e.name)) : e.name.endsWith('.test.js') ? [join(d, e.name)] : []);
const mocha = new Mocha({ reporter: 'spec', timeout: 20000, forbidOnly: true, forbidPending: true });
const files = find(dir).sort();
for (const f of files) mocha.addFile(f);
await mocha.loadFilesAsync();
const runner = mocha.run((failures) => {
  const s = runner.stats ?? { passes: 0, failures, pending: 0 };
  writeFileSync(statsFile, JSON.stringify({ passes: s.passes, failures: s.failures, pending: s.pending, files: files.length }));
  process.exit(failures ? 1 : 0);
});
