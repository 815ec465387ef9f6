// Property-based fuzzing of the entry points (fast-check, fixed seeds, bounded runs): arbitrary and mutated XML documents,
// SOAP envelopes, JSON bodies and JWS strings. Every request is answered, within a time limit, with a 2xx or a catalogued
// refusal (its code in src/domain/errors.ts, its status the catalogue's), never INTERNAL and never a stack trace; the
// gateway keeps serving throughout.
import { expect } from 'chai';
import fc from 'fast-check';
import type { IncomingMessage } from '../../adapters/adapter.js';
import { ERRORS, type ErrorCode } from '../../src/domain/errors.js';
import { readResult } from '../../src/xml/approval.js';
import { application, client, freshStore, login, startGateway, STORES, type Client, type Running, writeConfig } from '../support/harness.js';
import { signerFor } from '../support/signing.js';

const DEP = 'xw-culture';
const NS = 'urn:pag:approval:1';
const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const STACK = /\n\s+at |\.js:\d+|\.ts:\d+|node_modules/;
/** Runs per entry point and store; the seeds are fixed so that a failure is repeated by running the suite again. */
const RUNS = Number(process.env.PAG_FUZZ_RUNS ?? 200);
const SEED = Number(process.env.PAG_FUZZ_SEED ?? 20261129);
/** A request taking longer than this counts as a hang. */
const TIMEOUT_MS = 5_000;

const CODES = new Set(Object.keys(ERRORS));

/** A refusal's code must be in the catalogue, not the fallback, with the catalogue's status (SOAP faults are always 500). */
function expectCatalogued(what: string, status: number, code: string | null, text: string, soap = false): void {
  expect(text, `${what}: no stack trace`).not.to.match(STACK);
  if (status >= 200 && status < 300) return;
  expect(code, `${what}: status ${status} without a catalogue code: ${text.slice(0, 300)}`).to.be.a('string');
  expect(CODES.has(code!), `${what}: ${code} is not in the catalogue`).to.equal(true);
  expect(code, `${what}: ${text.slice(0, 300)}`).not.to.equal('INTERNAL');
  expect(status, `${what}: status of ${code}`).to.equal(soap ? 500 : ERRORS[code as ErrorCode].status);
}

/** Applies edits (insert, delete, duplicate a slice, replace a slice) to a valid text: near misses reach the deeper checks. */
type Edit = { op: 'insert' | 'delete' | 'duplicate' | 'replace'; at: number; len: number; text: string };
function mutate(s: string, edits: Edit[]): string {
  for (const e of edits) {
    const at = s.length ? e.at % (s.length + 1) : 0;
    const end = Math.min(s.length, at + e.len);
    if (e.op === 'insert') s = s.slice(0, at) + e.text + s.slice(at);
    else if (e.op === 'delete') s = s.slice(0, at) + s.slice(end);
    else if (e.op === 'duplicate') s = s.slice(0, end) + s.slice(at, end) + s.slice(end);
    else s = s.slice(0, at) + e.text + s.slice(end);
  }
  return s;
}
/** Edits of whole tags: drop one, repeat it, rename it, or put a fragment beside it (structure-aware near misses). */
type TagEdit = [number, 'drop' | 'repeat' | 'rename' | 'beside', string];
function mutateTags(s: string, edits: TagEdit[]): string {
  for (const [k, op, text] of edits) {
    const tags = [...s.matchAll(/<[^>]+>/g)];
    if (tags.length === 0) return s;
    const t = tags[k % tags.length]!;
    const [at, end] = [t.index!, t.index! + t[0].length];
    const renamed = t[0].replace(/^<(\/?)([\w:.-]+)/, (_m, slash: string, name: string) => `<${slash}${name.slice(0, -1) || 'x'}${text.replace(/[^\w]/g, '').slice(0, 4)}`);
    const replacement = op === 'drop' ? '' : op === 'repeat' ? t[0] + t[0] : op === 'rename' ? renamed : t[0] + text;
    s = s.slice(0, at) + replacement + s.slice(end);
  }
  return s;
}
const tagEdits = (fragment: fc.Arbitrary<string>) =>
  fc.array(fc.tuple(fc.nat(), fc.constantFrom('drop', 'repeat', 'rename', 'beside') as fc.Arbitrary<TagEdit[1]>, fragment), { minLength: 1, maxLength: 4 });

const edits = (fragment: fc.Arbitrary<string>) =>
  fc.array(fc.record({ op: fc.constantFrom('insert', 'delete', 'duplicate', 'replace') as fc.Arbitrary<Edit['op']>, at: fc.nat(), len: fc.nat({ max: 64 }), text: fragment }), { minLength: 1, maxLength: 6 });

const XML_PIECES = [
  '<', '>', '</', '/>', '&', '&amp;', '&lol;', '&#0;', '&#x110000;', '&#65;', '<!DOCTYPE x>', '<!DOCTYPE x [<!ENTITY a "b">]>', '<!ENTITY a SYSTEM "file:///etc/passwd">',
  '<![CDATA[', ']]>', '<?xml version="1.0"?>', '<?pi x?>', '<!--', '-->', ` xmlns="${NS}"`, ' xmlns:p="urn:x"', '<p:x>', ' a="1"', ' a="1" a="2"', '"', "'", '=',
  '<decision>approve</decision>', '<decision>extend</decision>', '<caseId>x</caseId>', '<messageId>m</messageId>', '<soap:Body>', '</soap:Body>', '<soap:Header/>',
  '\u0000', '\uFFFE', '\uD800', '\u202E', '中文', ' ', '\n', '\t',
];
const xmlFragment = fc.oneof(fc.constantFrom(...XML_PIECES), fc.string({ unit: 'binary', maxLength: 24 }), fc.string({ maxLength: 24 }));
/** Markup built from pieces: unbalanced, nested, with declarations and entities. */
const xmlSoup = fc.array(fc.oneof(xmlFragment, fc.constantFrom('<opinion>', '</opinion>', `<opinion xmlns="${NS}">`, '<a>', '</a>', '<a/>')), { maxLength: 40 }).map((a) => a.join(''));

const envelope = (body: string, header = '') => `<?xml version="1.0"?><soap:Envelope xmlns:soap="${SOAP_ENV}">${header}<soap:Body>${body}</soap:Body></soap:Envelope>`;
const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const b64 = (s: string) => Buffer.from(s).toString('base64url');

for (const kind of STORES) {
  describe(`fuzzed entry points (${kind})`, function () {
    this.timeout(60_000);
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let base: string;
    let sec: Client;
    let reviewerToken: string;
    let secretaryToken: string;
    let target: string;
    let validXml: string;
    /** Signed documents of every kind, as bases for mutation. */
    let validXmls: string[];
    let validJws: string;

    before(async function () {
      store = await freshStore(kind, 'fuzz');
      // Fuzzed logins come from one address: the per-address throttle would otherwise stop them (and the harness's logins).
      const configFile = writeConfig(store.dir, 'fuzz.json', (cfg) => (cfg.gateway.login = { maxAttemptsPerAddress: 100_000 }));
      run = await startGateway(store.db(), { configFile }, { dispatch: false });
      base = run.base;
      secretaryToken = await login(base, 'secretary');
      sec = client(base, secretaryToken);
      await client(base, await login(base, 'admin')).put('/api/admin/clock', { now: new Date().toISOString() });
      reviewerToken = await login(base, `reviewer-${DEP}`);
      const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
      await sec.post(`/api/cases/${c.id}/accept`);
      await run.gw.dispatcher.runOnce();
      target = c.id;
      // Valid signed answers, the bases that mutations start from (an unchanged copy may be accepted: a 2xx).
      const m: IncomingMessage = { messageId: 'fuzz-base', kind: 'opinion', departmentId: DEP, caseId: target, decision: 'refuse', reasons: '不符合' };
      validXml = signerFor(DEP).xml(m);
      validXmls = [
        validXml,
        signerFor(DEP).xml({ messageId: 'fuzz-receipt', kind: 'receipt', departmentId: DEP, caseId: target, ackOf: 'nothing' }),
        signerFor(DEP).xml({ messageId: 'fuzz-permit', kind: 'permit', departmentId: DEP, caseId: target, permitNumber: 'P-1' }),
        signerFor(DEP).xml({ messageId: 'fuzz-inspection', kind: 'inspection', departmentId: DEP, caseId: target, inspectionId: 'i-1', stage: 'result', outcome: 'fail', findings: '整改' }),
      ];
      validJws = await signerFor(DEP).jws(m);
    });
    after(async function () {
      await run?.stop();
      await store?.cleanup();
    });
    afterEach(async function () {
      // Still serving after each entry point's runs.
      const h = await fetch(`${base}/healthz`);
      expect(h.status).to.equal(200);
      expect((await sec.get('/api/cases?limit=1')).status).to.equal(200);
    });

    const send = (path: string, body: string, type: string, token?: string, method = 'POST') =>
      fetch(`${base}${path}`, { method, headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
    const options = (i: number) => ({ seed: SEED + i, numRuns: RUNS, endOnFailure: true });

    it(`answers ${RUNS} arbitrary and mutated XML documents with a result or a catalogued refusal`, async function () {
      const arb = fc.tuple(
        fc.oneof(
          { weight: 3, arbitrary: fc.tuple(fc.nat({ max: 3 }), edits(xmlFragment)).map(([i, e]) => mutate(validXmls[i]!, e)) },
          { weight: 3, arbitrary: fc.tuple(fc.nat({ max: 3 }), tagEdits(xmlFragment)).map(([i, e]) => mutateTags(validXmls[i]!, e)) },
          { weight: 2, arbitrary: xmlSoup },
          { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 400 }) },
        ),
        fc.constantFrom('application/xml', 'text/xml; charset=utf-8', 'application/xml; charset=latin1', 'application/json', 'text/plain', 'application/xml; charset=nonsense'),
      );
      await fc.assert(
        fc.asyncProperty(arb, async ([doc, type]) => {
          const res = await send('/xml/messages', doc, type, reviewerToken);
          const text = await res.text();
          let code: string | null = null;
          try {
            const r = readResult(text);
            code = r.ok ? null : r.code;
          } catch {
            expect.fail(`XML: the answer is not a result document: ${text.slice(0, 300)}`);
          }
          expectCatalogued('XML', res.status, code, text);
        }),
        options(1),
      );
    });

    it(`answers ${RUNS} arbitrary and mutated SOAP envelopes with a response or a catalogued fault`, async function () {
      const ops = [
        envelope(`<SubmitOpinion xmlns="${NS}"><document>${escapeXml(validXml)}</document></SubmitOpinion>`),
        envelope(`<GetCaseStatus xmlns="${NS}"><caseId>CASE</caseId></GetCaseStatus>`),
        envelope(`<ReportPermit xmlns="${NS}"><document>x</document></ReportPermit>`, '<soap:Header/>'),
      ];
      const arb = fc.oneof(
        { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...ops), edits(xmlFragment)).map(([e, ed]) => mutate(e, ed)) },
        { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...ops), tagEdits(xmlFragment)).map(([e, ed]) => mutateTags(e, ed)) },
        { weight: 2, arbitrary: xmlSoup.map((inner) => envelope(inner)) },
        // Anything in the Header ahead of a valid operation: the soap package reads the Header after the pre-check.
        { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ops), xmlSoup).map(([e, inner]) => e.replace('<soap:Body>', `<soap:Header>${inner}</soap:Header><soap:Body>`).replace('<soap:Header/><soap:Header>', '<soap:Header>')) },
        { weight: 1, arbitrary: xmlSoup },
      );
      await fc.assert(
        fc.asyncProperty(arb, async (doc) => {
          const body = doc.replace('CASE', target);
          const res = await send('/soap/approval', body, 'text/xml; charset=utf-8', reviewerToken);
          const text = await res.text();
          if (res.status === 200) {
            expect(text, 'SOAP: a response envelope').to.match(/Envelope/);
            expect(text).not.to.match(/Fault/);
            return;
          }
          expect(text, `SOAP: a fault: ${text.slice(0, 300)}`).to.match(/<(\w+:)?Fault>/);
          expect(text, `SOAP: a gateway fault: ${text.slice(0, 300)}`).to.match(/<faultcode>soap:(Client|Server)<\/faultcode>/);
          const code = /<code>([A-Z_]+)<\/code>/.exec(text)?.[1] ?? null;
          expect(text.startsWith('<?xml') || text.includes('Envelope'), 'SOAP: an envelope').to.equal(true);
          expectCatalogued('SOAP', res.status, code, text, true);
        }),
        options(2),
      );
    });

    it(`answers ${RUNS} arbitrary and mutated JSON bodies on the API with a 2xx or a catalogued error`, async function () {
      const routes = () => [
        { path: '/api/cases', token: secretaryToken },
        { path: '/api/auth/login', token: undefined },
        { path: `/api/cases/${target}/return`, token: secretaryToken, valid: { reason: '材料不全' } },
        { path: `/api/cases/${target}/reviews/${DEP}/opinion`, token: reviewerToken, valid: { decision: 'approve' } },
        { path: '/api/cases/none/terminate', token: secretaryToken, valid: { reason: 'x' } },
        { path: '/api/auth/step-up', token: secretaryToken, valid: { otp: '123456' } },
        { path: `/api/cases/${target}/permits/${DEP}`, token: reviewerToken },
        { path: `/api/cases/${target}/inspections`, token: reviewerToken },
        { path: `/api/cases/${target}/inspections/i-1/result`, token: reviewerToken },
      ];
      const validApp = JSON.stringify(application());
      const jsonEdits = edits(fc.oneof(fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', '\\u0000', '\\uD800', 'null', 'true', '1e999', '-0', '__proto__', '"__proto__":{"x":1}', '"constructor":{}'), fc.string({ maxLength: 16 })));
      const arb = fc.tuple(
        fc.nat({ max: 8 }),
        fc.oneof(
          // Valid JSON of any shape (objects with odd keys, deep arrays, big numbers) and an application with a field changed.
          fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
          fc.tuple(fc.constantFrom('enterpriseName', 'registeredCapital', 'businessScope', 'investors', 'contact', 'divisionCode', '__proto__', 'extra'), fc.jsonValue({ maxDepth: 3 })).map(([k, v]) => {
            const app = JSON.parse(validApp);
            app[k] = v;
            return JSON.stringify(app);
          }),
          // A valid application with one text field holding odd characters (NUL, lone surrogates, bidi controls).
          fc.tuple(fc.constantFrom('enterpriseName', 'industry', 'address'), fc.constantFrom('\u0000', 'a\u0000b', '\uD800', '\u202E', '\uFFFF', '%00', '\\0')).map(([k, v]) => JSON.stringify({ ...JSON.parse(validApp), [k]: `名称${v}有限公司` })),
          // Near-JSON: a valid application with its text edited.
          jsonEdits.map((e) => mutate(validApp, e)),
          fc.string({ unit: 'binary', maxLength: 200 }),
        ),
        fc.constantFrom('application/json', 'application/json; charset=utf-16', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded'),
      );
      await fc.assert(
        fc.asyncProperty(arb, async ([i, body, type]) => {
          const route = routes()[i]!;
          const res = await send(route.path, body, type, route.token);
          const text = await res.text();
          let code: string | null = null;
          if (res.status >= 300) {
            try {
              code = JSON.parse(text).error.code;
            } catch {
              expect.fail(`JSON ${route.path}: status ${res.status} without a JSON error body: ${text.slice(0, 200)}`);
            }
          }
          expectCatalogued(`JSON ${route.path} ${body.slice(0, 80)}`, res.status, code, text);
        }),
        options(3),
      );
    });

    it(`answers ${RUNS} requests with arbitrary paths, percent-encodings, query strings and headers with a 2xx or a catalogued error`, async function () {
      const segment = fc.oneof(
        fc.constantFrom('api', 'cases', 'reviews', 'permits', 'admin', 'adapters', 'departments', 'calendar', 'days', 'years', 'outbox', 'inspections', 'xw-culture', 'opinion', 'accept', 'licence', '..', '.', ''),
        fc.constant('CASE'),
        fc.constant('CASE%00'),
        fc.constantFrom('%', '%E0%A4%A', '%C0%AF', '%00', '%2e%2e', '%2F', '%ZZ', '%FF', '%u0041', '%%', '%e4%b8%ad'),
        fc.string({ maxLength: 12 }).map(encodeURIComponent),
        fc.string({ maxLength: 6 }).filter((x) => !/[?#/\\]/.test(x)),
      );
      const arb = fc.record({
        method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'OPTIONS', 'HEAD'),
        segments: fc.array(segment, { minLength: 1, maxLength: 6 }),
        query: fc.array(fc.tuple(fc.constantFrom('limit', 'offset', 'status', 'enterpriseName', 'departmentId', 'code', 'state', 'wsdl', 'access_token', 'version', 'a[b]', 'x[]'), fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('%', '%E0', '%00', 'a%00', '-1', '1e9', '99999999999999999999', '1234567890', 'NaN'))), { maxLength: 3 }),
        headers: fc.record(
          {
            'content-type': fc.constantFrom('application/json', 'application/jose', 'application/xml', 'text/plain', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', ''),
            'content-encoding': fc.constantFrom('gzip', 'br', 'deflate', 'identity', 'x-unknown'),
            'if-match': fc.string({ maxLength: 10 }),
            'idempotency-key': fc.string({ maxLength: 140 }).map((x) => x.replace(/[^\x20-\x7e]/g, '')),
            'message-id': fc.string({ maxLength: 20 }).map((x) => x.replace(/[^\x20-\x7e]/g, '')),
          },
          { requiredKeys: [] },
        ),
        body: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 60 }), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v))),
      });
      await fc.assert(
        fc.asyncProperty(arb, async (r) => {
          const path = `/${r.segments.join('/').replace(/CASE/g, target)}`;
          // Live streams stay open by design: not a hang.
          fc.pre(!/\/events(\/|$|\?)/i.test(path));
          const query = r.query.map(([k, v]) => `${k}=${/^%/.test(v) ? v : encodeURIComponent(v)}`).join('&');
          const url = `${base}${path}${query ? `?${query}` : ''}`;
          const res = await fetch(url, {
            method: r.method,
            headers: { authorization: `Bearer ${secretaryToken}`, ...r.headers },
            body: r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body,
            signal: AbortSignal.timeout(TIMEOUT_MS),
          });
          const text = await res.text();
          if (res.status < 300 || r.method === 'HEAD') {
            expect(text).not.to.match(STACK);
            return;
          }
          let code: string | null = null;
          try {
            code = JSON.parse(text).error.code;
          } catch {
            expect.fail(`${r.method} ${url}: status ${res.status} without a JSON error body: ${text.slice(0, 200)}`);
          }
          expectCatalogued(`${r.method} ${url}`, res.status, code, text);
        }),
        options(5),
      );
    });

    it(`answers ${RUNS} arbitrary and mutated JWS strings on the signed answer route with a catalogued refusal`, async function () {
      const [h, p, s] = validJws.split('.') as [string, string, string];
      const header = fc.record(
        {
          alg: fc.oneof(fc.constantFrom('none', 'HS256', 'RS256', 'ES256', 'EdDSA', 'PS256', 'RS1', ''), fc.jsonValue({ maxDepth: 1 })),
          kid: fc.oneof(fc.constantFrom(JSON.parse(Buffer.from(h, 'base64url').toString()).kid, '../../registry.json', "' OR 1=1 --"), fc.jsonValue({ maxDepth: 1 })),
          typ: fc.oneof(fc.constant('pag-message+jws'), fc.jsonValue({ maxDepth: 1 })),
          crit: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }),
          b64: fc.boolean(),
        },
        { requiredKeys: [] },
      );
      const signedPayload = JSON.parse(Buffer.from(p, 'base64url').toString());
      const payload = fc.oneof(
        fc.jsonValue({ maxDepth: 4 }),
        fc.record({ sender: fc.oneof(fc.constant(DEP), fc.jsonValue({ maxDepth: 1 })), body: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }).map((o) => ({ ...signedPayload, ...o })),
        fc.tuple(fc.constantFrom('messageId', 'sender', 'caseId', 'kind', 'receiver'), fc.constantFrom('\u0000', 'x\u0000', '\uD800', '')).map(([k, v]) => ({ ...signedPayload, [k]: v })),
      );
      const arb = fc.oneof(
        // A header and payload of any JSON, with the real signature or random bytes.
        fc.tuple(header, payload, fc.oneof(fc.constant(s), fc.base64String({ maxLength: 120 }).map((x) => x.replace(/=/g, '').replace(/\+/g, '-').replace(/\//g, '_')))).map(
          ([hh, pp, ss]) => `${b64(JSON.stringify(hh))}.${b64(JSON.stringify(pp))}.${ss}`,
        ),
        // Segments that are not base64url JSON at all, and a varying number of dots.
        fc.array(fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(h, p, s, b64('null'), b64('[]'), b64('"x"'), b64('1'), b64('{'), '')), { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.')),
        // The real header and signature around payloads that are JSON but no envelope (null, a number, an array, a string).
        fc.tuple(
          fc.constantFrom(h, b64('{"alg":"RS256","typ":"pag-message+jws"}'), b64('null'), b64('[]')),
          fc.constantFrom(b64('null'), b64('1'), b64('[]'), b64('"x"'), b64('true'), b64('{}'), b64('{"sender":null}'), p),
          fc.constantFrom(s, ''),
        ).map((parts) => parts.join('.')),
        // The valid JWS with its text edited.
        edits(fc.oneof(fc.constantFrom('.', '=', '+', '/', '-', '_', 'A', ' '), fc.string({ maxLength: 8 }))).map((e) => mutate(validJws, e)),
      );
      await fc.assert(
        fc.asyncProperty(arb, async (jws) => {
          const res = await send(`/api/cases/${target}/reviews/${DEP}/opinion`, jws, 'application/jose', reviewerToken);
          const text = await res.text();
          let code: string | null = null;
          try {
            code = res.status >= 300 ? JSON.parse(text).error.code : null;
          } catch {
            expect.fail(`JWS: status ${res.status} without a JSON error body: ${text.slice(0, 200)}`);
          }
          expectCatalogued(`JWS ${jws.slice(0, 120)}`, res.status, code, text);
        }),
        options(4),
      );
      const c = (await sec.get(`/api/cases/${target}`)).body;
      // Only the unchanged base (a refusal) may have decided the review.
      expect(c.reviews[0].state).to.be.oneOf(['delivered', 'refused']);
    });
  });
}
