// Simulated XML and SOAP departments that answer twice (the same signed message): the gateway applies the answer once.
import { expect } from 'chai';
import { SAMPLE_MAPPING, startSoapDepartment } from '../../adapters/soap/sim.js';
import { startXmlDepartment, type Answers, type DepartmentBehaviour, type GatewayAccess } from '../../adapters/xml/sim.js';
import { application, client, freshStore, login, startGateway, STORES, writeConfig } from '../support/harness.js';

type Start = (access: GatewayAccess, b: DepartmentBehaviour) => Promise<{ answers: Answers; close(): Promise<void>; adapter: Record<string, unknown> }>;

const KINDS: Record<string, Start> = {
  xml: async (access, b) => {
    const d = await startXmlDepartment(access, b);
    return { answers: d.answers, close: d.close, adapter: { kind: 'xml', options: { url: d.url, timeoutMs: 2000 } } };
  },
  soap: async (access, b) => {
    const d = await startSoapDepartment(access, b);
    return { answers: d.answers, close: d.close, adapter: { kind: 'soap', options: { wsdl: d.wsdl, endpoint: d.endpoint, ...SAMPLE_MAPPING, timeoutMs: 2000 } } };
  },
};

for (const kind of STORES) {
  for (const [channel, start] of Object.entries(KINDS)) {
    describe(`a ${channel} department answering twice (${kind})`, function () {
      it('sends the same signed answer twice; the second is a duplicate and the review is approved once', async function () {
        const store = await freshStore(kind, `twice_${channel}`);
        const access: GatewayAccess = { base: '', departmentId: 'xw-culture' };
        const dep = await start(access, { answer: { decision: 'approve' }, twice: true });
        const file = writeConfig(store.dir, 'twice.json', (cfg) => {
          cfg.adapters.culture = { ...dep.adapter, retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 5000 } };
          cfg.departments.find((d: any) => d.id === 'xw-culture').adapter = 'culture';
        });
        const run = await startGateway(store.db(), { configFile: file }, { dispatch: false });
        try {
          access.base = run.base;
          const reviewer = await login(run.base, 'reviewer-xw-culture');
          access.token = async () => reviewer;
          const sec = client(run.base, await login(run.base, 'secretary'));
          const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
          expect((await sec.post(`/api/cases/${c.id}/accept`)).status).to.equal(200);
          await run.gw.dispatcher.runOnce();
          await dep.answers.idle();
          const sent = dep.answers.sent.filter((s) => typeof s.msg !== 'string' && s.msg.kind === 'opinion');
          expect(sent).to.have.length(2);
          expect((sent[0]!.msg as { messageId: string }).messageId).to.equal((sent[1]!.msg as { messageId: string }).messageId);
          expect(sent[0]!.result).to.deep.include({ ok: true, duplicate: false });
          expect(sent[1]!.result).to.deep.include({ ok: true, duplicate: true });
          const view = (await sec.get(`/api/cases/${c.id}`)).body;
          expect(view.reviews[0].state).to.equal('approved');
          expect(view.timeline.filter((e: any) => e.action === 'review.approved')).to.have.length(1);
        } finally {
          await run.stop();
          await dep.close().catch(() => undefined);
          await store.cleanup();
        }
      });
    });
  }
}
