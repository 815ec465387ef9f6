// Unit tests of remembered token verifications: a token verified once still expires, and callers cannot alter what is remembered.
import { expect } from 'chai';
import { GatewayError } from '../../src/domain/errors.js';
import { TokenService, type Principal } from '../../src/trust/tokens.js';

const ALICE: Principal = { sub: 'u-1', username: 'alice', role: 'reviewer', departmentId: 'market', amr: ['pwd', 'otp'] };

describe('trust/tokens: remembered verifications', () => {
  const RealDate = Date;
  /** Moves the clock every reader sees (Date.now() and new Date()) forward by `ms`. */
  const advance = (ms: number) => {
    class Later extends RealDate {
      constructor(...args: unknown[]) {
        if (args.length === 0) super(RealDate.now() + ms);
        else super(...(args as [number]));
      }
      static override now() {
        return RealDate.now() + ms;
      }
    }
    globalThis.Date = Later as DateConstructor;
  };
  afterEach(() => {
    globalThis.Date = RealDate;
  });

  it('refuses a token verified before once it has expired', async () => {
    const svc = await TokenService.create({ issuer: 'pag-test', audience: 'pag-api', ttlSeconds: 60 });
    const t = await svc.issue(ALICE);
    expect(await svc.verify(t)).to.deep.equal(ALICE);
    expect(await svc.verify(t)).to.deep.equal(ALICE);
    advance(61_000);
    try {
      await svc.verify(t);
      expect.fail('expected UNAUTHENTICATED');
    } catch (e) {
      expect(e).to.be.instanceOf(GatewayError);
      expect((e as GatewayError).code).to.equal('UNAUTHENTICATED');
    }
  });

  it('hands out copies: changing a returned principal changes no later answer', async () => {
    const svc = await TokenService.create({ issuer: 'pag-test', audience: 'pag-api', ttlSeconds: 60 });
    const t = await svc.issue(ALICE);
    const first = await svc.verify(t);
    first.role = 'admin';
    first.amr.push('forged');
    expect(await svc.verify(t)).to.deep.equal(ALICE);
  });
});
