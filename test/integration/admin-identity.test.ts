// Users and keys managed over the API: a user added by an administrator logs in with the secret shown once; the
// gateway's and hosted departments' keys rotate and revoke with step-up, all audited.
import { expect } from 'chai';
import { currentTotp } from '../../src/trust/totp.js';
import { client, freshStore, login, startGateway, STORES, writeConfig, type Client, type Running } from '../support/harness.js';
import { certsCopy } from '../support/signing.js';

for (const kind of STORES) {
  describe(`users and keys over the API (${kind})`, function () {
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let admin: Client;
    let sup: Client;

    before(async function () {
      store = await freshStore(kind, 'identity');
      const configFile = writeConfig(store.dir, 'config.json', (cfg) => (cfg.departments.find((d: any) => d.id === 'xw-fire').hosted = false));
      run = await startGateway(store.db(), { certsDir: certsCopy(store.dir), configFile });
      admin = client(run.base, await login(run.base, 'admin'));
      sup = client(run.base, await login(run.base, 'supervisor'));
    });
    after(async function () {
      await run?.stop();
      await store?.cleanup();
    });
    const audited = async (action: string) => (await run.gw.db.all<{ data: string }>('SELECT data FROM events WHERE action = $1', [action])).map((r) => JSON.parse(r.data));

    it('adds a user who then logs in with password and the one-time codes of the secret shown once', async function () {
      const added = await admin.post('/api/admin/users', { username: 'clerk-wang', password: 'a-long-password', role: 'secretary' });
      expect(added.status, JSON.stringify(added.body)).to.equal(201);
      expect(added.body.user).to.include({ username: 'clerk-wang', role: 'secretary' });
      const secret = new URL(added.body.otpauth).searchParams.get('secret')!;
      const res = await fetch(`${run.base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'clerk-wang', password: 'a-long-password', otp: currentTotp(secret, Date.now()) }) });
      expect(res.status).to.equal(200);
      const list = await sup.get('/api/admin/users');
      expect(list.body.users.map((u: any) => u.username)).to.include('clerk-wang');
      expect(JSON.stringify(list.body)).to.not.include(secret);
      expect(await audited('user.added')).to.deep.include({ username: 'clerk-wang', role: 'secretary', departmentId: null });
      // Field-named refusals, and nothing added twice.
      const again = await admin.post('/api/admin/users', { username: 'clerk-wang', password: 'a-long-password', role: 'secretary' });
      expect([again.status, again.body.error.code]).to.deep.equal([409, 'USER_EXISTS']);
      const noDept = await admin.post('/api/admin/users', { username: 'rev-x', password: 'a-long-password', role: 'reviewer', departmentId: 'no-such-dept' });
      expect(noDept.body.error.code).to.equal('UNKNOWN_DEPARTMENT');
      const short = await admin.post('/api/admin/users', { username: 'rev-y', password: 'short', role: 'secretary' });
      expect([short.status, short.body.error.code]).to.deep.equal([422, 'VALIDATION_FAILED']);
    });

    it("rotates the gateway's key (old one retiring, new one signing), refuses a department's it does not hold, revokes at once", async function () {
      const before = (await sup.get('/api/admin/keys')).body.keys as any[];
      expect(before.every((k) => !('privateKey' in k) && !('publicKey' in k))).to.equal(true);
      const oldEd = before.find((k) => k.owner === 'gateway' && k.alg === 'EdDSA' && k.status === 'active');
      const rotated = await admin.post('/api/admin/keys/gateway/rotate', { alg: 'EdDSA', overlapDays: 2 });
      expect(rotated.status, JSON.stringify(rotated.body)).to.equal(200);
      expect(rotated.body.added).to.include({ owner: 'gateway', alg: 'EdDSA', status: 'active', signsHere: true });
      if (oldEd) expect(rotated.body.retiring.map((k: any) => k.kid)).to.include(oldEd.kid);
      expect(run.gw.keys.signingKey('gateway', Date.now(), 'EdDSA').entry.kid).to.equal(rotated.body.added.kid);

      const notHeld = await admin.post('/api/admin/keys/xw-fire/rotate', {});
      expect([notHeld.status, notHeld.body.error.code]).to.deep.equal([409, 'KEY_NOT_HELD']);
      const hosted = await admin.post('/api/admin/keys/xw-health/rotate', {});
      expect(hosted.status, JSON.stringify(hosted.body)).to.equal(200);

      const revoked = await admin.post(`/api/admin/keys/${encodeURIComponent(hosted.body.added.kid)}/revoke`);
      expect(revoked.body).to.include({ status: 'revoked' });
      expect(run.gw.keys.verificationKey(hosted.body.added.kid, 'xw-health', hosted.body.added.alg)).to.deep.equal({ refusal: 'key revoked' });
      expect((await audited('key.rotated')).map((d) => d.owner)).to.deep.equal(['gateway', 'xw-health']);
      expect((await audited('key.revoked')).map((d) => d.kid)).to.deep.equal([hosted.body.added.kid]);
      const unknown = await admin.post('/api/admin/keys/no-such-kid/revoke');
      expect([unknown.status, unknown.body.error.code]).to.deep.equal([404, 'NOT_FOUND']);
    });
  });
}
