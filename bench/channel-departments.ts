// The channel benchmark's simulated departments, in a process of their own: their signing and parsing is the departments' work, not the gateway's.
import { AmqpDepartmentSim, demoReviewerToken } from '../adapters/amqp/sim.js';
import { startSoapDepartment, type SoapDepartment } from '../adapters/soap/sim.js';
import { KeyRegistry } from '../src/trust/keys.js';

/** What the benchmark asks of this process, over IPC; each request is answered once with its id. */
export type DepartmentsRequest =
  | { id: number; op: 'soap'; departments: string[] }
  | { id: number; op: 'amqp'; departments: string[]; url: string; prefix: string; base: string; certsDir: string }
  | { id: number; op: 'base'; base: string }
  | { id: number; op: 'answer'; caseId: string; departmentId: string }
  | { id: number; op: 'first-notification-bytes' }
  | { id: number; op: 'cpu' }
  | { id: number; op: 'stop' };

export interface DepartmentsReply {
  id: number;
  ok: boolean;
  error?: string;
  /** 'soap': each department's WSDL and endpoint. */
  endpoints?: Record<string, { wsdl: string; endpoint: string }>;
  bytes?: number | null;
  /** 'cpu': this process's CPU time so far, in ms. */
  cpuMs?: number;
}

const soapDeps = new Map<string, SoapDepartment>();
const soapAccess = new Map<string, { base: string; departmentId: string }>();
const amqpDeps = new Map<string, AmqpDepartmentSim>();

async function handle(m: DepartmentsRequest): Promise<Omit<DepartmentsReply, 'id' | 'ok'>> {
  switch (m.op) {
    case 'soap': {
      // 'manual': each department answers when the benchmark says, with an opinion signed by its demo RS256 key (XML-DSig).
      const endpoints: Record<string, { wsdl: string; endpoint: string }> = {};
      for (const d of m.departments) {
        const a = { base: '', departmentId: d };
        soapAccess.set(d, a);
        const dep = await startSoapDepartment(a, { answer: 'manual' });
        soapDeps.set(d, dep);
        endpoints[d] = { wsdl: dep.wsdl, endpoint: dep.endpoint };
      }
      return { endpoints };
    }
    case 'base':
      for (const a of soapAccess.values()) a.base = m.base;
      return {};
    case 'amqp': {
      // Each department sends its receipt as soon as it takes a notification, and its opinion when the benchmark says,
      // signed with its key in the benchmark's certificate folder.
      const keys = new KeyRegistry(m.certsDir, false);
      for (const d of m.departments) {
        const sim = new AmqpDepartmentSim({ departmentId: d, url: m.url, prefix: m.prefix, keys, token: () => demoReviewerToken(m.base, `reviewer-${d}`), behaviour: { answer: 'silent' } });
        await sim.start();
        amqpDeps.set(d, sim);
      }
      return {};
    }
    case 'answer': {
      const soapDep = soapDeps.get(m.departmentId);
      if (soapDep) {
        const r = await soapDep.answers.answerNow(m.caseId, 'approve');
        if (typeof r === 'string' || !r.ok) throw new Error(`gateway refused: ${typeof r === 'string' ? r.slice(0, 200) : `${r.code} ${r.message}`}`);
        return {};
      }
      const sim = amqpDeps.get(m.departmentId);
      if (!sim) throw new Error(`no department ${m.departmentId}`);
      await sim.opinion(m.caseId, 'approve');
      return {};
    }
    case 'first-notification-bytes': {
      const first = amqpDeps.values().next().value?.received.find((r) => r.type === 'notification');
      // Received messages are kept by the simulated departments; drop them once measured.
      for (const s of amqpDeps.values()) s.received.length = s.results.length = 0;
      return { bytes: first ? Buffer.byteLength(JSON.stringify(first.body)) : null };
    }
    case 'cpu': {
      const c = process.cpuUsage();
      return { cpuMs: (c.user + c.system) / 1000 };
    }
    case 'stop':
      for (const s of amqpDeps.values()) await s.stop().catch(() => undefined);
      for (const d of soapDeps.values()) await d.close().catch(() => undefined);
      amqpDeps.clear();
      soapDeps.clear();
      return {};
  }
}

process.on('message', (m: DepartmentsRequest) => {
  handle(m).then(
    (r) => process.send!({ id: m.id, ok: true, ...r } satisfies DepartmentsReply),
    (e: Error) => process.send!({ id: m.id, ok: false, error: e.message } satisfies DepartmentsReply),
  );
});
// The benchmark gone (its IPC channel closed): nothing here is of use any more.
process.on('disconnect', () => process.exit(0));
