// Hardened XML reading for documents from outside: no DOCTYPE or entities, bounded size, depth, text and attributes; values stay strings.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { GatewayError } from '../domain/errors.js';

/** Limits on one incoming document. */
export interface XmlLimits {
  /** Total size in bytes (UTF-8). */
  maxBytes: number;
  /** Element nesting depth (the root is depth 1). */
  maxDepth: number;
  /** Characters of one element's text. */
  maxText: number;
  /** Characters of one attribute value. */
  maxAttribute: number;
  /** Elements in the whole document. */
  maxElements: number;
}

export const XML_LIMITS: Readonly<XmlLimits> = Object.freeze({ maxBytes: 65_536, maxDepth: 16, maxText: 8_192, maxAttribute: 1_024, maxElements: 2_000 });

/** One element with its namespace resolved; `text` is its character content (trimmed), children in document order. */
export interface XmlElement {
  name: string;
  ns: string | null;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const malformed = (reason: string) => new GatewayError('MALFORMED_XML', { reason });
const limit = (reason: string) => new GatewayError('XML_LIMIT_EXCEEDED', { reason });

// Entity references other than the five predefined ones and character references can only be defined in a DOCTYPE,
// which is refused; an undefined one is a well-formedness error that fast-xml-parser would pass through as text.
const UNDEFINED_ENTITY = /&(?!(?:lt|gt|amp|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});)/;
const CDATA = /<!\[CDATA\[[\s\S]*?\]\]>/g;
/** XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]; a lone surrogate is none. */
const NOT_XML_CHAR = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const CHAR_REF = /&#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}));/g;

function parser(maxDepth: number): XMLParser {
  return new XMLParser({
    preserveOrder: true, // keeps duplicates as separate elements, so "one expected, two found" is visible
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false, // identifiers stay strings: "0123" is not 123
    parseAttributeValue: false,
    trimValues: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
    // Only the predefined entities and character references are decoded (an object here means "no HTML names"),
    // and DOCTYPEs are refused before parsing, so nothing can expand beyond the document's own size.
    processEntities: true,
    htmlEntities: {} as unknown as boolean, // typed boolean, but the parser takes a map of named entities
    maxNestedTags: maxDepth,
  });
}

type Ordered = Record<string, unknown> & { ':@'?: Record<string, string> };

/**
 * Reads one document. Throws MALFORMED_XML (400) for a document that is not well-formed or carries a DOCTYPE, and
 * XML_LIMIT_EXCEEDED (413) for one beyond `limits`.
 */
export function readXml(input: string | Buffer, limits: XmlLimits = XML_LIMITS): XmlElement {
  const bytes = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (bytes > limits.maxBytes) throw limit(`the document is larger than ${limits.maxBytes} bytes`);
  const text = typeof input === 'string' ? input : input.toString('utf8');
  if (text.trim() === '') throw malformed('the document is empty');
  // No DOCTYPE at all: internal entities (billion laughs) and external ones (file or network reads) need one.
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) throw malformed('document type declarations are not allowed');
  if (UNDEFINED_ENTITY.test(text.replace(CDATA, ''))) throw malformed('undefined entity reference');
  // Characters XML 1.0 does not allow, written as such or as character references (&#0;, &#xD800;, &#x110000;): the
  // parser here decoded them, while the soap package's parser refused them with a fault of its own, without a code.
  if (NOT_XML_CHAR.test(text)) throw malformed('a character XML does not allow');
  for (const m of text.replace(CDATA, '').matchAll(CHAR_REF)) {
    const c = m[1] ? parseInt(m[1], 16) : Number(m[2]);
    if (!(c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff))) {
      throw malformed(`character reference ${m[0]} is not an XML character`);
    }
  }
  // The validator lets text after a self-closed root pass; outside the root only markup and white space may appear.
  if (!/^\uFEFF?\s*</.test(text) || !/>\s*$/.test(text)) throw malformed('text outside the root element');
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) throw malformed(`${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  let tree: Ordered[];
  try {
    tree = parser(limits.maxDepth).parse(text) as Ordered[];
  } catch (e) {
    if (/nested tags/i.test((e as Error).message)) throw limit(`elements are nested deeper than ${limits.maxDepth}`);
    throw malformed((e as Error).message);
  }
  const roots = tree.filter((n) => elementName(n) !== null);
  if (roots.length !== 1) throw malformed(`a document has exactly one root element, not ${roots.length}`);
  if (tree.some((n) => '#text' in n)) throw malformed('text outside the root element');
  const counter = { elements: 0 };
  return toElement(roots[0]!, { '': null }, limits, counter, 1);
}

function elementName(n: Ordered): string | null {
  return Object.keys(n).find((k) => k !== ':@' && k !== '#text') ?? null;
}

function toElement(n: Ordered, scope: Record<string, string | null>, limits: XmlLimits, counter: { elements: number }, depth: number): XmlElement {
  if (++counter.elements > limits.maxElements) throw limit(`more than ${limits.maxElements} elements`);
  if (depth > limits.maxDepth) throw limit(`elements are nested deeper than ${limits.maxDepth}`);
  const qname = elementName(n)!;
  const raw = n[':@'] ?? {};
  const local: Record<string, string | null> = { ...scope };
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') throw malformed(`attribute ${k} has no value`);
    if (v.length > limits.maxAttribute) throw limit(`attribute ${k} is longer than ${limits.maxAttribute} characters`);
    if (k === 'xmlns') local[''] = v || null;
    else if (k.startsWith('xmlns:')) local[k.slice(6)] = v;
    else attrs[k.includes(':') ? k.slice(k.indexOf(':') + 1) : k] = v;
  }
  const colon = qname.indexOf(':');
  const prefix = colon >= 0 ? qname.slice(0, colon) : '';
  if (!(prefix in local)) throw malformed(`undeclared namespace prefix ${prefix}`);
  const el: XmlElement = { name: colon >= 0 ? qname.slice(colon + 1) : qname, ns: local[prefix] ?? null, attrs, children: [], text: '' };
  const content = n[qname];
  for (const c of Array.isArray(content) ? (content as Ordered[]) : []) {
    if ('#text' in c) {
      el.text += String(c['#text']);
      if (el.text.length > limits.maxText) throw limit(`the text of ${el.name} is longer than ${limits.maxText} characters`);
    } else if (elementName(c) !== null) {
      el.children.push(toElement(c, local, limits, counter, depth + 1));
    }
  }
  return el;
}

/** One field of a sequence: at most once, in this order, like an XSD `xs:sequence` of `maxOccurs="1"` elements. */
export interface FieldRule {
  name: string;
  required?: boolean;
  pattern?: RegExp;
  maxLength?: number;
  /** Allowed values (an XSD enumeration). */
  values?: readonly string[];
  /** The field has child elements rather than text. */
  complex?: boolean;
  /** May repeat (XSD maxOccurs="unbounded"); its values come back as an array. */
  repeated?: boolean;
}

/**
 * Checks `el`'s children against a sequence (order, at most once unless repeated, required ones present, no others, text
 * rules) and returns the texts by name. A duplicated element is refused, never turned into an array or last-wins.
 */
export function sequence(el: XmlElement, ns: string, rules: readonly FieldRule[]): Record<string, string | string[] | XmlElement | XmlElement[] | undefined> {
  const out: Record<string, string | string[] | XmlElement | XmlElement[] | undefined> = {};
  let i = 0;
  for (const c of el.children) {
    if (c.ns !== ns) throw malformed(`element ${c.name} in ${el.name} is not in namespace ${ns}`);
    while (i < rules.length && rules[i]!.name !== c.name) i++;
    const rule = rules[i];
    if (!rule) {
      const known = rules.some((r) => r.name === c.name);
      throw malformed(known ? `element ${c.name} in ${el.name} is duplicated or out of order` : `unexpected element ${c.name} in ${el.name}`);
    }
    if (out[rule.name] !== undefined && !rule.repeated) throw malformed(`element ${c.name} in ${el.name} is duplicated`);
    if (!rule.complex && c.children.length > 0) throw malformed(`element ${c.name} has child elements`);
    if (!rule.complex) {
      if (rule.maxLength !== undefined && c.text.length > rule.maxLength) throw malformed(`${c.name} is longer than ${rule.maxLength} characters`);
      if (rule.pattern && !rule.pattern.test(c.text)) throw malformed(`${c.name} is not in the expected form`);
      if (rule.values && !rule.values.includes(c.text)) throw malformed(`${c.name} must be one of ${rule.values.join(', ')}`);
    }
    const value = rule.complex ? c : c.text;
    if (rule.repeated) ((out[rule.name] ??= []) as unknown[]).push(value);
    else out[rule.name] = value;
    if (!rule.repeated) i++;
  }
  for (const r of rules) if (r.required && out[r.name] === undefined) throw malformed(`${el.name} needs a ${r.name} element`);
  return out;
}
