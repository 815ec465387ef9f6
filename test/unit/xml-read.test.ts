// The hardened XML reader against hostile documents: entities, DOCTYPEs, depth, size, long values, duplicates, leading zeros.
import { expect } from 'chai';
import type { ErrorCode } from '../../src/domain/errors.js';
import { GatewayError } from '../../src/domain/errors.js';
import { readIncoming } from '../../src/xml/approval.js';
import { readXml, sequence, XML_LIMITS } from '../../src/xml/read.js';

const NS = 'urn:pag:approval:1';
const opinion = (inner: string) => `<?xml version="1.0" encoding="UTF-8"?><opinion xmlns="${NS}">${inner}</opinion>`;
const fields = (over: Record<string, string> = {}) => {
  const f = { messageId: 'm-1', departmentId: 'xw-fire', receiver: 'xuanwu-gateway', caseId: 'c-1', issuedAt: '2025-09-26T02:00:00Z', decision: 'approve', ...over };
  return Object.entries(f).map(([k, v]) => `<${k}>${v}</${k}>`).join('');
};

function refused(fn: () => unknown, code: ErrorCode, reason?: RegExp): GatewayError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(GatewayError);
    const g = e as GatewayError;
    expect(g.code, g.message).to.equal(code);
    if (reason) expect(g.message).to.match(reason);
    return g;
  }
  throw new Error(`expected ${code}, but the document was accepted`);
}

describe('hardened XML reader', function () {
  it('reads a good opinion, keeping identifiers as strings ("0123" stays "0123")', function () {
    const m = readIncoming(opinion(fields({ messageId: '0123', caseId: '000042', decision: 'refuse' }) + '<reasons>消防通道 &lt;不足&gt; &amp; 需整改 &#x4e2d;</reasons>'));
    expect(m).to.deep.equal({
      msg: { messageId: '0123', kind: 'opinion', departmentId: 'xw-fire', caseId: '000042', decision: 'refuse', reasons: '消防通道 <不足> & 需整改 中' },
      receiver: 'xuanwu-gateway',
      issuedAt: '2025-09-26T02:00:00Z',
      signed: false,
    });
  });

  it('accepts a prefixed namespace and resolves it', function () {
    const m = readIncoming(`<p:receipt xmlns:p="${NS}"><p:messageId>r1</p:messageId><p:departmentId>xw-fire</p:departmentId><p:receiver>g</p:receiver><p:caseId>c</p:caseId><p:issuedAt>2025-09-26T02:00:00Z</p:issuedAt><p:ackOf>m</p:ackOf></p:receipt>`);
    expect(m.msg).to.include({ kind: 'receipt', ackOf: 'm' });
  });

  it('refuses the billion laughs (internal entities) without expanding anything', function () {
    const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><opinion xmlns="${NS}"><messageId>&lol3;</messageId></opinion>`;
    refused(() => readXml(lol), 'MALFORMED_XML', /document type declarations/);
  });

  it('refuses an external entity, and a DOCTYPE in any letter case', function () {
    refused(() => readXml(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>`), 'MALFORMED_XML', /document type/);
    refused(() => readXml(`<!doctype r SYSTEM "http://127.0.0.1:9/evil.dtd"><r/>`), 'MALFORMED_XML', /document type/);
    refused(() => readXml(`<r><![CDATA[x]]></r><!ENTITY a "b">`), 'MALFORMED_XML');
  });

  it('refuses references to undefined entities, but not an ampersand inside CDATA', function () {
    refused(() => readXml('<r>&nbsp;</r>'), 'MALFORMED_XML', /undefined entity/);
    expect(readXml('<r><![CDATA[a & b]]></r>').text).to.equal('a & b');
  });

  it('refuses characters XML does not allow, as such or as character references, and reads the allowed ones', function () {
    for (const ref of ['&#0;', '&#x0;', '&#x1F;', '&#xD800;', '&#xFFFE;', '&#x110000;', '&#1114112;']) refused(() => readXml(`<r>a${ref}b</r>`), 'MALFORMED_XML', /not an XML character/);
    for (const raw of ['\u0000', '\u0008', '\uFFFF', '\uD800']) refused(() => readXml(`<r>a${raw}b</r>`), 'MALFORMED_XML', /does not allow/);
    expect(readXml('<r>&#9;&#x41;&#xE000;&#x10FFFF;\u{1F600}</r>').text).to.equal('\tA\uE000\u{10FFFF}\u{1F600}');
  });

  it('refuses nesting deeper than the limit with XML_LIMIT_EXCEEDED', function () {
    const deep = '<a>'.repeat(XML_LIMITS.maxDepth + 1) + '</a>'.repeat(XML_LIMITS.maxDepth + 1);
    refused(() => readXml(deep), 'XML_LIMIT_EXCEEDED', /nested/);
    const hostile = '<a>'.repeat(20_000) + '</a>'.repeat(20_000);
    refused(() => readXml(hostile), 'XML_LIMIT_EXCEEDED');
    const ok = '<a>'.repeat(XML_LIMITS.maxDepth) + '</a>'.repeat(XML_LIMITS.maxDepth);
    expect(readXml(ok).name).to.equal('a');
  });

  it('refuses a document over the size limit, a huge attribute and a huge text', function () {
    refused(() => readXml(`<r>${'x'.repeat(XML_LIMITS.maxBytes)}</r>`), 'XML_LIMIT_EXCEEDED', /larger than/);
    refused(() => readXml(`<r a="${'x'.repeat(XML_LIMITS.maxAttribute + 1)}"/>`), 'XML_LIMIT_EXCEEDED', /attribute a/);
    refused(() => readXml(`<r>${'x'.repeat(XML_LIMITS.maxText + 1)}</r>`), 'XML_LIMIT_EXCEEDED', /text of r/);
    refused(() => readXml(`<r>${'<e/>'.repeat(XML_LIMITS.maxElements + 1)}</r>`), 'XML_LIMIT_EXCEEDED', /elements/);
  });

  it('refuses a duplicated element where one is expected, instead of an array or the last value', function () {
    refused(() => readIncoming(opinion(fields() + '<decision>refuse</decision>')), 'MALFORMED_XML', /decision/);
    refused(() => readIncoming(opinion('<messageId>a</messageId><messageId>b</messageId><departmentId>xw-fire</departmentId><receiver>g</receiver><caseId>c</caseId><issuedAt>2025-09-26T02:00:00Z</issuedAt><decision>approve</decision>')), 'MALFORMED_XML', /messageId/);
    // Repeatable elements are the exception, and come back as lists.
    const scope = readXml(`<s xmlns="${NS}"><item>0123</item><item>b</item></s>`);
    expect(sequence(scope, NS, [{ name: 'item', repeated: true }])).to.deep.equal({ item: ['0123', 'b'] });
  });

  it('refuses documents that break the XSD rules: missing, unknown or out-of-order elements, bad values, wrong namespace', function () {
    refused(() => readIncoming(opinion(fields().replace('<decision>approve</decision>', ''))), 'MALFORMED_XML', /needs a decision/);
    refused(() => readIncoming(opinion(fields() + '<extra>1</extra>')), 'MALFORMED_XML', /unexpected element extra/);
    refused(() => readIncoming(opinion('<caseId>c</caseId><messageId>a</messageId><departmentId>xw-fire</departmentId><decision>approve</decision>')), 'MALFORMED_XML');
    refused(() => readIncoming(opinion(fields({ decision: 'maybe' }))), 'MALFORMED_XML', /decision must be one of/);
    refused(() => readIncoming(opinion(fields({ messageId: 'has space' }))), 'MALFORMED_XML', /messageId/);
    refused(() => readIncoming(`<opinion xmlns="urn:other">${fields()}</opinion>`), 'MALFORMED_XML', /namespace/);
    refused(() => readIncoming(`<opinion>${fields()}</opinion>`), 'MALFORMED_XML', /namespace/);
  });

  it('refuses documents that are not well-formed', function () {
    for (const bad of ['', '   ', '<a>', '<a></b>', '<a x="1" x="2"/>', '<a/><b/>', '<a/>trailing', 'not xml', `<p:a xmlns:q="x"/>`]) {
      refused(() => readXml(bad), 'MALFORMED_XML');
    }
  });
});
