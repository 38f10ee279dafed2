// FETCH data items and modifiers to typed items, and the name each item has
// in the FETCH response.
//
// SECURITY: tokens are client data (attacker-controlled). Never throws;
// section part paths are limited to 64 levels, partial numbers to 2^53-1.
//
// Implements (ABNF of RFC 9051 §9 / RFC 3501 §9):
//   fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
//           "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
//   fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" / "RFC822" [".HEADER" /
//     ".SIZE" / ".TEXT"] / "BODY" ["STRUCTURE"] / "UID" /
//     "BODY" section [partial] / "BODY.PEEK" section [partial] /
//     "BINARY" [".PEEK"] section-binary [partial] / "BINARY.SIZE" section-binary
//   section = "[" [section-spec] "]"; section-spec = section-msgtext /
//     (section-part ["." section-text]); section-msgtext = "HEADER" /
//     "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"; section-text =
//     section-msgtext / "MIME"; section-part = nz-number *("." nz-number);
//     header-list = "(" header-fld-name *(SP header-fld-name) ")"
//   section-binary = "[" [section-part] "]"; partial = "<" number "." nz-number ">"
//   RFC 7162 §3.1.4.1 / §3.2.6: fetch-modifier "CHANGEDSINCE" SP
//     mod-sequence-value and "VANISHED" (UID FETCH only, needs CHANGEDSINCE);
//     fetch-att "MODSEQ" (§3.1.5 of RFC 7162's ABNF).
// Macros: ALL = (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE), FAST = (FLAGS
// INTERNALDATE RFC822.SIZE), FULL = ALL + BODY; only on their own, not in a list.
// The reader gives a BODY[...] item as one atom with a `section` (see
// reader.ts); header field names keep the client's spelling, and
// responseName() repeats the section as requested with only "<origin>" of a
// partial (RFC 9051 §7.5.2 BODY[<section>]<<origin octet>>).
import type { Token } from "./reader.js";
import { astring, keyword, modSeqArg, type Result } from "./args.js";

export type SectionText = "HEADER" | "HEADER.FIELDS" | "HEADER.FIELDS.NOT" | "TEXT" | "MIME";

export interface Section {
  /** Part path, [] for the whole message. */
  part: number[];
  text?: SectionText;
  /** Header field names for HEADER.FIELDS[.NOT], as the client spelled them. */
  fields?: string[];
}

export interface FetchPartial {
  offset: number;
  length: number;
}

export type SimpleFetchItem =
  | "FLAGS" | "INTERNALDATE" | "RFC822" | "RFC822.HEADER" | "RFC822.TEXT" | "RFC822.SIZE"
  | "ENVELOPE" | "BODY" | "BODYSTRUCTURE" | "UID" | "MODSEQ";

export type FetchItem =
  | { kind: SimpleFetchItem }
  /** BODY[section]<partial> and BODY.PEEK[...] (peek: does not set \Seen). */
  | { kind: "section"; peek: boolean; section: Section; partial?: FetchPartial }
  /** BINARY[part]<partial> and BINARY.PEEK[...] (RFC 3516 §4.1). */
  | { kind: "binary"; peek: boolean; part: number[]; partial?: FetchPartial }
  /** BINARY.SIZE[part]. */
  | { kind: "binary.size"; part: number[] };

export interface FetchArgs {
  items: FetchItem[];
  /** Set when the items came from ALL, FAST or FULL. */
  macro?: "ALL" | "FAST" | "FULL";
  /** CHANGEDSINCE modifier (RFC 7162): the session also returns MODSEQ. */
  changedSince?: number;
  /** VANISHED modifier (RFC 7162 §3.2.6). */
  vanished: boolean;
}

const SIMPLE = new Set<string>(["FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.TEXT", "RFC822.SIZE", "ENVELOPE", "BODY", "BODYSTRUCTURE", "UID", "MODSEQ"]);
const MACROS: Record<string, SimpleFetchItem[]> = {
  ALL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
  FAST: ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
  FULL: ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
};
const MAX_PART_DEPTH = 64;

const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });

/** The FETCH arguments after the sequence set: items (macro, one item or a list) and optional
 * modifiers. uid: this is UID FETCH (VANISHED is allowed only there). */
export function parseFetchItems(tokens: readonly Token[], options: { uid?: boolean } = {}): Result<FetchArgs> {
  const spec = tokens[0];
  if (!spec) return fail("Missing FETCH items");
  const value: FetchArgs = { items: [], vanished: false };
  if (spec.t === "list") {
    if (spec.v.length === 0) return fail("Empty FETCH item list");
    for (const t of spec.v) {
      const item = parseFetchAtt(t);
      if (!item.ok) return item;
      value.items.push(item.value);
    }
  } else if (spec.t === "atom" && !spec.section && MACROS[spec.v.toUpperCase()]) {
    const macro = spec.v.toUpperCase() as "ALL" | "FAST" | "FULL";
    value.macro = macro;
    value.items = MACROS[macro]!.map((kind) => ({ kind }));
  } else {
    const item = parseFetchAtt(spec);
    if (!item.ok) return item;
    value.items.push(item.value);
  }
  if (tokens.length > 2) return fail("Too many FETCH arguments");
  const mods = tokens[1];
  if (mods) {
    if (mods.t !== "list") return fail("FETCH modifiers must be a parenthesized list");
    for (let k = 0; k < mods.v.length; k++) {
      const name = keyword(mods.v[k], "FETCH modifier");
      if (!name.ok) return name;
      if (name.value === "CHANGEDSINCE") {
        const n = modSeqArg(mods.v[++k], "CHANGEDSINCE value", { zero: true });
        if (!n.ok) return n;
        value.changedSince = n.value;
      } else if (name.value === "VANISHED") {
        value.vanished = true;
      } else return fail(`Unknown FETCH modifier ${name.value.slice(0, 40)}`);
    }
    if (value.vanished && !options.uid) return fail("VANISHED is only allowed in UID FETCH");
    if (value.vanished && value.changedSince === undefined) return fail("VANISHED requires CHANGEDSINCE");
  }
  return { ok: true, value };
}

/** One fetch-att. */
export function parseFetchAtt(tok: Token | undefined): Result<FetchItem> {
  if (!tok || tok.t !== "atom") return fail("Invalid FETCH item");
  if (!tok.section) {
    const name = tok.v.toUpperCase();
    if (SIMPLE.has(name)) return { ok: true, value: { kind: name as SimpleFetchItem } };
    if (MACROS[name]) return fail(`${name} must be used alone, not in a list`);
    return fail(`Unknown FETCH item ${tok.v.slice(0, 60)}`);
  }
  const { prefix, inner, suffix } = tok.section;
  const kind = prefix.toUpperCase();
  const partial = parsePartial(suffix);
  if (!partial.ok) return partial;
  if (kind === "BODY" || kind === "BODY.PEEK") {
    const section = parseSection(inner);
    if (!section.ok) return section;
    const item: FetchItem = { kind: "section", peek: kind === "BODY.PEEK", section: section.value };
    if (partial.value) item.partial = partial.value;
    return { ok: true, value: item };
  }
  const part = inner.length === 0 ? { ok: true as const, value: [] as number[] } : inner.length === 1 ? parsePartPath(inner[0]) : fail("Invalid BINARY section");
  if (!part.ok) return part;
  if (kind === "BINARY.SIZE") {
    if (partial.value) return fail("BINARY.SIZE takes no partial");
    return { ok: true, value: { kind: "binary.size", part: part.value } };
  }
  const item: FetchItem = { kind: "binary", peek: kind === "BINARY.PEEK", part: part.value };
  if (partial.value) item.partial = partial.value;
  return { ok: true, value: item };
}

function parsePartial(suffix: string): Result<FetchPartial | undefined> {
  if (suffix === "") return { ok: true, value: undefined };
  const m = /^<(\d{1,15})\.(\d{1,15})>$/.exec(suffix);
  if (!m) return fail(`Invalid partial ${suffix.slice(0, 40)} (expected <offset.length>)`);
  const offset = Number(m[1]);
  const length = Number(m[2]);
  if (length === 0) return fail("Partial length must not be 0");
  return { ok: true, value: { offset, length } };
}

function parsePartPath(tok: Token | undefined): Result<number[]> {
  if (tok?.t !== "atom" || tok.section) return fail("Invalid section part");
  const parts = tok.v.split(".");
  if (parts.length > MAX_PART_DEPTH) return fail(`Section part deeper than ${MAX_PART_DEPTH} levels`);
  const out: number[] = [];
  for (const p of parts) {
    if (!/^[1-9]\d{0,9}$/.test(p)) return fail(`Invalid section part ${tok.v.slice(0, 40)}`);
    out.push(Number(p));
  }
  return { ok: true, value: out };
}

/** section-spec from the tokens inside "[...]". */
export function parseSection(inner: readonly Token[]): Result<Section> {
  if (inner.length === 0) return { ok: true, value: { part: [] } };
  const spec = inner[0]!;
  if (spec.t !== "atom" || spec.section) return fail("Invalid section");
  const components = spec.v.split(".");
  const part: number[] = [];
  let k = 0;
  while (k < components.length && /^\d+$/.test(components[k]!)) {
    const c = components[k]!;
    if (!/^[1-9]\d{0,9}$/.test(c)) return fail(`Invalid section part number ${c.slice(0, 20)}`);
    if (part.length >= MAX_PART_DEPTH) return fail(`Section part deeper than ${MAX_PART_DEPTH} levels`);
    part.push(Number(c));
    k++;
  }
  const rest = components.slice(k).join(".").toUpperCase();
  if (rest === "") {
    if (inner.length > 1) return fail("Unexpected data after section part");
    return { ok: true, value: { part } };
  }
  if (rest === "HEADER" || rest === "TEXT" || rest === "MIME") {
    if (inner.length > 1) return fail(`Unexpected data after ${rest}`);
    if (rest === "MIME" && part.length === 0) return fail("MIME needs a part number");
    return { ok: true, value: { part, text: rest } };
  }
  if (rest === "HEADER.FIELDS" || rest === "HEADER.FIELDS.NOT") {
    const list = inner[1];
    if (inner.length !== 2 || list?.t !== "list") return fail(`${rest} needs a list of header field names`);
    if (list.v.length === 0) return fail(`${rest} needs at least one header field name`);
    const fields: string[] = [];
    for (const t of list.v) {
      const f = astring(t, "header field name");
      if (!f.ok) return f;
      if (!/^[\x21-\x39\x3b-\x7e]+$/.test(f.value)) return fail(`Invalid header field name ${f.value.slice(0, 40)}`);
      fields.push(f.value);
    }
    return { ok: true, value: { part, text: rest, fields } };
  }
  return fail(`Invalid section ${spec.v.slice(0, 40)}`);
}

/** The section as it appears between the brackets: "1.2.HEADER.FIELDS (From To)". */
export function formatSection(section: Section): string {
  let out = section.part.join(".");
  if (section.text) out += (out ? "." : "") + section.text;
  if (section.fields) out += ` (${section.fields.map(astringOut).join(" ")})`;
  return out;
}

function astringOut(text: string): string {
  return /^[\x21\x23\x24\x26\x27\x2b-\x5a\x5e-\x7a\x7c-\x7e]+$/.test(text) ? text : `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The item's name in the FETCH response: BODY.PEEK[...] answers as BODY[...], a partial as
 * "<origin>" only; e.g. BODY[HEADER.FIELDS (From To)]<0>. */
export function responseName(item: FetchItem): string {
  switch (item.kind) {
    case "section":
      return `BODY[${formatSection(item.section)}]${item.partial ? `<${item.partial.offset}>` : ""}`;
    case "binary":
      return `BINARY[${item.part.join(".")}]${item.partial ? `<${item.partial.offset}>` : ""}`;
    case "binary.size":
      return `BINARY.SIZE[${item.part.join(".")}]`;
    default:
      return item.kind;
  }
}
