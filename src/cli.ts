// The `pag` command line: start, demo, user add, adapters, departments, uscc validate, audit verify and export, stats, check-config.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AUDIT_USAGE, auditCommand } from './cli/audit.js';
import { ADAPTERS_USAGE, configCommand } from './cli/config-admin.js';
import { KEYS_USAGE, keysCommand } from './cli/keys.js';
import { usccValidateCommand } from './cli/uscc.js';
import { loadConfig, loadDemoUsers, settingsFromEnv } from './config/load.js';
import { GatewayError } from './domain/errors.js';
import type { Role } from './domain/types.js';

const USAGE = `usage: pag <command>
  start                         run the gateway (PORT, HOST, PAG_CONFIG, DATA_DIR, DATABASE_URL, PAG_CLOCK)
  demo                          walk sample applications through every path, printing a timeline
  check-config [FILE]           validate a configuration file
  user add NAME --role ROLE [--department ID] --password-stdin
                                create a user; prints the otpauth:// URI of its TOTP secret
  uscc validate [--strict] CODE...
                                check unified social credit codes and 15-digit registration numbers
${AUDIT_USAGE}
  stats [--from DATE] [--to DATE] [--department ID] [--district CODE] [--format csv|json]
                                statistics of the cases submitted in the period, read from the store
  stats rebuild                 recompute the statistics rollup from every stored case
  province pull --once          pull status changes from the provincial system now (province.pull), printing what was applied
  otp USERNAME                  print the current one-time code of a demo user (demo environment only)
${ADAPTERS_USAGE}
${KEYS_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'start': {
      const { runServer } = await import('./cli/start.js');
      return runServer();
    }
    case 'demo': {
      const { runDemo } = await import('./cli/demo.js');
      return runDemo();
    }
    case 'check-config': {
      const file = rest[0] ?? settingsFromEnv().configFile;
      loadConfig(file);
      console.log(`OK ${file}`);
      return 0;
    }
    case 'otp': {
      const cfg = loadConfig(settingsFromEnv().configFile);
      const user = loadDemoUsers(cfg).find((u) => u.username === rest[0]);
      if (!user) {
        console.error(`pag otp: ${rest[0] ?? '(no name)'} is not a demo user of ${cfg.file} (environment ${cfg.gateway.environment})`);
        return 1;
      }
      const { currentTotp } = await import('./trust/totp.js');
      console.log(currentTotp(user.totpSecret));
      return 0;
    }
    case 'uscc':
      return usccValidateCommand(rest, (line) => console.log(line));
    case 'user': {
      if (rest[0] !== 'add') break;
      const { values, positionals } = parseArgs({
        args: rest.slice(1),
        allowPositionals: true,
        options: { role: { type: 'string' }, department: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
      });
      const roles: Role[] = ['secretary', 'registrar', 'reviewer', 'supervisor', 'admin'];
      if (positionals.length !== 1 || !values.role || !roles.includes(values.role as Role) || !values['password-stdin']) {
        console.error(`pag user add: give one NAME, --role (${roles.join(', ')}) and --password-stdin`);
        return 2;
      }
      const password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
      const { Gateway } = await import('./gateway.js');
      const gw = await Gateway.open({ settings: settingsFromEnv() });
      try {
        const { user, otpauth } = await gw.users.add({ username: positionals[0]!, password, role: values.role as Role, departmentId: values.department });
        console.log(`created ${user.username} (${user.role}${user.departmentId ? `, ${user.departmentId}` : ''})`);
        console.log(otpauth);
      } finally {
        await gw.stop();
      }
      return 0;
    }
    case 'keys':
      return keysCommand(rest);
    case 'adapters':
    case 'departments':
    case 'config':
      return configCommand(cmd, rest);
    case 'audit': {
      const code = await auditCommand(rest);
      if (code === -2) break;
      return code;
    }
    case 'stats': {
      if (rest[0] === 'rebuild') {
        const { Gateway } = await import('./gateway.js');
        const { rebuildStats } = await import('./service/stats-projection.js');
        const gw = await Gateway.open({ settings: settingsFromEnv() });
        try {
          const t = Date.now();
          const r = await rebuildStats(gw.db);
          console.log(`statistics rollup rebuilt from ${r.cases} cases: ${r.rows} rows in ${((Date.now() - t) / 1000).toFixed(1)} s`);
          if (r.vacuumError) console.error(`the rebuilt rollup is kept, but vacuuming it failed (autovacuum will do it later): ${r.vacuumError}`);
          return 0;
        } finally {
          await gw.stop();
        }
      }
      const { values } = parseArgs({
        args: rest,
        options: { from: { type: 'string' }, to: { type: 'string' }, department: { type: 'string' }, district: { type: 'string' }, format: { type: 'string' } },
      });
      const format = values.format ?? 'json';
      if (format !== 'csv' && format !== 'json') {
        console.error('pag stats: --format is csv or json');
        return 2;
      }
      const { Gateway } = await import('./gateway.js');
      const { parseFilter } = await import('./domain/stats.js');
      const { computeStats, statsCsv } = await import('./service/stats.js');
      const gw = await Gateway.open({ settings: settingsFromEnv() });
      try {
        const { format: _f, ...filters } = values;
        // No gateway may be running to keep the rollup up to date: take in what was sealed since its last pass.
        await gw.stats.catchUp();
        const stats = await computeStats(gw.db, parseFilter(filters, (id) => gw.config.departments.some((d) => d.id === id)));
        process.stdout.write(format === 'csv' ? statsCsv(stats) : `${JSON.stringify(stats, null, 2)}\n`);
        return 0;
      } finally {
        await gw.stop();
      }
    }
    case 'province': {
      if (rest[0] !== 'pull' || rest[1] !== '--once') break;
      const { provincePullOnce } = await import('./cli/province.js');
      return provincePullOnce((line) => console.log(line));
    }
    case undefined:
    case '-h':
    case '--help':
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
  }
  console.error(`pag: unknown command ${argv.join(' ')}\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof GatewayError) console.error(`pag: ${e.code}: ${e.message}`);
    else console.error(`pag: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
