// The error catalogue: every code documented in the README with its status, and messages filled from parameters.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERRORS, GatewayError } from '../../src/domain/errors.js';
import { ROOT } from '../../src/paths.js';

describe('error catalogue', function () {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const rows = new Map([...readme.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (yes|no) \|/gm)].map((m) => [m[1]!, { status: Number(m[2]), retryable: m[3] === 'yes' }]));

  it('is documented in the README, code by code, with the same status and retry advice', function () {
    expect([...rows.keys()].sort()).to.deep.equal(Object.keys(ERRORS).sort());
    for (const [code, spec] of Object.entries(ERRORS)) expect(rows.get(code), code).to.deep.equal({ status: spec.status, retryable: spec.retryable });
  });

  it('fills message templates and keeps parameters as details', function () {
    const e = new GatewayError('TRANSITION_NOT_ALLOWED', { action: 'accept', status: 'terminated' });
    expect(e.message).to.equal('Cannot accept a case that is terminated.');
    expect(e.status).to.equal(409);
    expect(e.toJSON()).to.deep.equal({ code: 'TRANSITION_NOT_ALLOWED', message: e.message, details: { action: 'accept', status: 'terminated' } });
  });
});
