// XML-DSig for XML and SOAP messages: enveloped signature over the whole document, RSA-SHA256, exclusive canonicalisation.
import type { KeyObject } from 'node:crypto';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { GatewayError } from '../domain/errors.js';
import { readXml, type XmlLimits, XML_LIMITS } from '../xml/read.js';
import type { KeyEntry, KeyRegistry } from './keys.js';

export const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

const escape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Signs a document with `owner`'s current RSA key; the Signature is the root's last child and KeyInfo names the kid. */
export function signXml(xml: string, registry: KeyRegistry, owner: string, now = Date.now()): string {
  let found: ReturnType<KeyRegistry['signingKey']>;
  try {
    // An owner may also hold EC or Ed25519 keys for JSON; XML-DSig here signs with its RSA key only.
    found = registry.signingKey(owner, now, 'RS256');
  } catch (e) {
    if (e instanceof GatewayError && e.code === 'KEY_NOT_VALID') throw new GatewayError('KEY_NOT_VALID', { reason: `XML signatures use RSA-SHA256: ${String(e.details.reason)}` });
    throw e;
  }
  const { entry, key } = found;
  const sig = new SignedXml({
    privateKey: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
    getKeyInfoContent: () => `<KeyName>${escape(entry.kid)}</KeyName>`,
  });
  // URI="" with the enveloped transform: the whole document except the signature itself.
  sig.addReference({ xpath: '/*', uri: '', isEmptyUri: true, digestAlgorithm: SHA256, transforms: [ENVELOPED, EXC_C14N] });
  sig.computeSignature(xml, { location: { reference: '/*', action: 'append' } });
  return sig.getSignedXml();
}

/** A verified document: the XML that the signature covers (use this, not the received text) and the key that signed it. */
export interface VerifiedXml {
  signedXml: string;
  kid: string;
  entry: KeyEntry;
}

const invalid = (reason: string) => new GatewayError('SIGNATURE_INVALID', { reason });

/**
 * Verifies an enveloped signature by `sender`: exactly one Signature, a child of the root, over the whole document
 * (Reference URI=""), RSA-SHA256 with exclusive canonicalisation, by a current key of the sender named in KeyName.
 * The document is first read by the hardened reader (no DOCTYPE, bounded size and depth).
 */
export function verifyXml(xml: string, registry: KeyRegistry, sender: string, now = Date.now(), limits: XmlLimits = XML_LIMITS): VerifiedXml {
  const root = readXml(xml, limits);
  const direct = root.children.filter((c) => c.ns === DSIG_NS && c.name === 'Signature');
  const all = countSignatures(root);
  if (all === 0) throw new GatewayError('MESSAGE_UNSIGNED');
  // One signature, directly under the root: anything else is how signature-wrapping attacks start.
  if (all !== 1 || direct.length !== 1) throw invalid('exactly one Signature element, a child of the root, is expected');
  const si = direct[0]!.children.find((c) => c.name === 'SignedInfo' && c.ns === DSIG_NS);
  const method = si?.children.find((c) => c.name === 'SignatureMethod')?.attrs.Algorithm;
  const c14n = si?.children.find((c) => c.name === 'CanonicalizationMethod')?.attrs.Algorithm;
  const refs = si?.children.filter((c) => c.name === 'Reference') ?? [];
  if (method !== RSA_SHA256) throw invalid(`signature method ${method ?? '(none)'} is not RSA-SHA256`);
  if (c14n !== EXC_C14N) throw invalid('canonicalisation must be exclusive (xml-exc-c14n)');
  if (refs.length !== 1 || refs[0]!.attrs.URI !== '') throw invalid('the signature must cover the whole document (one Reference, URI="")');
  const kid = direct[0]!.children.find((c) => c.name === 'KeyInfo')?.children.find((c) => c.name === 'KeyName')?.text;
  if (!kid) throw invalid('KeyInfo names no key (KeyName)');
  const found = registry.verificationKey(kid, sender, 'RS256', now);
  if ('refusal' in found) throw new GatewayError('KEY_NOT_VALID', { reason: found.refusal, kid });

  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const node = doc.documentElement?.getElementsByTagNameNS(DSIG_NS, 'Signature')[0];
  if (!node) throw new GatewayError('MESSAGE_UNSIGNED');
  const sig = new SignedXml({ publicCert: pem(found.key), getCertFromKeyInfo: () => null });
  let ok = false;
  try {
    // Loading reads the Signature's structure: a Reference without DigestMethod, say, threw here, outside this try,
    // and was answered INTERNAL (500).
    sig.loadSignature(node);
    ok = sig.checkSignature(xml);
  } catch (e) {
    throw invalid((e as Error).message);
  }
  if (!ok) throw invalid('signature mismatch');
  const signed = sig.getSignedReferences();
  if (signed.length !== 1) throw invalid('the signature must cover exactly one reference');
  return { signedXml: signed[0]!, kid, entry: found.entry };
}

function countSignatures(el: ReturnType<typeof readXml>): number {
  return (el.ns === DSIG_NS && el.name === 'Signature' ? 1 : 0) + el.children.reduce((n, c) => n + countSignatures(c), 0);
}

const pem = (k: KeyObject): string => k.export({ type: 'spki', format: 'pem' }) as string;
