// Hosted departments: a reviewer's plain answer (the console's) is signed by the gateway with the department's own key
// and passes every check a signed message passes; departments with systems of their own must sign themselves.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { KeyRegistry } from '../../src/trust/keys.js';
import { client, deliveredCase, freshStore, login, startGateway, STORES, writeConfig, type Client, type Running } from '../support/harness.js';
import { certsCopy } from '../support/signing.js';

for (const kind of STORES) {
  describe(`hosted departments (${kind})`, function () {
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let certs = '';
    let sec: Client;
    const reviewer: Record<string, Client> = {};

    before(async function () {
      store = await freshStore(kind, 'hosted');
      certs = certsCopy(store.dir);
      // The default configuration hosts every department; here xw-fire has a system of its own.
      const configFile = writeConfig(store.dir, 'config.json', (cfg) => (cfg.departments.find((d: any) => d.id === 'xw-fire').hosted = false));
      run = await startGateway(store.db(), { configFile, certsDir: certs });
      sec = client(run.base, await login(run.base, 'secretary'));
      for (const d of ['xw-health', 'xw-fire', 'xw-environment']) reviewer[d] = client(run.base, await login(run.base, `reviewer-${d}`));
    });
    after(async function () {
      await run?.stop();
      await store?.cleanup();
    });

    const state = async (caseId: string, dep: string) => (await run.gw.cases.get(caseId)).reviews.find((r) => r.departmentId === dep)!.state;

    it("signs a hosted department's plain answer with its key: accepted once, a retry is a duplicate, other content under the id a replay", async function () {
      const id = await deliveredCase(run, sec);
      const messageId = randomUUID();
      const answer = { decision: 'approve', reasons: '符合条件', messageId };
      const first = await reviewer['xw-health']!.post(`/api/cases/${id}/reviews/xw-health/opinion`, answer);
      expect(first.status, JSON.stringify(first.body)).to.equal(200);
      expect(await state(id, 'xw-health')).to.equal('approved');
      // Claimed like any signed message: the message id is in the inbox with the answer's content hash.
      const claimed = await run.gw.db.get<{ message_hash: string; sender: string }>('SELECT message_hash, sender FROM inbox_hashes WHERE message_id = $1', [messageId]);
      expect(claimed).to.deep.include({ sender: 'xw-health' });
      expect(claimed!.message_hash).to.match(/^hosted:/);
      const events = async () => (await run.gw.db.all<{ action: string }>("SELECT action FROM events WHERE case_id = $1 AND action = 'review.approved'", [id])).length;
      expect(await events()).to.equal(1);

      const again = await reviewer['xw-health']!.post(`/api/cases/${id}/reviews/xw-health/opinion`, answer);
      expect(again.status, JSON.stringify(again.body)).to.equal(200);
      expect(await events()).to.equal(1);
      const other = await reviewer['xw-health']!.post(`/api/cases/${id}/reviews/xw-health/opinion`, { ...answer, decision: 'refuse' });
      expect(other.body.error.code).to.equal('MESSAGE_REPLAYED');
      expect(await state(id, 'xw-health')).to.equal('approved');
    });

    it('refuses a plain answer for a department with its own system, and for a hosted department by another reviewer', async function () {
      const id = await deliveredCase(run, sec);
      const own = await reviewer['xw-fire']!.post(`/api/cases/${id}/reviews/xw-fire/opinion`, { decision: 'approve' });
      expect([own.status, own.body.error.code]).to.deep.equal([401, 'MESSAGE_UNSIGNED']);
      // xw-fire's reviewer cannot make the gateway sign for hosted xw-health.
      const foreign = await reviewer['xw-fire']!.post(`/api/cases/${id}/reviews/xw-health/opinion`, { decision: 'approve' });
      expect(foreign.status).to.be.oneOf([401, 403]);
      expect(await state(id, 'xw-fire')).to.equal('delivered');
      expect(await state(id, 'xw-health')).to.equal('delivered');
    });

    it("uses the department's current key: once it is revoked, the hosted department's answers are refused until a new one is made", async function () {
      const id = await deliveredCase(run, sec);
      const keys = new KeyRegistry(certs, false);
      for (const k of keys.list('xw-environment')) if (k.status !== 'revoked') keys.revoke(k.kid);
      run.gw.keys.refresh();
      const refused = await reviewer['xw-environment']!.post(`/api/cases/${id}/reviews/xw-environment/opinion`, { decision: 'approve' });
      expect(refused.body.error.code).to.equal('KEY_NOT_VALID');
      expect(await state(id, 'xw-environment')).to.equal('delivered');
      keys.generate('xw-environment', 'EdDSA', { demo: true });
      run.gw.keys.refresh();
      const ok = await reviewer['xw-environment']!.post(`/api/cases/${id}/reviews/xw-environment/opinion`, { decision: 'approve' });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
    });
  });
}
