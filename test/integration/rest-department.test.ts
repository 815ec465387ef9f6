// The simulated REST department: a real webhook that answers through the REST API as configured (approve, refuse, extend, silent, fail a while, twice).
import { expect } from 'chai';
import { startRestDepartment } from '../../adapters/rest/sim.js';
import { application, client, freshStore, login, startGateway, STORES, writeConfig } from '../support/harness.js';

for (const kind of STORES) {
  describe(`simulated REST department (${kind})`, function () {
    this.timeout(30_000);

    it('answers as configured through the REST API, and its webhook fails for a while when told to', async function () {
      const store = await freshStore(kind, 'rest_department');
      const file = writeConfig(store.dir, 'rest-department.json', (cfg) => {
        cfg.adapters.culture = { kind: 'rest', options: { url: 'http://127.0.0.1:1/unused', timeoutMs: 5000 }, retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 } };
        cfg.departments.find((d: any) => d.id === 'xw-culture').adapter = 'culture';
      });
      const run = await startGateway(store.db(), { configFile: file }, { dispatch: false });
      const { gw } = run;
      const dep = await startRestDepartment({ base: run.base, departmentId: 'xw-culture', token: () => login(run.base, 'reviewer-xw-culture') });
      try {
        await gw.putAdapter('culture', { kind: 'rest', options: { url: dep.url, timeoutMs: 5000 }, retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 } }, { kind: 'user', id: 'admin', role: 'admin' });
        const sec = client(run.base, await login(run.base, 'secretary'));
        await client(run.base, await login(run.base, 'admin')).put('/api/admin/clock', { now: '2025-09-26T02:00:00Z' });
        const flow = async (behaviour: typeof dep.behaviour) => {
          dep.behaviour = behaviour;
          const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
          expect((await sec.post(`/api/cases/${c.id}/accept`)).status).to.equal(200);
          for (let i = 0; i < 10; i++) {
            await gw.dispatcher.runOnce();
            await gw.db.run(`UPDATE outbox SET next_attempt_at = 0 WHERE state = 'waiting_retry'`);
          }
          await dep.answers.idle();
          return (await sec.get(`/api/cases/${c.id}`)).body;
        };

        const approved = await flow({ answer: { decision: 'approve' } });
        expect(approved.status).to.equal('awaiting_licence');
        expect(approved.reviews[0]).to.include({ state: 'approved', decision: 'approve' });
        expect(dep.received.at(-1)!.body).to.include({ kind: 'notification', caseId: approved.id, receiver: 'xw-culture' });

        const refused = await flow({ answer: { decision: 'refuse', reasons: '经营场所不符合要求' } });
        expect(refused.status).to.equal('terminated');
        expect(refused.reviews[0]).to.include({ state: 'refused', reasons: '经营场所不符合要求' });

        const extended = await flow({ answer: { decision: 'extend', reasons: '需上报市文化局' } });
        expect(extended.reviews[0].state).to.equal('extended');

        const silent = await flow({ answer: 'silent' });
        expect(silent.reviews[0].state).to.equal('delivered');

        // Two server errors, then the notification is taken and answered once.
        const flaky = await flow({ failTimes: 2, answer: { decision: 'approve' } });
        expect(flaky.reviews[0].state).to.equal('approved');
        expect((await gw.db.get<any>('SELECT attempts, state FROM outbox WHERE case_id = $1', [flaky.id]))).to.deep.include({ state: 'delivered', attempts: 3 });

        // The same answer twice (same message id): one decision.
        const posted = dep.posts;
        const twice = await flow({ twice: true, answer: { decision: 'approve' } });
        expect(dep.posts - posted).to.equal(2);
        expect(twice.timeline.filter((e: any) => e.action === 'review.approved')).to.have.length(1);
        expect(dep.answers.sent.at(-1)!.result).to.include({ ok: true, caseStatus: 'awaiting_licence' });
      } finally {
        await dep.close();
        await run.stop();
        await store.cleanup();
      }
    });
  });
}
