// XML-DSig: our signatures verify with xmlsec1, xmlsec1's verify with us, and tampering, wrapping and wrong keys are refused.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayError } from '../../src/domain/errors.js';
import { KeyRegistry } from '../../src/trust/keys.js';
import { signXml, verifyXml } from '../../src/trust/xmldsig.js';

const T0 = Date.parse('2026-03-02T02:00:00Z');
const DOC = '<opinion xmlns="urn:pag:approval:1" messageId="m-0123"><caseId>0123</caseId><decision>refuse</decision><reasons>距离学校不足200米 &amp; 无消防通道</reasons></opinion>';

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof GatewayError) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('expected a refusal');
}

const xmlsec = (args: string[]) => spawnSync('xmlsec1', args, { encoding: 'utf8' });

describe('XML signatures (enveloped, RSA-SHA256, exclusive c14n)', function () {
  let dir: string;
  let reg: KeyRegistry;
  let kid: string;

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'pag-xmldsig-'));
    reg = new KeyRegistry(dir, false);
    kid = reg.generate('xw-fire', 'RS256', { now: T0 - 86_400_000 }).kid;
    reg.generate('xw-police', 'RS256', { now: T0 - 86_400_000 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('signs so that xmlsec1 verifies it with the public key alone, and verifies its own signature', function () {
    const signed = signXml(DOC, reg, 'xw-fire', T0);
    const file = join(dir, 'signed.xml');
    writeFileSync(file, signed);
    const entry = reg.list('xw-fire')[0]!;
    const r = xmlsec(['--verify', '--pubkey-pem', join(dir, entry.publicKey), file]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/^OK/m);
    const v = verifyXml(signed, reg, 'xw-fire', T0);
    expect(v.kid).to.equal(kid);
    expect(v.signedXml).to.include('<caseId>0123</caseId>');
  });

  it('verifies a signature that xmlsec1 made from a template', function () {
    const template = DOC.replace(
      '</opinion>',
      `<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI=""><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><KeyName/></KeyInfo></Signature></opinion>`,
    );
    const tmpl = join(dir, 'template.xml');
    const out = join(dir, 'by-xmlsec.xml');
    writeFileSync(tmpl, template);
    const entry = reg.list('xw-fire')[0]!;
    const r = xmlsec(['--sign', '--privkey-pem:' + kid, join(dir, entry.privateKey!), '--output', out, tmpl]);
    expect(r.status, r.stderr).to.equal(0);
    const signed = readFileSync(out, 'utf8');
    expect(signed).to.include(`<KeyName>${kid}</KeyName>`);
    expect(verifyXml(signed, reg, 'xw-fire', T0).kid).to.equal(kid);
  });

  it('refuses unsigned, altered, wrapped, foreign-key and non-RSA-SHA256 documents', function () {
    const signed = signXml(DOC, reg, 'xw-fire', T0);
    expect(refusal(() => verifyXml(DOC, reg, 'xw-fire', T0))).to.match(/^MESSAGE_UNSIGNED/);
    expect(refusal(() => verifyXml(signed.replace('<decision>refuse</decision>', '<decision>approve</decision>'), reg, 'xw-fire', T0))).to.match(/^SIGNATURE_INVALID/);
    // Wrapping: the signed original moved inside a new root that says something else.
    const wrapped = `<opinion xmlns="urn:pag:approval:1" messageId="m-0123"><decision>approve</decision><wrapper>${signed}</wrapper></opinion>`;
    expect(refusal(() => verifyXml(wrapped, reg, 'xw-fire', T0))).to.match(/^SIGNATURE_INVALID: .*exactly one Signature element, a child of the root/);
    const twice = signed.replace('</opinion>', `${/<Signature[\s\S]*<\/Signature>/.exec(signed)![0]}</opinion>`);
    expect(refusal(() => verifyXml(twice, reg, 'xw-fire', T0))).to.match(/^SIGNATURE_INVALID/);
    // Signed by the fire brigade's key, presented as the police: the key belongs to another sender.
    expect(refusal(() => verifyXml(signed, reg, 'xw-police', T0))).to.match(/^KEY_NOT_VALID: .*key of another sender/);
    const sha1 = signed.replace('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'http://www.w3.org/2000/09/xmldsig#rsa-sha1');
    expect(refusal(() => verifyXml(sha1, reg, 'xw-fire', T0))).to.match(/^SIGNATURE_INVALID: .*not RSA-SHA256/);
    expect(refusal(() => verifyXml(`<!DOCTYPE x [<!ENTITY a "b">]>${signed}`, reg, 'xw-fire', T0))).to.match(/^MALFORMED_XML/);
    const ec = new KeyRegistry(mkdtempSync(join(tmpdir(), 'pag-xmldsig-ec-')), false);
    ec.generate('xw-fire', 'ES256', { now: T0 });
    expect(refusal(() => signXml(DOC, ec, 'xw-fire', T0))).to.match(/^KEY_NOT_VALID: .*RSA-SHA256/);
    rmSync(ec.dir, { recursive: true, force: true });
  });

  it('refuses a Signature whose structure cannot be loaded (no DigestMethod, an unknown transform) as SIGNATURE_INVALID, not an exception', function () {
    const signed = signXml(DOC, reg, 'xw-fire', T0);
    for (const broken of [
      signed.replace(/<DigestMethod[^>]*\/>/, ''),
      signed.replace('<DigestMethod', '<DigestMd'),
      signed.replace(/<DigestValue>[^<]*<\/DigestValue>/, ''),
      signed.replace('enveloped-signature"', 'nothing"'),
      signed.replace(/<SignatureValue>[^<]*<\/SignatureValue>/, ''),
    ]) {
      expect(refusal(() => verifyXml(broken, reg, 'xw-fire', T0))).to.match(/^SIGNATURE_INVALID/);
    }
  });
});
