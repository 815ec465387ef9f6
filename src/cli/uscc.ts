// `pag uscc validate [--strict] CODE...`: checks unified social credit codes and old registration numbers from the command line.
import { validateCreditCode, type CreditCodeValidation } from '../domain/uscc.js';

const USAGE = 'usage: pag uscc validate [--strict] CODE...';

// Codes come from the command line: quote anything but plain letters and digits so the line stays readable and safe.
function display(code: string): string {
  return /^[0-9A-Za-z]+$/.test(code) ? code : JSON.stringify(code);
}

function line(code: string, r: CreditCodeValidation): string {
  const head = `${display(code)} (${r.kind})`;
  if (!r.valid) return `INVALID ${head}: ${r.errors.join('; ')}`;
  if (r.warnings.length) return `WARN ${head}: ${r.warnings.join('; ')}`;
  return `OK ${head}`;
}

/**
 * Runs `pag uscc` with the words after `uscc` (args[0] must be `validate`); prints one line per code.
 * Default mode is lenient (existing codes); `--strict` applies new-code rules. `--` ends the options.
 * Returns 0 if every code is valid (warnings allowed), 1 if any is invalid, 2 on a usage error.
 */
export function usccValidateCommand(args: string[], out: (line: string) => void): number {
  const usage = (problem?: string): number => {
    if (problem) out(`pag uscc: ${problem}`);
    out(USAGE);
    return problem ? 2 : 0;
  };
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h') return usage();
  if (sub !== 'validate') return usage(sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`);

  let strict = false;
  const codes: string[] = [];
  let optionsEnded = false;
  for (const a of rest) {
    if (!optionsEnded && a === '--') optionsEnded = true;
    else if (!optionsEnded && a === '--strict') strict = true;
    else if (!optionsEnded && (a === '--help' || a === '-h')) return usage();
    else if (!optionsEnded && a.startsWith('-')) return usage(`unknown option ${JSON.stringify(a)}`);
    else codes.push(a);
  }
  if (codes.length === 0) return usage('no code given');

  let allValid = true;
  for (const code of codes) {
    const r = validateCreditCode(code, { mode: strict ? 'strict' : 'lenient' });
    if (!r.valid) allValid = false;
    out(line(code, r));
  }
  return allValid ? 0 : 1;
}
