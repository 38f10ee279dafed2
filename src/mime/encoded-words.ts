// Header-level MIME decoding: RFC 2047 encoded words (§2–§6, with the RFC
// 2231 §5 language suffix), RFC 2231 parameter value continuations and
// charsets (§3–§4), the Content-Type / Content-Disposition value-and-
// parameters syntax of RFC 2045 §5.1 and RFC 2183 §2, and charset decoding
// (WHATWG labels through Node's TextDecoder, plus UTF-7 of RFC 2152 by hand).
//
// SECURITY: every input is attacker-controlled. Nothing here throws: an
// unknown charset or a malformed encoded word is left as written, a broken
// parameter list yields what could be read. Every loop is linear in the
// input (the encoded-word scanner never rescans text it has passed), and
// charset labels are length-limited before reaching TextDecoder.
//
// Leniency (what real mail needs): encoded words are decoded even when glued
// to other text or when Q text contains spaces; adjacent encoded words with
// the same charset are joined at the byte level before charset decoding (so
// a character split across two words survives); parameter values may lack
// quotes (`name=foo bar.pdf`), carry comments, or be RFC 2047-encoded
// (`name="=?utf-8?B?...?="`), which is decoded in the decoded view.
import { binToText } from "./header.js";

// ---------------------------------------------------------------- charsets

export type CharsetDecoder = (bytes: Buffer) => string;

const ALIASES: Record<string, string> = {
  cp932: "shift_jis",
  "x-ms-cp932": "shift_jis",
  "ks_c_5601": "euc-kr",
  "x-euc-tw": "big5",
  "iso8859-1": "iso-8859-1",
  "iso_8859_1": "iso-8859-1",
  "utf-8y": "utf-8",
};
const UTF7 = new Set(["utf-7", "utf7", "unicode-1-1-utf-7", "csunicode11utf7", "x-unicode-2-0-utf-7"]);
const decoderCache = new Map<string, CharsetDecoder | null>();
const MAX_CACHED_FAILURES = 256;
let cachedFailures = 0;

/** A decoder for a charset label, or null when the charset is unknown. */
export function charsetDecoder(label: string | null | undefined): CharsetDecoder | null {
  if (!label) return null;
  let name = label.trim().toLowerCase();
  if (name.length === 0 || name.length > 64) return null;
  const cached = decoderCache.get(name);
  if (cached !== undefined) return cached;
  let dec: CharsetDecoder | null = null;
  if (UTF7.has(name)) dec = decodeUtf7;
  else {
    name = ALIASES[name] ?? name;
    try {
      const td = new TextDecoder(name, { fatal: false });
      dec = (b) => td.decode(b);
    } catch {
      dec = null;
    }
  }
  if (dec !== null) decoderCache.set(label.trim().toLowerCase(), dec);
  else if (cachedFailures < MAX_CACHED_FAILURES) {
    cachedFailures++;
    decoderCache.set(label.trim().toLowerCase(), null);
  }
  return dec;
}

/** Bytes in `charset` → text; unknown or missing charsets fall back to UTF-8-if-valid-else-Latin-1. */
export function decodeCharset(bytes: Buffer, charset: string | null | undefined): string {
  const cs = charset?.trim().toLowerCase();
  // us-ascii labels map to windows-1252 in WHATWG; real "us-ascii" mail with
  // 8-bit bytes is far more often UTF-8, so prefer that when it is valid.
  if (!cs || cs === "us-ascii" || cs === "ascii") return binToText(bytes.toString("latin1"));
  const dec = charsetDecoder(cs);
  return dec ? dec(bytes) : binToText(bytes.toString("latin1"));
}

const B64 = new Int16Array(256).fill(-1);
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".split("").forEach((c, i) => (B64[c.charCodeAt(0)] = i));

/** RFC 2152 UTF-7. */
function decodeUtf7(bytes: Buffer): string {
  let out = "";
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const c = bytes[i];
    if (c !== 0x2b /* + */) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    i++;
    if (i < n && bytes[i] === 0x2d /* - */) {
      out += "+";
      i++;
      continue;
    }
    let bits = 0;
    let nbits = 0;
    const units: number[] = [];
    while (i < n && B64[bytes[i]] >= 0) {
      bits = ((bits << 6) | B64[bytes[i]]) & 0xffffff;
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        units.push((bits >> nbits) & 0xffff);
      }
      i++;
    }
    if (i < n && bytes[i] === 0x2d) i++;
    for (let k = 0; k < units.length; k += 4096) out += String.fromCharCode(...units.slice(k, k + 4096));
  }
  return out;
}

// ------------------------------------------------------- byte-level codecs

/** Lenient base64 (binary string in, Buffer out): skips non-alphabet bytes, '=' flushes a partial quantum. */
export function base64ToBytes(bin: string): Buffer {
  const out = Buffer.allocUnsafe(Math.floor((bin.length * 3) / 4) + 3);
  let o = 0;
  let acc = 0;
  let n = 0;
  for (let i = 0; i < bin.length; i++) {
    const c = bin.charCodeAt(i);
    const v = c < 256 ? B64[c] : -1;
    if (v >= 0) {
      acc = (acc << 6) | v;
      if (++n === 4) {
        out[o++] = (acc >> 16) & 0xff;
        out[o++] = (acc >> 8) & 0xff;
        out[o++] = acc & 0xff;
        acc = 0;
        n = 0;
      }
    } else if (c === 0x3d /* = */ && n > 0) {
      if (n >= 2) out[o++] = (acc >> (6 * n - 8)) & 0xff;
      if (n === 3) out[o++] = (acc >> 2) & 0xff;
      acc = 0;
      n = 0;
    }
  }
  if (n >= 2) out[o++] = (acc >> (6 * n - 8)) & 0xff;
  if (n === 3) out[o++] = (acc >> 2) & 0xff;
  return out.subarray(0, o);
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** RFC 2047 §4.2 Q encoding (binary string in): "_" is a space, "=XX" a byte; a bad "=" stays. */
function qToBytes(bin: string): Buffer {
  const out = Buffer.allocUnsafe(bin.length);
  let o = 0;
  for (let i = 0; i < bin.length; i++) {
    const c = bin.charCodeAt(i);
    if (c === 0x5f) out[o++] = 0x20;
    else if (c === 0x3d && i + 2 < bin.length && hexVal(bin.charCodeAt(i + 1)) >= 0 && hexVal(bin.charCodeAt(i + 2)) >= 0) {
      out[o++] = (hexVal(bin.charCodeAt(i + 1)) << 4) | hexVal(bin.charCodeAt(i + 2));
      i += 2;
    } else out[o++] = c & 0xff;
  }
  return out.subarray(0, o);
}

/** RFC 2231 §4 %XX decoding (binary string in); a bad "%" stays. */
function percentToBytes(bin: string): Buffer {
  const out = Buffer.allocUnsafe(bin.length);
  let o = 0;
  for (let i = 0; i < bin.length; i++) {
    const c = bin.charCodeAt(i);
    if (c === 0x25 && i + 2 < bin.length && hexVal(bin.charCodeAt(i + 1)) >= 0 && hexVal(bin.charCodeAt(i + 2)) >= 0) {
      out[o++] = (hexVal(bin.charCodeAt(i + 1)) << 4) | hexVal(bin.charCodeAt(i + 2));
      i += 2;
    } else out[o++] = c & 0xff;
  }
  return out.subarray(0, o);
}

function toBin(s: string): string {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return Buffer.from(s, "utf8").toString("latin1");
  return s;
}

// ------------------------------------------------------ RFC 2047 words

const MAX_CHARSET = 75;

/**
 * Decodes RFC 2047 encoded words in a header value (already unfolded text).
 * Words whose charset is unknown, or that are malformed, stay as written.
 * Whitespace between two decoded words is dropped (RFC 2047 §6.2).
 */
export function decodeWords(s: string): string {
  if (!s.includes("=?")) return s;
  let out = "";
  let i = 0; // start of text not yet copied
  let lastEnd = -1; // end of the previous decoded word, -1 if the previous token wasn't one
  let runCharset = "";
  let runDecoder: CharsetDecoder | null = null;
  let runBytes: Buffer[] = [];
  let endCache = -2; // last result of indexOf("?=", ...) and where it was searched from
  let endFrom = -1;
  const flush = () => {
    if (runDecoder && runBytes.length) out += runDecoder(runBytes.length === 1 ? runBytes[0] : Buffer.concat(runBytes));
    runBytes = [];
    runDecoder = null;
    runCharset = "";
  };
  let j = s.indexOf("=?", 0);
  while (j !== -1) {
    const q1 = s.indexOf("?", j + 2);
    let ok = q1 > j + 2 && q1 - j - 2 <= MAX_CHARSET && q1 + 2 < s.length && s.charCodeAt(q1 + 2) === 0x3f;
    const enc = ok ? s.charAt(q1 + 1).toUpperCase() : "";
    ok = ok && (enc === "B" || enc === "Q");
    let textEnd = -1;
    let charset = "";
    if (ok) {
      charset = s.slice(j + 2, q1);
      if (/[\s"()<>@,;:\\/[\]=]/.test(charset)) ok = false;
    }
    if (ok) {
      const from = q1 + 3;
      if (endCache === -1 && endFrom <= from) textEnd = -1;
      else if (endCache >= from) textEnd = endCache;
      else {
        textEnd = s.indexOf("?=", from);
        endCache = textEnd;
        endFrom = from;
      }
      if (textEnd === -1) {
        // No "?=" anywhere further: no more encoded words can end.
        break;
      }
    }
    let decoded: Buffer | null = null;
    let decoder: CharsetDecoder | null = null;
    if (ok) {
      const star = charset.indexOf("*");
      const cs = (star >= 0 ? charset.slice(0, star) : charset).toLowerCase();
      decoder = cs === "us-ascii" || cs === "ascii" ? asciiish : charsetDecoder(cs);
      if (decoder) {
        const text = toBin(s.slice(q1 + 3, textEnd));
        decoded = enc === "B" ? base64ToBytes(text) : qToBytes(text);
        charset = cs;
      }
    }
    if (!decoded || !decoder) {
      j = s.indexOf("=?", j + 2);
      continue;
    }
    const between = s.slice(i, j);
    if (lastEnd === i && /^[ \t\r\n]*$/.test(between)) {
      // whitespace between two encoded words: dropped
    } else {
      flush();
      out += between;
    }
    if (runDecoder && runCharset !== charset) flush();
    runCharset = charset;
    runDecoder = decoder;
    runBytes.push(decoded);
    i = textEnd + 2;
    lastEnd = i;
    j = s.indexOf("=?", i);
  }
  flush();
  return out + s.slice(i);
}

const asciiish: CharsetDecoder = (b) => binToText(b.toString("latin1"));

// ------------------------------------------------ Content-Type parameters

/** A parameter as written, with RFC 2231 continuations merged (Dovecot style). */
export interface RawParam {
  /** Name as written; "name*" when the merged value is in RFC 2231 extended form. */
  name: string;
  /** Value as written (quotes removed); extended form "charset'lang'%XX…" kept. */
  value: string;
}

export interface ParsedParams {
  /** The main value, lower-cased: "text/plain", "attachment". "" when missing. */
  value: string;
  /** Main value as written (comments and whitespace removed). */
  rawValue: string;
  /** Decoded parameters: lower-cased name → value (RFC 2231 and RFC 2047 decoded). */
  params: Map<string, string>;
  /** Parameters as written, continuations merged; binary strings when from parseParamsBin. */
  list: RawParam[];
}

/**
 * Parses a Content-Type / Content-Disposition value (text, e.g. a header
 * field's `value`). `rawValue` and `list` hold text in the same form.
 */
export function parseParams(value: string): ParsedParams {
  const p = parseParamsBin(toBin(value));
  return {
    value: p.value,
    rawValue: binToText(p.rawValue),
    params: p.params,
    list: p.list.map((x) => ({ name: binToText(x.name), value: binToText(x.value) })),
  };
}

const enum Cls {
  Value = 1, // main-value token char
  Name = 2, // parameter-name char
  Unquoted = 4, // unquoted parameter-value char
}
const CLASS = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  if (c < 0x20 || c === 0x7f) continue;
  const ch = String.fromCharCode(c);
  if (!' ;("'.includes(ch)) CLASS[c] |= Cls.Unquoted;
  if (!' ;()"<>@,:\\[]?=/'.includes(ch)) CLASS[c] |= Cls.Value | Cls.Name;
}
CLASS[0x09] = 0;

/** parseParams on a binary string (one char per byte); `rawValue` and `list` stay binary. */
export function parseParamsBin(bin: string): ParsedParams {
  const n = bin.length;
  let i = 0;

  const skipCfws = () => {
    while (i < n) {
      const c = bin.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) i++;
      else if (c === 0x28 /* ( */) skipComment();
      else break;
    }
  };
  const skipComment = () => {
    let depth = 0;
    while (i < n) {
      const c = bin.charCodeAt(i++);
      if (c === 0x5c) i++;
      else if (c === 0x28) depth++;
      else if (c === 0x29 && --depth === 0) return;
    }
  };
  const token = (cls: Cls) => {
    const s = i;
    while (i < n && CLASS[bin.charCodeAt(i)] & cls) i++;
    return bin.slice(s, i);
  };
  const quoted = () => {
    // at '"'
    i++;
    let v = "";
    let s = i;
    while (i < n) {
      const c = bin.charCodeAt(i);
      if (c === 0x22) {
        v += bin.slice(s, i);
        i++;
        return v;
      }
      if (c === 0x5c && i + 1 < n) {
        v += bin.slice(s, i);
        s = i + 1;
        i += 2;
        continue;
      }
      if (c === 0x0d || c === 0x0a) {
        v += bin.slice(s, i);
        s = i + 1;
      }
      i++;
    }
    return v + bin.slice(s, i); // unterminated: to the end
  };
  /** Skips to the next ';' outside quotes and comments. */
  const skipJunk = () => {
    while (i < n) {
      const c = bin.charCodeAt(i);
      if (c === 0x3b) return;
      if (c === 0x22) quoted();
      else if (c === 0x28) skipComment();
      else i++;
    }
  };

  skipCfws();
  let rawValue = token(Cls.Value);
  skipCfws();
  if (i < n && bin.charCodeAt(i) === 0x2f /* / */) {
    i++;
    skipCfws();
    rawValue += "/" + token(Cls.Value);
    skipCfws();
  }
  const raw: { name: string; value: string }[] = [];
  while (i < n) {
    skipJunk();
    if (i >= n) break;
    i++; // ';'
    skipCfws();
    const name = token(Cls.Name);
    skipCfws();
    if (name === "" || i >= n || bin.charCodeAt(i) !== 0x3d /* = */) continue;
    i++;
    skipCfws();
    let value: string;
    if (i < n && bin.charCodeAt(i) === 0x22) {
      value = quoted();
    } else {
      const v0 = i;
      value = token(Cls.Unquoted);
      skipCfws();
      if (i < n && bin.charCodeAt(i) !== 0x3b) {
        // Missing quotes around a value with spaces: take it up to the next ';'.
        let e = bin.indexOf(";", i);
        if (e === -1) e = n;
        value = bin.slice(v0, e).replace(/[ \t\r\n]+$/, "");
        i = e;
      }
    }
    raw.push({ name, value });
  }
  const { list, params } = mergeParams(raw);
  return { value: binToText(rawValue).toLowerCase(), rawValue, params, list };
}

interface Segment {
  key: string;
  idx: number;
  extended: boolean;
  value: string;
  order: number;
}

/** RFC 2231 §3/§4: merges name*0*, name*1 … and decodes charsets into the decoded map. */
function mergeParams(raw: { name: string; value: string }[]): { list: RawParam[]; params: Map<string, string> } {
  const list: RawParam[] = [];
  const params = new Map<string, string>();
  const segs: Segment[] = [];
  raw.forEach((p, order) => {
    const star = p.name.indexOf("*");
    const m = star > 0 ? /^(\d*)(\*?)$/.exec(p.name.slice(star + 1)) : null;
    if (!m) {
      list.push({ name: p.name, value: p.value });
      const lower = p.name.toLowerCase();
      if (!params.has(lower)) params.set(lower, decodeWords(binToText(p.value)));
      return;
    }
    const ext = m[1] === "" || m[2] === "*";
    const idx = m[1] === "" ? 0 : m[1].length > 6 ? 1e9 : Number(m[1]);
    segs.push({ key: p.name.slice(0, star), idx, extended: ext, value: p.value, order });
  });
  // Sorted by name (byte order) then index; a run of names equal but for case is one parameter.
  segs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.idx - b.idx || a.order - b.order));
  for (let i = 0; i < segs.length; ) {
    let j = i + 1;
    const lower = segs[i].key.toLowerCase();
    while (j < segs.length && segs[j].key.toLowerCase() === lower) j++;
    const g = segs.slice(i, j);
    i = j;
    const complete = g.every((s, k) => s.idx === k);
    const anyExt = g.some((s) => s.extended);
    if (!complete) {
      for (const s of g) list.push({ name: `${s.key}*${s.idx}${s.extended ? "*" : ""}`, value: s.value });
    } else {
      let v = !g[0].extended && anyExt ? "''" : "";
      for (const s of g) v += !s.extended && anyExt ? s.value.replace(/%/g, "%25") : s.value;
      list.push({ name: anyExt ? g[0].key + "*" : g[0].key, value: v });
    }
    // Decoded view: best effort even with gaps, in index order.
    params.set(lower, decode2231Segments([...g].sort((a, b) => a.idx - b.idx || a.order - b.order)));
  }
  return { list, params };
}

function decode2231Segments(g: Segment[]): string {
  const first = g[0];
  let charset: string | null = null;
  const bytes: Buffer[] = [];
  g.forEach((s, k) => {
    let v = s.value;
    if (k === 0 && s.extended) {
      const q1 = v.indexOf("'");
      const q2 = q1 >= 0 ? v.indexOf("'", q1 + 1) : -1;
      if (q2 >= 0) {
        charset = v.slice(0, q1) || null;
        v = v.slice(q2 + 1);
      }
    }
    bytes.push(s.extended ? percentToBytes(v) : Buffer.from(v, "latin1"));
  });
  const all = Buffer.concat(bytes);
  if (!first.extended && !g.some((s) => s.extended)) return decodeWords(binToText(all.toString("latin1")));
  return decodeCharset(all, charset);
}

/** RFC 2231 value "charset'lang'%XX…" → text (used for a lone `name*=` value). */
export function decode2231Value(bin: string): string {
  return decode2231Segments([{ key: "", idx: 0, extended: true, value: bin, order: 0 }]);
}
