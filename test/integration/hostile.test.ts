// Hostile input over HTTP, on both stores: each attack is refused with its catalogue code and status, the gateway keeps
// serving (/healthz and a normal request answer), and the store is unchanged apart from the records a refusal is meant to
// leave (rows of refused_messages, and events 'message.refused' and 'auth.refused'). Memory stays bounded under big bodies.
import { expect } from 'chai';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { SignJWT, UnsecuredJWT } from 'jose';
import type { IncomingMessage } from '../../adapters/adapter.js';
import { CERTS_DIR } from '../../src/paths.js';
import type { Db } from '../../src/store/sql.js';
import { IDENTIFIER, readResult } from '../../src/xml/approval.js';
import { application, client, freshStore, login, startGateway, STORES, type Client, type Running, writeConfig } from '../support/harness.js';
import { GATEWAY_ID, signerFor } from '../support/signing.js';

const DEP = 'xw-culture';
const MiB = 1024 * 1024;
const NS = 'urn:pag:approval:1';
const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const STACK = /\n\s+at |\.js:\d+|\.ts:\d+/;

/** Tables whose rows make up the store's state, each with the columns compared (the audit chain's links are added later by the sealer). */
const TABLES: [string, string][] = [
  ['cases', '*'],
  ['reviews', '*'],
  ['permits', '*'],
  ['inspections', '*'],
  ['inbox', '*'],
  ['outbox', '*'],
  ['idempotency', '*'],
  ['users', '*'],
  ['calendar_days', '*'],
  ['config_versions', 'version, source, summary'],
  ['calendar_years', '*'],
  ['counters', '*'],
  ['settings', '*'],
  ['sent_hashes', '*'],
  ['delivery_attempts', '*'],
  ['inbox_hashes', '*'],
  ['complaints', '*'],
  ['enterprises', '*'],
  ['province_changes', '*'],
  ['peer_deadlines', '*'],
];
/**
 * Left out: refused_messages (what a refusal records), audit_head and audit_checkpoints (the sealer's position and its
 * signed checkpoints, written as it goes), schema_migrations. Events a
 * refusal legitimately adds are left out of the events' hash.
 */
const REFUSAL_EVENTS = "('message.refused', 'auth.refused')";

/** Row counts and a hash of every row of the state tables and of the events other than refusal records. */
async function snapshot(db: Db, skip: string[] = []): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const hash = (rows: unknown[]) => `${rows.length}:${createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16)}`;
  for (const [t, cols] of TABLES) if (!skip.includes(t)) out[t] = hash(await db.all(`SELECT ${cols} FROM ${t} ORDER BY 1`));
  out.events = hash(await db.all(`SELECT seq, case_id, at, actor, action, data FROM events WHERE action NOT IN ${REFUSAL_EVENTS} ORDER BY seq`));
  return out;
}

/** The heap and resident size after a full collection (gc is reachable without --expose-gc through the V8 flag). */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function memory(): { rss: number; heap: number; buffers: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, buffers: m.arrayBuffers };
}

type Answer = { status: number; code: string | null; text: string };

const envelope = (body: string, extra = '') => `<?xml version="1.0"?><soap:Envelope xmlns:soap="${SOAP_ENV}">${extra}<soap:Body>${body}</soap:Body></soap:Envelope>`;
const LOL = `<!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('')}]>`;
const XXE = '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>';
const SQLI = ["' OR '1'='1", "x'); DROP TABLE cases; --", '1; DELETE FROM reviews WHERE 1=1', "' UNION SELECT value FROM settings --", '"; SELECT pg_sleep(5); --'];
const TRAVERSAL = ['../../../../etc/passwd', '..\\..\\..\\windows\\win.ini', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/etc/shadow', '....//....//etc/passwd', 'file:///etc/passwd'];

for (const kind of STORES) {
  describe(`hostile input (${kind})`, function () {
    this.timeout(60_000);
    let store: Awaited<ReturnType<typeof freshStore>>;
    let run: Running;
    let base: string;
    let db: Db;
    let sec: Client;
    let reviewerToken: string;
    let secretaryToken: string;
    let adminToken: string;
    let fireToken: string;
    /** A case under review whose culture review was delivered: the target of department answers. */
    let target: string;
    /** Another such case. */
    let second: string;

    const json = async (res: Response): Promise<Answer> => {
      const text = await res.text();
      let code: string | null = null;
      try {
        code = JSON.parse(text).error?.code ?? null;
      } catch {
        /* not JSON */
      }
      return { status: res.status, code, text };
    };
    const xml = async (res: Response): Promise<Answer> => {
      const text = await res.text();
      const r = readResult(text);
      return { status: res.status, code: r.ok ? null : r.code, text };
    };
    const soap = async (res: Response): Promise<Answer> => {
      const text = await res.text();
      return { status: res.status, code: /<code>([A-Z_]+)<\/code>/.exec(text)?.[1] ?? null, text };
    };
    const post = (path: string, body: BodyInit, type: string, token?: string) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });
    const postXml = async (body: string, token = reviewerToken) => xml(await post('/xml/messages', body, 'application/xml', token));
    const postSoap = async (body: string, token = reviewerToken) => soap(await post('/soap/approval', body, 'text/xml; charset=utf-8', token));
    const opinionPath = (caseId = target, dep = DEP) => `/api/cases/${caseId}/reviews/${dep}/opinion`;
    const postJose = async (jws: string, token = reviewerToken, path = opinionPath()) => json(await post(path, jws, 'application/jose', token));
    const signedXml = (m: Partial<IncomingMessage> = {}) =>
      signerFor(DEP).xml({ messageId: randomUUID(), kind: 'opinion', departmentId: DEP, caseId: target, decision: 'refuse', reasons: '不符合', ...m } as IncomingMessage);
    const signedJws = (m: Partial<IncomingMessage> = {}, dep = DEP) =>
      signerFor(dep).jws({ messageId: randomUUID(), kind: 'opinion', departmentId: dep, caseId: target, decision: 'refuse', reasons: '不符合', ...m } as IncomingMessage);

    /** The gateway still answers: health, and a normal request of a logged-in user. */
    async function stillServing(): Promise<void> {
      const h = await fetch(`${base}/healthz`);
      expect(h.status, 'healthz').to.equal(200);
      expect((await h.json()).status).to.equal('ok');
      const list = await sec.get('/api/cases?limit=5');
      expect(list.status, 'a normal request').to.equal(200);
      expect(list.body.total).to.be.a('number');
    }

    /** Runs an attack: its answer has the status and code expected, no stack trace, the gateway serves on and the store is unchanged. */
    async function refused(what: string, attack: () => Promise<Answer>, status: number, code: string, skip: string[] = []): Promise<Answer> {
      const before = await snapshot(db, skip);
      const r = await attack();
      expect([r.status, r.code], `${what}: ${r.text.slice(0, 300)}`).to.deep.equal([status, code]);
      expect(r.text, `${what}: no stack trace`).not.to.match(STACK);
      expect(await snapshot(db, skip), `${what}: store unchanged`).to.deep.equal(before);
      await stillServing();
      return r;
    }

    before(async function () {
      store = await freshStore(kind, 'hostile');
      db = store.db();
      // Many refused logins come from this one address: the per-address throttle would otherwise answer them first.
      const configFile = writeConfig(store.dir, 'hostile.json', (cfg) => (cfg.gateway.login = { maxAttemptsPerAddress: 100_000 }));
      run = await startGateway(db, { configFile }, { dispatch: false });
      base = run.base;
      secretaryToken = await login(base, 'secretary');
      sec = client(base, secretaryToken);
      // One administrator login for the whole suite (a login counts as the step-up configuration changes need, for 300 s).
      adminToken = await login(base, 'admin');
      await client(base, adminToken).put('/api/admin/clock', { now: new Date().toISOString() });
      reviewerToken = await login(base, `reviewer-${DEP}`);
      fireToken = await login(base, 'reviewer-xw-fire');
      target = await newCase();
      second = await newCase();
    });
    after(async function () {
      await run?.stop();
      await store?.cleanup();
    });

    async function newCase(): Promise<string> {
      const c = (await sec.post('/api/cases', application({ businessScope: ['bookstore'], registeredCapital: 10_000 }))).body;
      expect((await sec.post(`/api/cases/${c.id}/accept`)).status).to.equal(200);
      await run.gw.dispatcher.runOnce();
      expect((await sec.get(`/api/cases/${c.id}`)).body.reviews[0].state).to.equal('delivered');
      return c.id as string;
    }

    // XML: entities, nesting, size, duplicates.

    it('refuses the billion laughs (nested internal entities) on the XML and SOAP endpoints without expanding it', async function () {
      const doc = signedXml().replace('<reasons>不符合', '<reasons>&lol9;');
      await refused('XML', () => postXml(`<?xml version="1.0"?>${LOL}${doc.replace(/^<\?xml[^>]*\?>/, '')}`), 400, 'MALFORMED_XML');
      await refused('SOAP', () => postSoap(`${LOL}${envelope(`<SubmitOpinion xmlns="${NS}"><document>&lol9;</document></SubmitOpinion>`)}`), 500, 'MALFORMED_XML');
    });

    it('refuses external entities (file and network) on the XML and SOAP endpoints', async function () {
      const doc = signedXml().replace('<reasons>不符合', '<reasons>&xxe;');
      await refused('XML file', () => postXml(`${XXE}${doc.replace(/^<\?xml[^>]*\?>/, '')}`), 400, 'MALFORMED_XML');
      await refused('XML network', () => postXml(`<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd">${doc.replace(/^<\?xml[^>]*\?>/, '')}`), 400, 'MALFORMED_XML');
      await refused('SOAP', () => postSoap(`${XXE}${envelope(`<SubmitOpinion xmlns="${NS}"><document>&xxe;</document></SubmitOpinion>`)}`), 500, 'MALFORMED_XML');
      // An undefined entity without any DOCTYPE is not passed through as text either.
      await refused('XML undefined entity', () => postXml(signedXml().replace('<reasons>不符合', '<reasons>&xxe;')), 400, 'MALFORMED_XML');
    });

    it('refuses 100,000-deep nesting in XML, SOAP and JSON, and nesting just past the depth limit within the size limit', async function () {
      const deep = (n: number) => `${'<a>'.repeat(n)}${'</a>'.repeat(n)}`;
      await refused('XML 100,000 deep', () => postXml(`<opinion xmlns="${NS}">${deep(100_000)}</opinion>`), 413, 'XML_LIMIT_EXCEEDED');
      await refused('XML 5,000 deep (within the size limit)', () => postXml(`<opinion xmlns="${NS}">${deep(5_000)}</opinion>`), 413, 'XML_LIMIT_EXCEEDED');
      await refused('XML 5,000 unclosed', () => postXml(`<opinion xmlns="${NS}">${'<a>'.repeat(5_000)}</opinion>`), 400, 'MALFORMED_XML');
      await refused('SOAP 100,000 deep', () => postSoap(envelope(`<SubmitOpinion xmlns="${NS}">${deep(100_000)}</SubmitOpinion>`)), 500, 'XML_LIMIT_EXCEEDED');
      await refused('SOAP 5,000 deep', () => postSoap(envelope(`<SubmitOpinion xmlns="${NS}">${deep(5_000)}</SubmitOpinion>`)), 500, 'XML_LIMIT_EXCEEDED');
      // JSON: 100,000 nested arrays (200 KB, within the body limit) in a field, and as the whole body.
      const arrays = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
      await refused('JSON application', () => sec.post('/api/cases', `{"enterpriseName":${arrays}}`).then((r) => ({ status: r.status, code: r.body?.error?.code, text: JSON.stringify(r.body) })), 422, 'VALIDATION_FAILED');
      await refused('JSON login', async () => json(await post('/api/auth/login', arrays, 'application/json')), 422, 'VALIDATION_FAILED');
      const objects = `${'{"a":'.repeat(40_000)}1${'}'.repeat(40_000)}`;
      await refused('JSON objects on a reason', () => sec.post(`/api/cases/${target}/return`, `{"reason":${objects}}`).then((r) => ({ status: r.status, code: r.body?.error?.code, text: JSON.stringify(r.body) })), 422, 'VALIDATION_FAILED');
    });

    it('refuses a 16 MiB attribute on the XML and SOAP endpoints, and a 16 MiB field in JSON', async function () {
      const big = 'x'.repeat(16 * MiB);
      await refused('XML', () => postXml(signedXml().replace('<opinion ', `<opinion big="${big}" `)), 413, 'XML_LIMIT_EXCEEDED');
      await refused('SOAP', () => postSoap(envelope(`<SubmitOpinion xmlns="${NS}" big="${big}"><document>x</document></SubmitOpinion>`)), 500, 'XML_LIMIT_EXCEEDED');
      await refused('JSON', () => sec.post('/api/cases', application({ enterpriseName: big })).then((r) => ({ status: r.status, code: r.body?.error?.code, text: JSON.stringify(r.body) })), 413, 'BODY_TOO_LARGE');
      // Within the size limit, an attribute over the attribute limit.
      await refused('XML 2 KiB attribute', () => postXml(signedXml().replace('<opinion ', `<opinion big="${'y'.repeat(2048)}" `)), 413, 'XML_LIMIT_EXCEEDED');
    });

    it('refuses a SOAP envelope with a duplicated Body, two operations, or a Body before the Header', async function () {
      const op = `<SubmitOpinion xmlns="${NS}"><document>${signedXml().replace(/&/g, '&amp;').replace(/</g, '&lt;')}</document></SubmitOpinion>`;
      await refused('two Bodies', () => postSoap(envelope(op).replace('</soap:Body>', `</soap:Body><soap:Body>${op}</soap:Body>`)), 500, 'MALFORMED_XML');
      await refused('two operations', () => postSoap(envelope(op + op)), 500, 'MALFORMED_XML');
      await refused('Body then Header', () => postSoap(envelope(op).replace('</soap:Body>', '</soap:Body><soap:Header/>')), 500, 'MALFORMED_XML');
      await refused('duplicated document', () => postSoap(envelope(op.replace('</document>', '</document><document>x</document>'))), 500, 'MALFORMED_XML');
    });

    it('refuses characters XML does not allow, and text mixed with elements in a SOAP envelope (the soap package answered both without a code)', async function () {
      const ok = envelope(`<GetCaseStatus xmlns="${NS}"><caseId>${target}</caseId></GetCaseStatus>`);
      for (const c of ['&#0;', '&#xD800;', '&#x110000;', '\u0001']) {
        await refused(`SOAP ${JSON.stringify(c)} in the Header`, () => postSoap(ok.replace('<soap:Body>', `<soap:Header>${c}</soap:Header><soap:Body>`)), 500, 'MALFORMED_XML');
        await refused(`XML ${JSON.stringify(c)}`, () => postXml(signedXml().replace('<reasons>不符合', `<reasons>${c}`)), 400, 'MALFORMED_XML');
      }
      await refused('SOAP text beside a Header block', () => postSoap(ok.replace('<soap:Body>', '<soap:Header>text<a/></soap:Header><soap:Body>')), 500, 'MALFORMED_XML');
      await refused('SOAP text beside the operation', () => postSoap(ok.replace('<GetCaseStatus', 'text<GetCaseStatus')), 500, 'MALFORMED_XML');
      const answer = await postSoap(ok);
      expect(answer.status, answer.text).to.equal(200);
    });

    it('answers other methods than POST on the SOAP path with ROUTE_NOT_FOUND (the soap package answered them with an empty 200)', async function () {
      for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
        await refused(method, async () => json(await fetch(`${base}/soap/approval`, { method, headers: { 'content-type': 'text/xml' }, body: method === 'GET' ? undefined : '<a/>' })), 404, 'ROUTE_NOT_FOUND');
      }
      expect((await fetch(`${base}/soap/approval?wsdl`)).status).to.equal(200);
    });

    it('refuses oversized bodies on every entry point, with or without a Content-Length', async function () {
      const size = 2 * MiB;
      const pad = 'x'.repeat(size);
      const chunked = (text: string) =>
        new ReadableStream({
          start(c) {
            for (let i = 0; i < text.length; i += 65_536) c.enqueue(new TextEncoder().encode(text.slice(i, i + 65_536)));
            c.close();
          },
        });
      const send = async (path: string, type: string, body: string, streamed: boolean, token?: string) =>
        fetch(`${base}${path}`, { method: path.startsWith('/api/admin') ? 'PUT' : 'POST', headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: streamed ? chunked(body) : body, duplex: 'half' } as RequestInit);
      const admin = adminToken;
      const entries: [string, string, string, string | undefined, (r: Response) => Promise<Answer>, number, string][] = [
        ['/api/auth/login', 'application/json', JSON.stringify({ username: pad, password: 'x', otp: '000000' }), undefined, json, 413, 'BODY_TOO_LARGE'],
        ['/api/cases', 'application/json', JSON.stringify(application({ address: pad })), secretaryToken, json, 413, 'BODY_TOO_LARGE'],
        [opinionPath(), 'application/jose', `${pad}.${pad}.${pad}`, reviewerToken, json, 413, 'BODY_TOO_LARGE'],
        ['/api/admin/config', 'application/json', JSON.stringify({ pad }), admin, json, 413, 'BODY_TOO_LARGE'],
        ['/api/auth/step-up', 'application/json', JSON.stringify({ otp: pad }), admin, json, 413, 'BODY_TOO_LARGE'],
        ['/xml/messages', 'application/xml', `<opinion xmlns="${NS}"><reasons>${pad}</reasons></opinion>`, reviewerToken, xml, 413, 'XML_LIMIT_EXCEEDED'],
        ['/soap/approval', 'text/xml', envelope(`<SubmitOpinion xmlns="${NS}"><document>${pad}</document></SubmitOpinion>`), reviewerToken, soap, 500, 'XML_LIMIT_EXCEEDED'],
      ];
      for (const [path, type, body, token, read, status, code] of entries) {
        for (const streamed of [false, true]) {
          await refused(`${path} ${streamed ? 'chunked' : 'with length'}`, async () => read(await send(path, type, body, streamed, token)), status, code);
        }
      }
    });

    it('refuses a compressed body that inflates past the limit (a gzip bomb), and a corrupt compressed body, on every entry point', async function () {
      const bomb = gzipSync(Buffer.alloc(64 * MiB, 0x20)); // 64 MiB of spaces in about 64 KiB
      const corrupt = Buffer.from('this is not gzip');
      const admin = adminToken;
      const entries: [string, string, string | undefined, (r: Response) => Promise<Answer>, [number, string], [number, string]][] = [
        ['/api/auth/login', 'application/json', undefined, json, [413, 'BODY_TOO_LARGE'], [400, 'MALFORMED_JSON']],
        ['/api/cases', 'application/json', secretaryToken, json, [413, 'BODY_TOO_LARGE'], [400, 'MALFORMED_JSON']],
        [opinionPath(), 'application/jose', reviewerToken, json, [413, 'BODY_TOO_LARGE'], [400, 'MALFORMED_JSON']],
        ['/api/admin/adapters/x', 'application/json', admin, json, [413, 'BODY_TOO_LARGE'], [400, 'MALFORMED_JSON']],
        ['/xml/messages', 'application/xml', reviewerToken, xml, [413, 'XML_LIMIT_EXCEEDED'], [400, 'MALFORMED_XML']],
        ['/soap/approval', 'text/xml', reviewerToken, soap, [500, 'XML_LIMIT_EXCEEDED'], [500, 'MALFORMED_XML']],
      ];
      for (const [path, type, token, read, big, bad] of entries) {
        const method = path.startsWith('/api/admin') ? 'PUT' : 'POST';
        const send = (body: Buffer) => fetch(`${base}${path}`, { method, headers: { 'content-type': type, 'content-encoding': 'gzip', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: new Uint8Array(body) });
        await refused(`${path} bomb`, async () => read(await send(bomb)), ...big);
        // A corrupt stream was answered INTERNAL (500) before.
        await refused(`${path} corrupt`, async () => read(await send(corrupt)), ...bad);
      }
    });

    it('refuses a path parameter that is not valid percent-encoding (it was answered INTERNAL)', async function () {
      for (const path of [`/api/cases/%E0%A4%A`, '/api/cases/%', `/api/cases/${target}/reviews/%C0%AF/opinion`, '/api/admin/adapters/%ZZ', '/api/admin/calendar/days/%FF']) {
        await refused(`GET ${path}`, async () => json(await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${reviewerToken}` } })), 400, 'MALFORMED_PATH');
        await refused(`POST ${path}`, async () => json(await post(path, '{}', 'application/json', reviewerToken)), 400, 'MALFORMED_PATH');
      }
    });

    // Tokens and signatures.

    it("refuses a bearer token with alg 'none', and a signed answer with alg 'none'", async function () {
      const none = new UnsecuredJWT({ username: 'admin', role: 'admin', amr: ['pwd', 'otp'] }).setIssuer(GATEWAY_ID).setAudience(`${GATEWAY_ID}/api`).setSubject('u-admin').setIssuedAt().setExpirationTime('1h').setJti(randomUUID()).encode();
      await refused('bearer', async () => json(await fetch(`${base}/api/admin/config`, { headers: { authorization: `Bearer ${none}` } })), 401, 'UNAUTHENTICATED');
      await refused('bearer without the dot', async () => json(await fetch(`${base}/api/cases`, { headers: { authorization: `Bearer ${none.slice(0, -1)}` } })), 401, 'UNAUTHENTICATED');
      const [, payload] = (await signedJws()).split('.');
      const header = Buffer.from(JSON.stringify({ alg: 'none', kid: 'culture', typ: 'pag-message+jws' })).toString('base64url');
      await refused('signed answer', () => postJose(`${header}.${payload}.`), 401, 'SIGNATURE_INVALID');
      // An alg that is an object whose "toString" is not a function (String() of it threw: INTERNAL before).
      const odd = Buffer.from(JSON.stringify({ alg: { toString: 'x' }, kid: 'culture', typ: 'pag-message+jws' })).toString('base64url');
      await refused('an object alg', () => postJose(`${odd}.${payload}.`), 401, 'SIGNATURE_INVALID');
    });

    it('refuses an HS256 token or answer signed with a public key as the HMAC secret', async function () {
      const registry = JSON.parse(readFileSync(join(CERTS_DIR, 'registry.json'), 'utf8')) as { keys: { kid: string; owner: string; alg: string; publicKey: string }[] };
      const gatewayKey = registry.keys.find((k) => k.owner === 'gateway')!;
      const pem = readFileSync(join(CERTS_DIR, gatewayKey.publicKey));
      const token = await new SignJWT({ username: 'admin', role: 'admin', amr: ['pwd', 'otp'] })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuer(GATEWAY_ID).setAudience(`${GATEWAY_ID}/api`).setSubject('u-admin').setIssuedAt().setExpirationTime('1h').setJti(randomUUID()).sign(pem);
      await refused('bearer', async () => json(await fetch(`${base}/api/admin/config`, { headers: { authorization: `Bearer ${token}` } })), 401, 'UNAUTHENTICATED');
      const depKey = registry.keys.find((k) => k.owner === DEP)!;
      const [, payload] = (await signedJws()).split('.');
      const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: depKey.kid, typ: 'pag-message+jws' })).toString('base64url');
      const { createHmac } = await import('node:crypto');
      const sig = createHmac('sha256', readFileSync(join(CERTS_DIR, depKey.publicKey))).update(`${header}.${payload}`).digest('base64url');
      await refused('signed answer', () => postJose(`${header}.${payload}.${sig}`), 401, 'SIGNATURE_INVALID');
    });

    it('refuses an expired token and a token for another audience or issuer, though signed with the gateway\'s own key', async function () {
      const row = await db.get<{ value: string }>("SELECT value FROM settings WHERE key = 'token_secret'");
      const secret = Buffer.from(row!.value, 'base64');
      const now = Math.floor(Date.now() / 1000);
      const make = (iss: string, aud: string, iat: number, exp: number) =>
        new SignJWT({ username: 'admin', role: 'admin', amr: ['pwd', 'otp'] }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuer(iss).setAudience(aud).setSubject('u-admin').setIssuedAt(iat).setExpirationTime(exp).setJti(randomUUID()).sign(secret);
      const good = await make(GATEWAY_ID, `${GATEWAY_ID}/api`, now, now + 600);
      expect((await client(base, good).get('/api/me')).status, 'the control: a well-made token').to.equal(200);
      const bearer = async (t: string) => json(await fetch(`${base}/api/admin/config`, { headers: { authorization: `Bearer ${t}` } }));
      await refused('expired', async () => bearer(await make(GATEWAY_ID, `${GATEWAY_ID}/api`, now - 7200, now - 3600)), 401, 'UNAUTHENTICATED');
      await refused('another audience', async () => bearer(await make(GATEWAY_ID, 'qinhuai-gateway/api', now, now + 600)), 401, 'UNAUTHENTICATED');
      await refused('another issuer', async () => bearer(await make('qinhuai-gateway', `${GATEWAY_ID}/api`, now, now + 600)), 401, 'UNAUTHENTICATED');
      // A signed answer issued outside the window, and one addressed to another gateway.
      await refused('expired answer', async () => postJose(await signerFor(DEP).jws({ messageId: randomUUID(), kind: 'opinion', departmentId: DEP, caseId: target, decision: 'approve', reasons: null }, { issuedAt: new Date(Date.now() - 3_600_000).toISOString() })), 401, 'MESSAGE_EXPIRED');
      await refused('misaddressed answer', async () => postJose(await signerFor(DEP).jws({ messageId: randomUUID(), kind: 'opinion', departmentId: DEP, caseId: target, decision: 'approve', reasons: null }, { receiver: 'qinhuai-gateway' })), 403, 'MESSAGE_MISADDRESSED');
    });

    it('refuses a forged signature: changed bytes, a signature from another message, an empty signature', async function () {
      const [h, p, s] = (await signedJws({ decision: 'approve', reasons: null })).split('.') as [string, string, string];
      const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
      await refused('a changed signature', () => postJose(`${h}.${p}.${flipped}`), 401, 'SIGNATURE_INVALID');
      const [, , other] = (await signedJws()).split('.');
      await refused('a signature of another message', () => postJose(`${h}.${p}.${other}`), 401, 'SIGNATURE_INVALID');
      await refused('no signature', () => postJose(`${h}.${p}.`), 401, 'SIGNATURE_INVALID');
      // JSON that is no envelope under the real header and signature (null was answered INTERNAL before).
      for (const json of ['null', '1', '[]', '"x"']) {
        await refused(`payload ${json}`, () => postJose(`${h}.${Buffer.from(json).toString('base64url')}.${s}`), 401, 'SIGNATURE_INVALID');
      }
      const forgedXml = signedXml({ decision: 'approve', reasons: null }).replace(/<SignatureValue>[^<]{12}/, '<SignatureValue>AAAAAAAAAAAA');
      await refused('XML signature', () => postXml(forgedXml), 401, 'SIGNATURE_INVALID');
      // A Signature xml-crypto cannot load (found by the fuzz tests: it was answered INTERNAL).
      await refused('XML signature without DigestMethod', () => postXml(signedXml().replace('<DigestMethod', '<DigestMd')), 401, 'SIGNATURE_INVALID');
    });

    it('refuses a replayed message id carrying other content, and applies a resend of the same bytes once', async function () {
      const other = await newCase();
      const id = `replay-${randomUUID()}`;
      const first = await signedJws({ messageId: id, caseId: other, decision: 'approve', reasons: null });
      const ok = await postJose(first, reviewerToken, opinionPath(other));
      expect(ok.status, ok.text).to.equal(200);
      await refused('the same id for this case', async () => postJose(await signedJws({ messageId: id })), 409, 'MESSAGE_REPLAYED');
      await refused('the same id over XML', async () => postXml(signedXml({ messageId: id })), 409, 'MESSAGE_REPLAYED');
      // The very same bytes again are a resend: answered as a duplicate, changing nothing.
      const before = await snapshot(db);
      const again = await postJose(first, reviewerToken, opinionPath(other));
      expect(again.status).to.equal(200);
      expect(await snapshot(db)).to.deep.equal(before);
    });

    it("refuses an answer for another department: another reviewer's token, another department's key, another department's path", async function () {
      await refused('XML with the fire reviewer\'s token', () => postXml(signedXml(), fireToken), 403, 'REVIEWER_NOT_AUTHORISED');
      await refused('REST with the fire reviewer\'s token', async () => postJose(await signedJws(), fireToken), 404, 'NOT_FOUND');
      // The culture reviewer sends the fire brigade's signed answer for the fire review it does not hold.
      await refused('REST for the fire review', async () => postJose(await signedJws({}, 'xw-fire'), reviewerToken, opinionPath(target, 'xw-fire')), 403, 'REVIEWER_NOT_AUTHORISED');
      await refused('signed by fire, naming culture', async () => postJose(await signerFor(DEP).jws({ messageId: randomUUID(), kind: 'opinion', departmentId: DEP, caseId: target, decision: 'approve', reasons: null }, { signAs: 'xw-fire' })), 401, 'KEY_NOT_VALID');
      await refused('an answer for this case sent to another case\'s path', async () => postJose(await signedJws(), reviewerToken, opinionPath(second)), 401, 'SIGNATURE_INVALID');
    });

    // Injection strings.

    it('stores SQL-injection and path-traversal strings in free-text fields as text, and refuses them in constrained fields', async function () {
      const strings = [...SQLI, ...TRAVERSAL];
      const free = ['enterpriseName', 'industry', 'address', 'investors.name', 'contact.name'];
      const constrained = ['divisionCode', 'businessScope', 'investors.idNumber', 'contact.phone', 'contact.email', 'legalForm'];
      const set = (app: any, field: string, v: string) => {
        const [a, b] = field.split('.') as [string, string?];
        if (a === 'businessScope') app.businessScope = [v];
        else if (a === 'investors') app.investors[0][b!] = v;
        else if (b) app[a][b] = v;
        else app[a] = v;
      };
      const get = (c: any, field: string) => {
        const [a, b] = field.split('.') as [string, string?];
        return a === 'investors' ? c.application.investors[0][b!] : b ? c.application[a][b] : c.application[a];
      };
      let n = 0;
      for (const v of strings) {
        for (const field of constrained) {
          const app: any = application();
          set(app, field, v);
          await refused(`${field} = ${v}`, async () => { const r = await sec.post('/api/cases', app); return { status: r.status, code: r.body?.error?.code, text: JSON.stringify(r.body) }; }, 422, 'VALIDATION_FAILED');
        }
        for (const field of free) {
          const app: any = application();
          set(app, field, field === 'enterpriseName' ? `${v}-${++n}` : v);
          const before = (await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM cases'))!;
          const r = await sec.post('/api/cases', app);
          expect(r.status, `${field} = ${v}: ${JSON.stringify(r.body)}`).to.equal(201);
          const stored = (await sec.get(`/api/cases/${r.body.id}`)).body;
          expect(get(stored, field), `${field} stored verbatim`).to.equal(get({ application: app }, field));
          expect(Number((await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM cases'))!.n)).to.equal(Number(before.n) + 1);
        }
      }
      // Every table is still there and whole.
      const reviews = Number((await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM reviews'))!.n);
      expect(reviews).to.be.greaterThan(0);
      await stillServing();
    });

    it('treats SQL-injection and path-traversal strings in query strings, path parameters, login fields and XML/SOAP identifiers as data', async function () {
      for (const v of [...SQLI, ...TRAVERSAL]) {
        const q = encodeURIComponent(v);
        const listed = await sec.get(`/api/cases?enterpriseName=${q}&divisionCode=${q}&departmentId=${q}`);
        expect([listed.status, listed.body.total], v).to.deep.equal([200, 0]);
        await refused(`status = ${v}`, async () => { const r = await sec.get(`/api/cases?status=${q}`); return { status: r.status, code: r.body?.error?.code, text: JSON.stringify(r.body) }; }, 422, 'VALIDATION_FAILED');
        await refused(`case id = ${v}`, async () => { const r = await sec.get(`/api/cases/${q}`); return { status: r.status, code: r.body?.error?.code, text: JSON.stringify(r.body) }; }, 404, 'NOT_FOUND');
        await refused(`department in path = ${v}`, async () => postJose(await signedJws(), reviewerToken, `/api/cases/${target}/reviews/${q}/opinion`), 401, 'SIGNATURE_INVALID');
        await refused(`login username = ${v}`, async () => json(await post('/api/auth/login', JSON.stringify({ username: v, password: v, otp: '000000' }), 'application/json')), 401, 'LOGIN_FAILED');
        const esc = v.replace(/&/g, '&amp;').replace(/</g, '&lt;');
        // Identifiers are visible ASCII: a string with spaces is malformed; one without is looked up as an id and not found.
        const id = IDENTIFIER.test(v);
        // A correctly signed answer about a case that does not exist passed every check of the message itself, so its
        // message id is claimed (inbox_hashes) and cannot be reused with other content; nothing else changes.
        await refused(`XML caseId = ${v}`, () => postXml(signedXml({ caseId: v })), id ? 404 : 400, id ? 'NOT_FOUND' : 'MALFORMED_XML', ['inbox_hashes']);
        await refused(`SOAP GetCaseStatus caseId = ${v}`, () => postSoap(envelope(`<GetCaseStatus xmlns="${NS}"><caseId>${esc}</caseId></GetCaseStatus>`)), 500, id ? 'NOT_FOUND' : 'MALFORMED_XML');
      }
    });

    it('refuses the NUL character in paths, queries, JSON fields and signed-answer claims, and over-large offsets (PostgreSQL answered INTERNAL)', async function () {
      const get = async (path: string) => json(await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${secretaryToken}` } }));
      for (const path of ['/api/cases/%00', '/api/cases?enterpriseName=a%00b', '/api/cases?departmentId=%00', `/api/cases/${target}/events%00`]) {
        await refused(`GET ${path}`, () => get(path), 422, 'VALIDATION_FAILED');
      }
      for (const path of ['/api/cases?offset=99999999999999999999', '/api/cases?limit=9223372036854775808']) await refused(`GET ${path}`, () => get(path), 422, 'VALIDATION_FAILED');
      await refused('an application field', async () => json(await post('/api/cases', JSON.stringify(application({ enterpriseName: 'a\u0000b公司' })), 'application/json', secretaryToken)), 422, 'VALIDATION_FAILED');
      await refused('an investor name', async () => json(await post('/api/cases', JSON.stringify(application({ investors: [{ name: '\u0000', idNumber: '32010219800101001X' }] })), 'application/json', secretaryToken)), 422, 'VALIDATION_FAILED');
      await refused('a login name', async () => json(await post('/api/auth/login', JSON.stringify({ username: 'admin\u0000', password: 'x', otp: '000000' }), 'application/json')), 422, 'VALIDATION_FAILED');
      // A signed answer whose claimed message id holds NUL (its signature does not hold): refused for the signature and recorded.
      const [h, p, s] = (await signedJws()).split('.') as [string, string, string];
      const claims = { ...JSON.parse(Buffer.from(p, 'base64url').toString()), messageId: `nul\u0000${randomUUID()}` };
      await refused('a JWS claim', () => postJose(`${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`), 401, 'SIGNATURE_INVALID');
      await refused('a NUL in the JWS text', () => postJose(`${h}.${p}.${s}\u0000`), 401, 'SIGNATURE_INVALID');
      const recorded = await db.get<{ raw: string }>("SELECT raw FROM refused_messages WHERE raw LIKE $1 ORDER BY id DESC LIMIT 1", [`${h}.${p}.%`]);
      expect(recorded?.raw, 'the refusal is recorded, NUL replaced').to.equal(`${h}.${p}.${s}\uFFFD`);
    });

    it('refuses or confines path-traversal strings in configuration paths, and serves no file outside the console', async function () {
      const admin = client(base, adminToken);
      const soapAdapter = (wsdl: string) => ({ kind: 'soap', options: { wsdl, operation: 'Notify', fields: { caseId: 'caseId' } } });
      for (const wsdl of ['../../../../etc/passwd', '/etc/passwd', 'schemas/../../../etc/passwd', '..\\..\\etc\\passwd', './x.wsdl', 'a//b.wsdl']) {
        await refused(`WSDL ${wsdl}`, async () => { const r = await admin.put('/api/admin/adapters/soap-evil', soapAdapter(wsdl)); return { status: r.status, code: r.body?.error?.code, text: JSON.stringify(r.body) }; }, 422, 'CONFIG_CHANGE_INVALID');
      }
      const doc = (await admin.get('/api/admin/config')).body.document;
      for (const [section, change] of [
        ['calendar', (d: any) => (d.calendar = '../../../../etc/passwd')],
        ['demo users', (d: any) => (d.gateway.demoUsers = '/etc/passwd')],
      ] as const) {
        const next = structuredClone(doc);
        change(next);
        await refused(section, async () => { const r = await admin.put('/api/admin/config', next); return { status: r.status, code: r.body?.error?.code, text: JSON.stringify(r.body) }; }, 422, 'CONFIG_CHANGE_INVALID');
      }
      for (const name of ['../../etc', 'a/../b', '%2e%2e', '..\\..\\etc']) {
        await refused(`adapter name ${name}`, async () => { const r = await admin.put(`/api/admin/adapters/${encodeURIComponent(name)}`, { kind: 'fake', options: {} }); return { status: r.status, code: r.body?.error?.code, text: JSON.stringify(r.body) }; }, 422, 'CONFIG_CHANGE_INVALID');
      }
      // TLS files of REST and XML adapters are confined rather than refused: the change is stored, but the file is
      // never read, and health and the adapter test say why.
      for (const k of ['rest', 'xml']) {
        const put = await admin.put(`/api/admin/adapters/${k}-evil`, { kind: k, options: { url: 'https://127.0.0.1:9/x', tls: { ca: '../../../../etc/passwd' } } });
        expect(put.status, JSON.stringify(put.body)).to.equal(200);
        expect(put.body.adapter.health).to.deep.equal({ ok: false, detail: 'TLS settings unusable: ../../../../etc/passwd is outside the certificates folder' });
        if (k === 'rest') {
          // (The XML adapter has no document for a test message; its health above says the same.)
          const test = await admin.post(`/api/admin/adapters/${k}-evil/test?department=${DEP}`, {});
          expect(test.body, JSON.stringify(test.body)).to.include({ ok: false, failure: 'tls' });
          expect(test.body.detail).to.match(/outside the certificates folder/).and.not.to.match(/root:/);
        }
        expect((await admin.delete(`/api/admin/adapters/${k}-evil`)).status).to.equal(200);
      }
      // Static files: nothing outside console/ is served, however the path is spelt.
      for (const path of ['/../package.json', '/..%2fpackage.json', '/%2e%2e/%2e%2e/etc/passwd', '/console/..%2f..%2fcerts%2fregistry.json', '/..%5c..%5cpackage.json', '/%2e%2e%2fconfig%2fdemo-users.json']) {
        await refused(`GET ${path}`, async () => json(await fetch(`${base}${path}`)), 404, 'ROUTE_NOT_FOUND');
      }
    });

    // Memory.

    it('keeps memory bounded while refusing big bodies on every entry point', async function () {
      this.timeout(120_000);
      const big = 'x'.repeat(16 * MiB);
      const bodies = {
        xml: Buffer.from(`<opinion a="${big}"/>`),
        soap: Buffer.from(envelope(`<SubmitOpinion xmlns="${NS}" a="${big}"/>`)),
        json: Buffer.from(JSON.stringify({ enterpriseName: big })),
        jose: Buffer.from(big),
        login: Buffer.from(JSON.stringify({ username: big })),
      };
      const attacks = [
        () => post('/xml/messages', bodies.xml, 'application/xml', reviewerToken),
        () => post('/soap/approval', bodies.soap, 'text/xml', reviewerToken),
        () => post('/api/cases', bodies.json, 'application/json', reviewerToken),
        () => post(opinionPath(), bodies.jose, 'application/jose', reviewerToken),
        () => post('/api/auth/login', bodies.login, 'application/json'),
        () => post('/xml/messages', `${LOL}<r>&lol9;</r>`, 'application/xml', reviewerToken),
      ];
      const round = async () => expect(await Promise.all(attacks.map(async (a) => { const r = await a(); await r.arrayBuffer(); return r.status; }))).to.deep.equal([413, 500, 413, 413, 413, 400]);
      // One round first, so that what the runtime and the allocator keep after a first use of each path is not counted as growth.
      await round();
      const start = memory();
      const before = await snapshot(db);
      // The resident size is sampled while the requests run: its peak bounds what was held at once.
      let peak = start.rss;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
      try {
        for (let i = 0; i < 5; i++) await round();
      } finally {
        clearInterval(sampler);
      }
      const end = memory();
      expect(await snapshot(db)).to.deep.equal(before);
      await stillServing();
      // 30 requests of 16 MiB (480 MiB sent, 6 at a time). Afterwards the JavaScript heap and the buffers hold nothing of
      // them (a kept body would add 16 MiB each); while they ran, the resident size (client and gateway, one process)
      // stayed within the bodies in flight and their copies, where an expanded billion laughs alone would take 3 GB.
      const heapGrowth = (end.heap - start.heap) / MiB;
      const bufferGrowth = (end.buffers - start.buffers) / MiB;
      const rssPeak = (peak - start.rss) / MiB;
      expect(heapGrowth, `heap grew by ${heapGrowth.toFixed(1)} MiB`).to.be.below(16);
      expect(bufferGrowth, `buffers grew by ${bufferGrowth.toFixed(1)} MiB`).to.be.below(16);
      expect(rssPeak, `rss peaked ${rssPeak.toFixed(1)} MiB above the start`).to.be.below(512);
    });
  });
}
