// `pag adapters ...` and `pag departments ...`: the running configuration from the command line, on the gateway's store.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { settingsFromEnv } from '../config/load.js';
import { GatewayError } from '../domain/errors.js';
import type { Actor } from '../domain/types.js';
import type { Department } from '../domain/routing.js';
import { redact } from '../http/admin-config.js';

export const ADAPTERS_USAGE = `  adapters list [--json]        adapters with kind, state, departments and retry policy
  adapters show NAME            one adapter's settings (secrets hidden)
  adapters test NAME [--department ID]
                                send a test message; report the round trip or the exact failure
  adapters enable|disable NAME  start or stop an adapter (its messages wait while it is disabled)
  adapters set NAME FILE        add or change an adapter from a JSON file (an entry as in the configuration)
  adapters remove NAME          remove an adapter no department uses
  adapters reload               import the configuration file again as the running configuration
  departments list [--json]     departments with level, division code and adapter
  departments show ID
  departments set FILE          add or change a department from a JSON file
  departments remove ID         remove a department that has no open reviews or permits
  config history                the stored configuration versions`;

/** Running gateways pick a change up within seconds; the command line acts as an administrator named after the OS user. */
const cliActor = (): Actor => ({ kind: 'user', id: `cli:${userInfo().username}`, role: 'admin', adapter: 'cli' });

function readJsonFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new GatewayError('CONFIG_CHANGE_INVALID', { path: file, reason: (e as Error).message });
  }
}

export async function configCommand(area: 'adapters' | 'departments' | 'config', args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, department: { type: 'string' } } });
  const [verb, target, file] = positionals;
  const { Gateway } = await import('../gateway.js');
  const gw = await Gateway.open({ settings: settingsFromEnv(), logger: (await import('pino')).pino({ level: 'warn' }) });
  const print = (v: unknown) => console.log(JSON.stringify(v, null, 2));
  try {
    const cfg = gw.config;
    if (area === 'adapters') {
      switch (verb) {
        case 'list': {
          const rows = Object.entries(cfg.adapters).map(([name, a]) => ({
            name,
            kind: a.kind,
            enabled: a.enabled,
            departments: cfg.departments.filter((d) => d.adapter === name).map((d) => d.id),
            maxAttempts: a.retry.maxAttempts,
          }));
          if (values.json) print(rows);
          else for (const r of rows) console.log(`${r.name.padEnd(16)} ${r.kind.padEnd(5)} ${r.enabled ? 'enabled ' : 'disabled'} ${r.departments.join(', ') || '(no departments)'}`);
          console.log(values.json ? '' : `configuration version ${gw.configVersion}`);
          return 0;
        }
        case 'show': {
          const a = target ? cfg.adapters[target] : undefined;
          if (!a) throw new GatewayError('NOT_FOUND', { what: 'adapter' });
          print({ name: target, ...a, options: redact(a.options), departments: cfg.departments.filter((d) => d.adapter === target).map((d) => d.id) });
          return 0;
        }
        case 'test': {
          if (!target) break;
          const r = await gw.testAdapter(target, values.department);
          if (values.json) print(r);
          else if (r.ok) console.log(`OK ${r.adapter} -> ${r.departmentId}: ${r.outcome} in ${r.ms} ms (${r.detail}); message ${r.messageId}`);
          else console.log(`FAILED ${r.adapter} -> ${r.departmentId}: ${r.failure} after ${r.ms} ms: ${r.detail}`);
          return r.ok ? 0 : 1;
        }
        case 'enable':
        case 'disable': {
          if (!target) break;
          const v = await gw.setAdapterEnabled(target, verb === 'enable', cliActor());
          console.log(`${verb}d ${target}; configuration version ${v.version}`);
          return 0;
        }
        case 'set': {
          if (!target || !file) break;
          const v = await gw.putAdapter(target, readJsonFile(file), cliActor());
          console.log(`adapter ${target} saved; configuration version ${v.version}`);
          return 0;
        }
        case 'remove': {
          if (!target) break;
          const v = await gw.removeAdapter(target, cliActor());
          console.log(`adapter ${target} removed; configuration version ${v.version}`);
          return 0;
        }
        case 'reload': {
          const v = await gw.reloadConfigFile(cliActor());
          console.log(`${v.summary}; configuration version ${v.version}`);
          return 0;
        }
      }
    } else if (area === 'departments') {
      switch (verb) {
        case 'list': {
          if (values.json) print(cfg.departments);
          else for (const d of cfg.departments) console.log(`${d.id.padEnd(18)} ${d.level.padEnd(8)} ${d.divisionCode} ${d.type.padEnd(12)} ${d.adapter.padEnd(12)} ${d.name}`);
          return 0;
        }
        case 'show': {
          const d = cfg.departments.find((x) => x.id === target);
          if (!d) throw new GatewayError('NOT_FOUND', { what: 'department' });
          print(d);
          return 0;
        }
        case 'set': {
          if (!target) break;
          const dep = readJsonFile(target) as Department;
          const v = await gw.putDepartment(dep, cliActor());
          console.log(`department ${dep.id} saved; configuration version ${v.version}`);
          return 0;
        }
        case 'remove': {
          if (!target) break;
          const v = await gw.removeDepartment(target, cliActor());
          console.log(`department ${target} removed; configuration version ${v.version}`);
          return 0;
        }
      }
    } else if (verb === 'history') {
      const { listVersions } = await import('../config/runtime.js');
      for (const v of await listVersions(gw.db)) console.log(`${String(v.version).padStart(4)} ${new Date(v.changedAt).toISOString()} ${v.source.padEnd(5)} ${v.changedBy.padEnd(20)} ${v.summary}`);
      return 0;
    }
    console.error(`pag ${area}: unknown or incomplete command\n${ADAPTERS_USAGE}`);
    return 2;
  } finally {
    await gw.stop();
  }
}
