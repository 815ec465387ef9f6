// Unified social credit codes (GB 32100-2015), their embedded GB 11714 organisation codes and old 15-digit registration numbers (GB/T 17710): pure validation and composition.
import { GatewayError } from './errors.js';

/** The 31 characters of a unified social credit code, in value order 0..30 (no I, O, S, V, Z). */
export const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** Length of the GB 11714 organisation-code body (without its check character). */
export const ORG_BODY_LENGTH = 8;

// W_i = 3^(i-1) mod 31 for i = 1..17 (GB 32100-2015, 5.2).
const USCC_WEIGHTS: readonly number[] = Array.from({ length: 17 }, (_, i) => {
  let w = 1;
  for (let k = 0; k < i; k++) w = (w * 3) % 31;
  return w;
});
const ORG_WEIGHTS: readonly number[] = [3, 7, 9, 10, 5, 8, 4, 2];
const RADIX = USCC_ALPHABET.length;

/** Strict applies new-code rules; lenient accepts known irregularities of early codes as warnings. */
export type ValidationMode = 'strict' | 'lenient';

/** Options of validateCreditCode. */
export interface ValidateOptions {
  mode: ValidationMode;
}

/** The fields of an 18-character unified social credit code. */
export interface UsccParts {
  /** Position 1: registration management department (9 = market regulation). */
  department: string;
  /** Position 2: organisation category within the department (for 9: 1 enterprise, 2 individual business, 3 farmers' cooperative). */
  category: string;
  /** Positions 3-8: administrative division code of the registration authority. */
  division: string;
  /** Positions 9-17: the GB 11714 organisation code (body + check). */
  orgCode: string;
  orgBody: string;
  orgCheck: string;
  /** Position 18: the GB 32100 check character. */
  check: string;
}

/** The fields of an old 15-digit business registration number. */
export interface RegistrationNumberParts {
  /** Digits 1-6: administrative division code of the registration authority. */
  authority: string;
  /** Digits 7-14: sequence number. */
  serial: string;
  /** Digit 15: ISO 7064 MOD 11,10 check digit. */
  check: string;
}

/** Common fields of a validation result; `normalized` is the code as checked (lenient mode upper-cases ASCII letters). */
interface ValidationBase {
  valid: boolean;
  errors: string[];
  warnings: string[];
  normalized: string;
}

/** Result for an 18-character code (also for any input whose length is not 15); parts are present when length and charset hold. */
export interface UsccValidation extends ValidationBase {
  kind: 'uscc';
  parts?: UsccParts;
}

/** Result for a 15-character input, taken as an old registration number; parts are present when it is 15 digits. */
export interface RegistrationNumberValidation extends ValidationBase {
  kind: 'registration-number';
  parts?: RegistrationNumberParts;
}

/** Outcome of validateCreditCode: errors make it invalid, warnings do not. */
export type CreditCodeValidation = UsccValidation | RegistrationNumberValidation;

function invalid(reason: string): never {
  throw new GatewayError('INVALID_CREDIT_CODE', { reason });
}

// Shows a character unambiguously in a message (spaces, control and look-alike characters).
function show(ch: string): string {
  return JSON.stringify(ch);
}

/** GB 32100 check character (position 18) of the first 17 characters, which must be upper case over USCC_ALPHABET. */
export function uscc18Check(first17: string): string {
  if (first17.length !== 17) invalid(`the check character needs 17 characters, got ${first17.length}`);
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = USCC_ALPHABET.indexOf(first17[i]!);
    if (v < 0) invalid(`position ${i + 1}: ${show(first17[i]!)} is not a credit-code character`);
    sum += v * USCC_WEIGHTS[i]!;
  }
  return USCC_ALPHABET[(31 - (sum % 31)) % 31]!;
}

/** GB 11714 check character of an 8-character organisation-code body over 0-9 and A-Z (A = 10 .. Z = 35): '0'-'9' or 'X'. */
export function orgCodeCheck(body8: string): string {
  if (!/^[0-9A-Z]{8}$/.test(body8)) invalid(`an organisation-code body is 8 characters over 0-9 and A-Z, got ${JSON.stringify(body8)}`);
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += parseInt(body8[i]!, 36) * ORG_WEIGHTS[i]!;
  const c = 11 - (sum % 11);
  return c === 10 ? 'X' : c === 11 ? '0' : String(c);
}

/** ISO 7064 MOD 11,10 check digit appended to a non-empty digit string (GB/T 17710, used by 15-digit registration numbers). */
export function iso7064Mod1110Check(digits: string): string {
  if (!/^[0-9]+$/.test(digits)) invalid(`ISO 7064 MOD 11,10 needs a non-empty string of digits, got ${JSON.stringify(digits)}`);
  let p = 10;
  for (const ch of digits) {
    const s = (p + Number(ch)) % 10 || 10;
    p = (s * 2) % 11;
  }
  // The check digit c makes (p + c) mod 10 == 1; p is never 0 here.
  return String((11 - p) % 10);
}

/** True when n is exactly 15 ASCII digits whose last digit is the ISO 7064 MOD 11,10 check of the first 14. */
export function isValidRegistrationNumber(n: string): boolean {
  return typeof n === 'string' && /^[0-9]{15}$/.test(n) && iso7064Mod1110Check(n.slice(0, 14)) === n[14];
}

/**
 * Validates an 18-character unified social credit code or an old 15-digit registration number.
 * The default mode is strict (new-code rules); lenient turns the embedded organisation-code check and
 * lower-case letters into warnings. Length, charset, the division digits and the 18th check always hold.
 * Nothing is trimmed: surrounding whitespace is a charset/length error.
 */
export function validateCreditCode(code: string, opts: ValidateOptions = { mode: 'strict' }): CreditCodeValidation {
  const lenient = opts.mode === 'lenient';
  if (typeof code !== 'string') {
    return { kind: 'uscc', valid: false, errors: ['the code is not a string'], warnings: [], normalized: '' };
  }
  if (code.length === 15) return validateRegistrationNumber(code);

  const errors: string[] = [];
  const warnings: string[] = [];
  const lower = [...code.matchAll(/[a-z]/g)].map((m) => m.index + 1);
  if (lower.length) {
    const msg = `lower-case letter${lower.length > 1 ? 's' : ''} at position${lower.length > 1 ? 's' : ''} ${lower.join(', ')}`;
    if (lenient) warnings.push(`${msg}; read as upper case`);
    else errors.push(`${msg}; codes are upper case`);
  }
  // Only ASCII letters are folded: String#toUpperCase could change the length of other characters.
  const norm = code.replace(/[a-z]/g, (c) => c.toUpperCase());
  if (norm.length !== 18) {
    errors.push(`a credit code has 18 characters (or 15 digits for an old registration number), got ${norm.length}`);
  }
  for (let i = 0; i < norm.length; i++) {
    const ch = norm[i]!;
    // Checked after folding, so a lower-case letter lands here only if its upper case is not allowed either.
    if (!USCC_ALPHABET.includes(ch)) {
      errors.push(`position ${i + 1}: ${show(ch)} is not a credit-code character (0-9 and A-Z without I, O, S, V, Z)`);
    }
  }
  if (norm.length !== 18 || !charsetOk(norm)) {
    return { kind: 'uscc', valid: false, errors, warnings, normalized: norm };
  }

  const parts: UsccParts = {
    department: norm[0]!,
    category: norm[1]!,
    division: norm.slice(2, 8),
    orgCode: norm.slice(8, 17),
    orgBody: norm.slice(8, 16),
    orgCheck: norm[16]!,
    check: norm[17]!,
  };
  if (!/^[0-9]{6}$/.test(parts.division)) {
    errors.push(`positions 3-8 hold an administrative division code of 6 digits, got ${parts.division}`);
  }
  const expectedOrg = orgCodeCheck(parts.orgBody);
  if (parts.orgCheck !== expectedOrg) {
    const msg = `organisation-code check character (position 17) is ${parts.orgCheck}, GB 11714 gives ${expectedOrg}`;
    // Some early codes carry a wrong organisation-code check while their 18th character is right.
    if (lenient) warnings.push(`${msg} (legacy irregularity)`);
    else errors.push(msg);
  }
  const expected18 = uscc18Check(norm.slice(0, 17));
  if (parts.check !== expected18) {
    errors.push(`check character (position 18) is ${parts.check}, expected ${expected18}`);
  }
  return { kind: 'uscc', valid: errors.length === 0, errors, warnings, normalized: norm, parts };
}

function charsetOk(s: string): boolean {
  for (const ch of s) if (!USCC_ALPHABET.includes(ch)) return false;
  return true;
}

function validateRegistrationNumber(code: string): RegistrationNumberValidation {
  const errors: string[] = [];
  for (let i = 0; i < code.length; i++) {
    const ch = code[i]!;
    if (ch < '0' || ch > '9') errors.push(`position ${i + 1}: ${show(ch)} is not a digit; a 15-character registration number is digits only`);
  }
  if (errors.length) return { kind: 'registration-number', valid: false, errors, warnings: [], normalized: code };
  const parts: RegistrationNumberParts = { authority: code.slice(0, 6), serial: code.slice(6, 14), check: code[14]! };
  const expected = iso7064Mod1110Check(code.slice(0, 14));
  if (parts.check !== expected) errors.push(`check digit (position 15) is ${parts.check}, expected ${expected}`);
  return { kind: 'registration-number', valid: errors.length === 0, errors, warnings: [], normalized: code, parts };
}

/** A reserved range of serials from which one registration authority issues credit codes. */
export interface CreditCodeBlock {
  /** 6-digit administrative division code of the registration authority (positions 3-8). */
  authority: string;
  /** Registration management department code, 1 character (position 1). */
  department: string;
  /** Organisation category code, 1 character (position 2). */
  category: string;
  /** Name of the block, unique per authority. */
  block: string;
  /** Fixed leading characters of the 8-character organisation body, e.g. 'MA'; the serial fills the rest. */
  orgPrefix: string;
  /** First serial of the range (inclusive). */
  first: number;
  /** Last serial of the range (inclusive). */
  last: number;
}

function badBlock(block: CreditCodeBlock, reason: string): never {
  throw new GatewayError('CREDIT_CODE_BLOCK_INVALID', { authority: block?.authority, block: block?.block, reason });
}

// Everything about a block except whether its last serial fits the width; composeCreditCode reports that as exhaustion.
function checkBlockShape(b: CreditCodeBlock): void {
  if (typeof b !== 'object' || b === null) badBlock(b, 'not an object');
  if (typeof b.block !== 'string' || b.block === '') badBlock(b, 'block needs a name');
  if (typeof b.authority !== 'string' || !/^[0-9]{6}$/.test(b.authority)) badBlock(b, 'authority must be a 6-digit division code');
  for (const f of ['department', 'category'] as const) {
    const v = b[f];
    if (typeof v !== 'string' || v.length !== 1 || !USCC_ALPHABET.includes(v)) badBlock(b, `${f} must be one character of ${USCC_ALPHABET}`);
  }
  if (typeof b.orgPrefix !== 'string' || b.orgPrefix.length >= ORG_BODY_LENGTH || !charsetOk(b.orgPrefix)) {
    badBlock(b, `orgPrefix must be at most ${ORG_BODY_LENGTH - 1} characters of ${USCC_ALPHABET}`);
  }
  if (!Number.isSafeInteger(b.first) || !Number.isSafeInteger(b.last) || b.first < 0 || b.first > b.last) {
    badBlock(b, `first..last must be integers with 0 <= first <= last, got ${b.first}..${b.last}`);
  }
}

/** Number of characters the serial occupies in the organisation body. */
export function serialWidth(block: CreditCodeBlock): number {
  return ORG_BODY_LENGTH - block.orgPrefix.length;
}

/** Exclusive upper bound of serials that fit the block's width: 31^width. */
export function serialLimit(block: CreditCodeBlock): number {
  return RADIX ** serialWidth(block);
}

/** Throws CREDIT_CODE_BLOCK_INVALID unless the block is well formed and every serial in first..last fits its width. */
export function validateBlock(block: CreditCodeBlock): void {
  checkBlockShape(block);
  const limit = serialLimit(block);
  if (block.last >= limit) {
    badBlock(block, `serials up to ${block.last} do not fit the ${serialWidth(block)} character(s) left after orgPrefix '${block.orgPrefix}' (largest serial ${limit - 1})`);
  }
}

/** Number of codes the block issues (last - first + 1); throws like validateBlock for a block that cannot issue them all. */
export function blockCapacity(block: CreditCodeBlock): number {
  validateBlock(block);
  return block.last - block.first + 1;
}

/**
 * Builds the credit code for one serial of a block: organisation body = orgPrefix + serial in base 31 over
 * USCC_ALPHABET (which is also within GB 11714), left-padded with '0'; then both check characters.
 * Throws CREDIT_CODE_BLOCK_EXHAUSTED when the serial is past `last` or does not fit the width; never wraps or truncates.
 */
export function composeCreditCode(block: CreditCodeBlock, serial: number): string {
  checkBlockShape(block);
  if (!Number.isSafeInteger(serial) || serial < block.first) {
    throw new RangeError(`serial ${serial} is not an integer in block ${block.block} (starts at ${block.first})`);
  }
  const width = serialWidth(block);
  if (serial > block.last || serial >= serialLimit(block)) {
    throw new GatewayError(
      'CREDIT_CODE_BLOCK_EXHAUSTED',
      { authority: block.authority, block: block.block },
      { serial, last: block.last, width },
    );
  }
  let digits = '';
  for (let n = serial; n > 0; n = Math.floor(n / RADIX)) digits = USCC_ALPHABET[n % RADIX]! + digits;
  const body = block.orgPrefix + digits.padStart(width, '0');
  const first17 = block.department + block.category + block.authority + body + orgCodeCheck(body);
  return first17 + uscc18Check(first17);
}
