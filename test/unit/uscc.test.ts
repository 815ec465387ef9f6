// Unit tests of unified social credit codes, registration numbers, code composition and `pag uscc validate`.
import { expect } from 'chai';
import fc from 'fast-check';
import { GatewayError } from '../../src/domain/errors.js';
import {
  USCC_ALPHABET,
  blockCapacity,
  composeCreditCode,
  iso7064Mod1110Check,
  isValidRegistrationNumber,
  orgCodeCheck,
  serialLimit,
  uscc18Check,
  validateBlock,
  validateCreditCode,
  type CreditCodeBlock,
} from '../../src/domain/uscc.js';
import { usccValidateCommand } from '../../src/cli/uscc.js';

// Widely published sample, checked by hand:
// org body M000100Y: M=22*3 + 1*5 + Y=34*2 = 139; 139 mod 11 = 7; 11-7 = 4.
// 18th: weights 1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28 over 9,1,3,5,0,1,0,0,M=21,0,0,0,1,0,0,Y=30,4
// sum = 9+3+27+135+26+420+8+900+112 = 1640; 1640 mod 31 = 28; 31-28 = 3.
const SAMPLE = '91350100M000100Y43';
// Same code with a wrong organisation-code check '5' at position 17 and a matching 18th:
// 1640 - 4*28 + 5*28 = 1668; 1668 mod 31 = 25; 31-25 = 6.
const LEGACY_WRONG_ORG_CHECK = '91350100M000100Y56';
// A letter other than X at position 17 (never a GB 11714 check): 1640 - 112 + A=10*28 = 1808; mod 31 = 10; 31-10 = 21 = M.
const LEGACY_LETTER_ORG_CHECK = '91350100M000100YAM';
// Registration number 11010800000001 + check, traced by hand with p = 10, s = (p+d) mod 10 (0 -> 10), p = 2s mod 11:
// p: 2,6,1,4,8,1,2,4,8,5,10,9,7,5; (5 + c) mod 10 = 1 -> c = 6.
const REG_NUMBER = '110108000000016';

// Independent reference of the GB 32100 check for cross-checking (weights from the closed form 3^(i-1) mod 31).
function ref18(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_ALPHABET.indexOf(first17[i]!) * (3 ** i % 31);
  return USCC_ALPHABET[(31 - (sum % 31)) % 31]!;
}

const uscc = (n: number) => fc.string({ unit: fc.constantFrom(...USCC_ALPHABET), minLength: n, maxLength: n });
const digits = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });

// A random code that is valid under strict rules.
const validCode = fc
  .tuple(uscc(1), uscc(1), digits(6), uscc(8))
  .map(([d, c, div, body]) => {
    const f = d + c + div + body + orgCodeCheck(body);
    return f + ref18(f);
  });

function gatewayError(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(GatewayError);
    return e as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

describe('uscc: check characters', () => {
  it('computes the hand-checked sample', () => {
    expect(orgCodeCheck('M000100Y')).to.equal('4');
    expect(uscc18Check(SAMPLE.slice(0, 17))).to.equal('3');
  });

  it('maps GB 11714 remainders 10 and 11 to X and 0', () => {
    // D2143569: 13*3+2*7+1*9+4*10+3*5+5*8+6*4+9*2 = 199; 199 mod 11 = 1; 11-1 = 10 -> X.
    expect(orgCodeCheck('D2143569')).to.equal('X');
    expect(orgCodeCheck('00000006')).to.equal('X'); // 6*2 = 12, mod 11 = 1
    expect(orgCodeCheck('00000000')).to.equal('0'); // 11 - 0 = 11 -> 0
  });

  it('agrees with an independent reference on random input', () => {
    fc.assert(fc.property(uscc(17), (s) => uscc18Check(s) === ref18(s)), { numRuns: 500 });
  });

  it('rejects malformed helper input with INVALID_CREDIT_CODE', () => {
    expect(gatewayError(() => uscc18Check('9135')).code).to.equal('INVALID_CREDIT_CODE');
    expect(gatewayError(() => uscc18Check('91350100M000100I4')).code).to.equal('INVALID_CREDIT_CODE');
    expect(gatewayError(() => orgCodeCheck('m000100Y')).code).to.equal('INVALID_CREDIT_CODE');
    expect(gatewayError(() => iso7064Mod1110Check('')).code).to.equal('INVALID_CREDIT_CODE');
    expect(gatewayError(() => iso7064Mod1110Check('12a')).code).to.equal('INVALID_CREDIT_CODE');
  });
});

describe('uscc: validateCreditCode (18 characters)', () => {
  it('accepts the sample in both modes and splits it into parts', () => {
    for (const mode of ['strict', 'lenient'] as const) {
      const r = validateCreditCode(SAMPLE, { mode });
      expect(r).to.deep.include({ valid: true, kind: 'uscc', errors: [], warnings: [], normalized: SAMPLE });
      expect(r.parts).to.deep.equal({
        department: '9', category: '1', division: '350100',
        orgCode: 'M000100Y4', orgBody: 'M000100Y', orgCheck: '4', check: '3',
      });
    }
  });

  it('defaults to strict mode', () => {
    expect(validateCreditCode(LEGACY_WRONG_ORG_CHECK).valid).to.equal(false);
    expect(validateCreditCode(SAMPLE.toLowerCase()).valid).to.equal(false);
  });

  it('detects every single-character substitution of the sample', () => {
    for (let i = 0; i < 18; i++) {
      for (const ch of USCC_ALPHABET) {
        if (ch === SAMPLE[i]) continue;
        const m = SAMPLE.slice(0, i) + ch + SAMPLE.slice(i + 1);
        expect(validateCreditCode(m, { mode: 'strict' }).valid, m).to.equal(false);
        expect(validateCreditCode(m, { mode: 'lenient' }).valid, m).to.equal(false);
      }
    }
  });

  it('property: any single-character substitution of a valid code is invalid', () => {
    const other = fc.oneof(fc.constantFrom(...USCC_ALPHABET), fc.constantFrom(...'IOSVZ ioszv-_\u00a0\u0130'), fc.string({ minLength: 1, maxLength: 1 }));
    fc.assert(
      fc.property(validCode, fc.integer({ min: 0, max: 17 }), other, (code, i, ch) => {
        fc.pre(ch !== code[i] && ch.toUpperCase() !== code[i]);
        const m = code.slice(0, i) + ch + code.slice(i + 1);
        return !validateCreditCode(m, { mode: 'strict' }).valid && !validateCreditCode(m, { mode: 'lenient' }).valid;
      }),
      { numRuns: 1000 },
    );
  });

  it('treats lower case as an error in strict mode and a warning in lenient mode', () => {
    const lower = '91350100m000100y43';
    const strict = validateCreditCode(lower, { mode: 'strict' });
    expect(strict.valid).to.equal(false);
    expect(strict.errors.join()).to.match(/lower-case letters at positions 9, 16/);
    const lenient = validateCreditCode(lower, { mode: 'lenient' });
    expect(lenient).to.deep.include({ valid: true, errors: [], normalized: SAMPLE });
    expect(lenient.warnings).to.have.length(1);
    expect(lenient.warnings[0]).to.match(/lower-case/);
  });

  it('trims nothing: whitespace is an error in both modes', () => {
    for (const code of [` ${SAMPLE}`, `${SAMPLE}\n`, `9135 0100M000100Y43`]) {
      for (const mode of ['strict', 'lenient'] as const) {
        const r = validateCreditCode(code, { mode });
        expect(r.valid, JSON.stringify(code)).to.equal(false);
        expect(r.parts).to.equal(undefined);
      }
    }
  });

  it('rejects I, O, S, V, Z, wrong lengths and non-strings', () => {
    for (const ch of 'IOSVZ') {
      const r = validateCreditCode(SAMPLE.slice(0, 8) + ch + SAMPLE.slice(9), { mode: 'lenient' });
      expect(r.valid).to.equal(false);
      expect(r.errors.join()).to.match(/position 9/);
    }
    for (const code of ['', SAMPLE.slice(0, 17), SAMPLE + '0', '9135']) {
      const r = validateCreditCode(code, { mode: 'lenient' });
      expect(r).to.deep.include({ valid: false, kind: 'uscc' });
      expect(r.errors.join()).to.match(/18 characters/);
    }
    expect(validateCreditCode(42 as unknown as string).valid).to.equal(false);
  });

  it('requires digits in the division code even with correct check characters', () => {
    const f = '91A20102MA000000' + orgCodeCheck('MA000000');
    const code = f + uscc18Check(f);
    const r = validateCreditCode(code, { mode: 'lenient' });
    expect(r.valid).to.equal(false);
    expect(r.errors.join()).to.match(/division/);
  });

  it('a wrong organisation-code check is a warning in lenient mode and an error in strict mode', () => {
    expect(uscc18Check(LEGACY_WRONG_ORG_CHECK.slice(0, 17))).to.equal('6');
    expect(uscc18Check(LEGACY_LETTER_ORG_CHECK.slice(0, 17))).to.equal('M');
    for (const code of [LEGACY_WRONG_ORG_CHECK, LEGACY_LETTER_ORG_CHECK]) {
      const lenient = validateCreditCode(code, { mode: 'lenient' });
      expect(lenient.valid, code).to.equal(true);
      expect(lenient.errors).to.deep.equal([]);
      expect(lenient.warnings.join()).to.match(/organisation-code check .* GB 11714 gives 4 \(legacy irregularity\)/);
      const strict = validateCreditCode(code, { mode: 'strict' });
      expect(strict.valid, code).to.equal(false);
      expect(strict.errors.join()).to.match(/organisation-code check/);
      expect(strict.warnings).to.deep.equal([]);
    }
  });

  it('a legacy code still needs a correct 18th character in lenient mode', () => {
    const r = validateCreditCode('91350100M000100Y57', { mode: 'lenient' });
    expect(r.valid).to.equal(false);
    expect(r.errors.join()).to.match(/position 18\) is 7, expected 6/);
  });
});

describe('uscc: 15-digit registration numbers', () => {
  it('computes the hand-traced ISO 7064 MOD 11,10 check', () => {
    expect(iso7064Mod1110Check(REG_NUMBER.slice(0, 14))).to.equal('6');
    expect(isValidRegistrationNumber(REG_NUMBER)).to.equal(true);
  });

  it('is validated by validateCreditCode in both modes', () => {
    for (const mode of ['strict', 'lenient'] as const) {
      const r = validateCreditCode(REG_NUMBER, { mode });
      expect(r).to.deep.include({ valid: true, kind: 'registration-number', errors: [], warnings: [] });
      expect(r.parts).to.deep.equal({ authority: '110108', serial: '00000001', check: '6' });
    }
  });

  it('detects every single-digit substitution', () => {
    for (let i = 0; i < 15; i++) {
      for (const d of '0123456789') {
        if (d === REG_NUMBER[i]) continue;
        const m = REG_NUMBER.slice(0, i) + d + REG_NUMBER.slice(i + 1);
        expect(isValidRegistrationNumber(m), m).to.equal(false);
        expect(validateCreditCode(m, { mode: 'lenient' }).valid, m).to.equal(false);
      }
    }
  });

  it('property: 14 random digits plus their check digit are valid', () => {
    fc.assert(fc.property(digits(14), (d) => isValidRegistrationNumber(d + iso7064Mod1110Check(d))), { numRuns: 300 });
  });

  it('rejects letters, other lengths and non-ASCII digits', () => {
    const r = validateCreditCode('11010800000001A', { mode: 'lenient' });
    expect(r).to.deep.include({ valid: false, kind: 'registration-number' });
    expect(r.errors.join()).to.match(/position 15/);
    expect(isValidRegistrationNumber(REG_NUMBER.slice(0, 14))).to.equal(false);
    expect(isValidRegistrationNumber('١١٠١٠٨٠٠٠٠٠٠٠١٦')).to.equal(false);
  });
});

describe('uscc: composing codes from a block', () => {
  const block: CreditCodeBlock = {
    authority: '320102', department: '9', category: '1', block: '2024-A', orgPrefix: 'MA', first: 0, last: 100_000,
  };

  it('builds the organisation body from prefix and base-31 serial', () => {
    // MA000000: M=22*3 + A=10*7 = 136; mod 11 = 4; 11-4 = 7.
    // 18th: 9+3+27+54+26+34 + M=21*20 + A=10*29 + 7*28 = 1059; mod 31 = 5; 31-5 = 26 = T.
    expect(composeCreditCode(block, 0)).to.equal('91320102MA0000007T');
    expect(composeCreditCode(block, 30).slice(8, 16)).to.equal('MA00000Y');
    expect(composeCreditCode(block, 31).slice(8, 16)).to.equal('MA000010');
    expect(composeCreditCode(block, 31 * 31 - 1).slice(8, 16)).to.equal('MA0000YY');
  });

  it('property: compose then validate strictly is valid and keeps block fields', () => {
    fc.assert(
      fc.property(fc.integer({ min: block.first, max: block.last }), (serial) => {
        const code = composeCreditCode(block, serial);
        const r = validateCreditCode(code, { mode: 'strict' });
        return r.valid && r.kind === 'uscc' && r.parts?.division === '320102' && code.startsWith('91320102MA');
      }),
      { numRuns: 500 },
    );
  });

  it('property: distinct serials give distinct codes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 }), (a, b) => {
        fc.pre(a !== b);
        return composeCreditCode(block, a) !== composeCreditCode(block, b);
      }),
    );
  });

  it('throws CREDIT_CODE_BLOCK_EXHAUSTED past the last serial', () => {
    expect(() => composeCreditCode(block, block.last)).not.to.throw();
    const e = gatewayError(() => composeCreditCode(block, block.last + 1));
    expect(e.code).to.equal('CREDIT_CODE_BLOCK_EXHAUSTED');
    expect(e.status).to.equal(503);
    expect(e.details).to.include({ authority: '320102', block: '2024-A' });
    expect(e.message).to.contain('2024-A').and.contain('320102');
  });

  it('throws CREDIT_CODE_BLOCK_EXHAUSTED instead of wrapping when the serial outgrows the width', () => {
    // One character left after the prefix: serials 0..30 only, although `last` claims more.
    const narrow: CreditCodeBlock = { ...block, block: 'narrow', orgPrefix: 'MA12345', first: 0, last: 40 };
    expect(composeCreditCode(narrow, 30).slice(8, 16)).to.equal('MA12345Y');
    const e = gatewayError(() => composeCreditCode(narrow, 31));
    expect(e.code).to.equal('CREDIT_CODE_BLOCK_EXHAUSTED');
    expect(e.details).to.include({ authority: '320102', block: 'narrow' });
    expect(gatewayError(() => validateBlock(narrow)).code).to.equal('CREDIT_CODE_BLOCK_INVALID');
    expect(gatewayError(() => blockCapacity(narrow)).code).to.equal('CREDIT_CODE_BLOCK_INVALID');
  });

  it('reports capacity and accepts a block that exactly fills its width', () => {
    expect(blockCapacity(block)).to.equal(100_001);
    const full: CreditCodeBlock = { ...block, first: 0, last: 31 ** 6 - 1 };
    expect(serialLimit(full)).to.equal(887_503_681);
    expect(() => validateBlock(full)).not.to.throw();
    expect(blockCapacity(full)).to.equal(887_503_681);
    expect(composeCreditCode(full, full.last).slice(8, 16)).to.equal('MAYYYYYY');
    expect(validateCreditCode(composeCreditCode(full, full.last), { mode: 'strict' }).valid).to.equal(true);
    expect(gatewayError(() => validateBlock({ ...full, last: 31 ** 6 })).message).to.match(/do not fit/);
  });

  it('rejects malformed blocks with CREDIT_CODE_BLOCK_INVALID', () => {
    const bad: Partial<CreditCodeBlock>[] = [
      { authority: '32010' }, { authority: '32O102' }, { department: 'I' }, { department: '91' },
      { category: '' }, { orgPrefix: 'MI' }, { orgPrefix: 'ma' }, { orgPrefix: 'MA000000' },
      { first: 5, last: 4 }, { first: -1 }, { last: 1.5 }, { block: '' },
    ];
    for (const b of bad) {
      expect(gatewayError(() => validateBlock({ ...block, ...b })).code, JSON.stringify(b)).to.equal('CREDIT_CODE_BLOCK_INVALID');
      expect(gatewayError(() => composeCreditCode({ ...block, ...b }, 5)).code).to.equal('CREDIT_CODE_BLOCK_INVALID');
    }
  });

  it('rejects serials below the block or not integers as caller errors', () => {
    const later = { ...block, first: 10 };
    expect(() => composeCreditCode(later, 9)).to.throw(RangeError);
    expect(() => composeCreditCode(later, 10.5)).to.throw(RangeError);
    expect(() => composeCreditCode(later, Number.NaN)).to.throw(RangeError);
  });
});

describe('uscc: pag uscc validate', () => {
  function run(...args: string[]): { code: number; lines: string[] } {
    const lines: string[] = [];
    const code = usccValidateCommand(args, (l) => lines.push(l));
    return { code, lines };
  }

  it('prints OK and exits 0 for valid codes of both kinds', () => {
    expect(run('validate', SAMPLE, REG_NUMBER)).to.deep.equal({
      code: 0,
      lines: [`OK ${SAMPLE} (uscc)`, `OK ${REG_NUMBER} (registration-number)`],
    });
  });

  it('is lenient by default: legacy irregularities and lower case give WARN and exit 0', () => {
    const r = run('validate', LEGACY_WRONG_ORG_CHECK, '91350100m000100y43');
    expect(r.code).to.equal(0);
    expect(r.lines).to.have.length(2);
    expect(r.lines[0]).to.match(/^WARN 91350100M000100Y56 \(uscc\): organisation-code check .*legacy irregularity/);
    expect(r.lines[1]).to.match(/^WARN 91350100m000100y43 \(uscc\): lower-case/);
  });

  it('--strict turns them into INVALID and exit 1', () => {
    const r = run('validate', '--strict', LEGACY_WRONG_ORG_CHECK, SAMPLE);
    expect(r.code).to.equal(1);
    expect(r.lines[0]).to.match(/^INVALID 91350100M000100Y56 \(uscc\): organisation-code check/);
    expect(r.lines[1]).to.equal(`OK ${SAMPLE} (uscc)`);
  });

  it('prints one line per code in order and exits 1 if any is invalid', () => {
    const r = run('validate', SAMPLE, '91350100M000100Y44', '110108000000017', ` ${SAMPLE}`);
    expect(r.code).to.equal(1);
    expect(r.lines).to.have.length(4);
    expect(r.lines[0]).to.equal(`OK ${SAMPLE} (uscc)`);
    expect(r.lines[1]).to.equal('INVALID 91350100M000100Y44 (uscc): check character (position 18) is 4, expected 3');
    expect(r.lines[2]).to.equal('INVALID 110108000000017 (registration-number): check digit (position 15) is 7, expected 6');
    expect(r.lines[3]).to.match(/^INVALID " 91350100M000100Y43" \(uscc\): /);
  });

  it('accepts -- before codes', () => {
    expect(run('validate', '--', SAMPLE).code).to.equal(0);
    expect(run('validate', '--strict', '--', '-x').code).to.equal(1);
  });

  it('exits 2 with usage on usage errors', () => {
    for (const args of [[], ['validate'], ['validate', '--strict'], ['check', SAMPLE], ['validate', '--bogus', SAMPLE]]) {
      const r = run(...args);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.lines.at(-1)).to.equal('usage: pag uscc validate [--strict] CODE...');
    }
  });

  it('prints usage and exits 0 for --help', () => {
    expect(run('--help')).to.deep.equal({ code: 0, lines: ['usage: pag uscc validate [--strict] CODE...'] });
    expect(run('validate', '-h').code).to.equal(0);
  });
});
