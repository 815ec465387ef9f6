// The XSD and the code agree: documents the gateway writes are valid, documents the reader refuses are invalid, the WSDL inlines the same types.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutgoingMessage } from '../../adapters/adapter.js';
import { SCHEMAS_DIR } from '../../src/paths.js';
import { incomingDocument, outgoingDocument, readIncoming, readOutgoing, resultDocument } from '../../src/xml/approval.js';
import { readXml, XML_LIMITS, type XmlElement } from '../../src/xml/read.js';

const XSD = join(SCHEMAS_DIR, 'xml/approval.xsd');
const WSDL = join(SCHEMAS_DIR, 'soap/approval.wsdl');
const dir = mkdtempSync(join(tmpdir(), 'pag-xsd-'));
let n = 0;

/** xmllint (libxml2-utils, installed by .ci/run) checks a document against the XSD. */
function xsdValid(xml: string): { ok: boolean; out: string } {
  const file = join(dir, `doc-${++n}.xml`);
  writeFileSync(file, xml);
  const r = spawnSync('xmllint', ['--noout', '--nonet', '--schema', XSD, file], { encoding: 'utf8' });
  if (r.error) throw new Error(`xmllint is needed for this test (apt-get install libxml2-utils): ${r.error.message}`);
  return { ok: r.status === 0, out: r.stderr };
}

const message = (kind: string, payload: Record<string, unknown>): OutgoingMessage => ({ id: '0a1b2c3d-0000-4000-8000-000000000001', kind, caseId: '0123', departmentId: 'xw-fire', sender: 'xuanwu-gateway', attempt: 2, payload });
const notification = message('notification', {
  caseId: '0123', reference: '320102-20250926-000001', departmentId: 'xw-fire', level: 'district', enterpriseName: '玄武 <茶> & "咖啡" 有限公司', legalForm: 'limited_liability_company',
  registeredCapital: 2000000, industry: 'catering', businessScope: ['catering', 'cafe'], address: '南京市玄武区珠江路88号', divisionCode: '320102', contact: { name: '李四', phone: '013900000000' }, reviewDays: 5,
});

const header = { receiver: 'xuanwu-gateway', issuedAt: '2025-09-26T02:00:00.000Z' };

describe('approval XSD and the code', function () {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('every document the gateway writes is valid against the XSD, and reads back as written', function () {
    const docs = [
      outgoingDocument(notification, new Date('2025-09-26T02:00:00Z'))!,
      outgoingDocument(message('cancellation', { reference: 'r', reason: 'refused by xw-health' }), new Date())!,
      outgoingDocument(message('extension_ack', { reference: 'r', dueAt: '2025-10-15T15:59:59.999Z' }), new Date())!,
      resultDocument({ ok: true, duplicate: false, caseId: '0123', caseStatus: 'in_review' }),
      resultDocument({ ok: false, code: 'REVIEW_NOT_OPEN', httpStatus: 409, message: 'The review <x> & y', retryable: false }),
      incomingDocument({ messageId: '0123', kind: 'opinion', departmentId: 'xw-fire', caseId: 'c', decision: 'refuse', reasons: '<script>&', requestHash: 'A'.repeat(43) }, header),
      incomingDocument({ messageId: 'm', kind: 'receipt', departmentId: 'xw-fire', caseId: 'c', ackOf: 'a' }, header),
      incomingDocument({ messageId: 'm', kind: 'permit', departmentId: 'xw-fire', caseId: 'c', permitNumber: '00710' }, header),
      outgoingDocument(message('province-report', {
        event: 'permit.revoked', occurredAt: '2025-11-17T02:00:00.000Z', caseId: '0123', reference: '320102-20250926-000001', creditCode: '91320102MA1XXXXX0X',
        enterpriseName: '玄武 <茶> & "咖啡" 有限公司', divisionCode: '320102', details: { departmentId: 'xw-health', findings: '后厨 <未整改> & 复查不合格' },
      }), new Date())!,
      outgoingDocument(message('province-report', { event: 'case.terminated', occurredAt: '2025-11-17T02:00:00.000Z', caseId: '0123', reference: 'r', creditCode: null, enterpriseName: 'n', divisionCode: '320102', details: {} }), new Date())!,
    ];
    for (const d of docs) expect(xsdValid(d), d).to.deep.include({ ok: true });
    expect(outgoingDocument(message('something_new', {}), new Date())).to.equal(null);
    const read = readOutgoing(docs[0]!);
    expect(read).to.include({ kind: 'notification', messageId: notification.id, sender: 'xuanwu-gateway', receiver: 'xw-fire', caseId: '0123', issuedAt: '2025-09-26T02:00:00.000Z', attempt: '2' });
    expect(read.fields).to.include({ 'form.enterpriseName': '玄武 <茶> & "咖啡" 有限公司', 'form.businessScope.item': 'catering,cafe', 'form.contact.phone': '013900000000' });
    expect(readIncoming(docs[5]!).msg).to.include({ messageId: '0123', reasons: '<script>&', requestHash: 'A'.repeat(43) });
    expect(readIncoming(docs[5]!)).to.include({ receiver: 'xuanwu-gateway', issuedAt: header.issuedAt, signed: false });
    const report = readOutgoing(docs[8]!);
    expect(report).to.include({ kind: 'province-report', receiver: 'xw-fire' });
    expect(report.fields).to.include({ event: 'permit.revoked', creditCode: '91320102MA1XXXXX0X', enterpriseName: '玄武 <茶> & "咖啡" 有限公司' });
    expect(docs[8]).to.include('<detail name="findings">后厨 &lt;未整改&gt; &amp; 复查不合格</detail>');
  });

  it('documents the reader refuses for structure are invalid against the XSD too', function () {
    const ns = 'urn:pag:approval:1';
    const base = '<messageId>m</messageId><departmentId>xw-fire</departmentId><receiver>g</receiver><caseId>c</caseId><issuedAt>2025-09-26T02:00:00Z</issuedAt>';
    const bad = [
      `<opinion xmlns="${ns}">${base}<decision>approve</decision><decision>refuse</decision></opinion>`,
      `<opinion xmlns="${ns}">${base}<decision>maybe</decision></opinion>`,
      `<opinion xmlns="${ns}">${base}</opinion>`,
      `<opinion xmlns="${ns}">${base}<decision>approve</decision><extra/></opinion>`,
      `<opinion xmlns="${ns}"><caseId>c</caseId><messageId>m</messageId><departmentId>xw-fire</departmentId><receiver>g</receiver><issuedAt>2025-09-26T02:00:00Z</issuedAt><decision>approve</decision></opinion>`,
      `<opinion xmlns="${ns}"><messageId>with space</messageId><departmentId>xw-fire</departmentId><receiver>g</receiver><caseId>c</caseId><issuedAt>2025-09-26T02:00:00Z</issuedAt><decision>approve</decision></opinion>`,
      // The header without its addressee and issue time (the form before signed messages).
      `<opinion xmlns="${ns}"><messageId>m</messageId><departmentId>xw-fire</departmentId><caseId>c</caseId><decision>approve</decision></opinion>`,
      `<opinion xmlns="${ns}">${base}<requestHash>short</requestHash><decision>approve</decision></opinion>`,
      `<opinion xmlns="${ns}">${base}<decision>refuse</decision><reasons>${'x'.repeat(2001)}</reasons></opinion>`,
      `<permitReport xmlns="${ns}">${base}<permitNumber></permitNumber></permitReport>`,
      `<receipt xmlns="${ns}">${base}</receipt>`,
    ];
    for (const d of bad) {
      expect(() => readIncoming(d), d).to.throw();
      expect(xsdValid(d).ok, d).to.equal(false);
    }
  });

  it('the WSDL inlines the XSD types unchanged, and its operations are the five of the service', function () {
    const named = (parent: XmlElement) =>
      new Map(parent.children.filter((c) => c.name === 'complexType' || c.name === 'simpleType').map((c) => [c.attrs.name!, JSON.stringify(c)]));
    const xsd = readXml(readFileSync(XSD, 'utf8'), { ...XML_LIMITS, maxBytes: 1_000_000 });
    const wsdl = readXml(readFileSync(WSDL, 'utf8'), { ...XML_LIMITS, maxBytes: 1_000_000 });
    const wsdlSchema = wsdl.children.find((c) => c.name === 'types')!.children[0]!;
    const a = named(xsd);
    const b = named(wsdlSchema);
    expect([...b.keys()].sort()).to.deep.equal([...a.keys()].sort());
    for (const [name, def] of a) expect(b.get(name), name).to.equal(def);
    const ops = wsdl.children.find((c) => c.name === 'portType')!.children.map((c) => c.attrs.name);
    expect(ops).to.deep.equal(['SubmitOpinion', 'AcknowledgeNotification', 'ReportPermit', 'ReportInspection', 'GetCaseStatus']);
  });
});
