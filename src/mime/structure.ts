// The MIME tree of a message, as IMAP FETCH BODYSTRUCTURE / BODY[section] /
// BINARY and SEARCH need it: RFC 2045 §5–§6 (Content-Type, defaults of
// §5.2, Content-Transfer-Encoding), RFC 2046 §5.1 (multipart: §5.1.1
// boundaries, §5.1.5 multipart/digest default) and §5.2.1 (message/rfc822;
// message/global of RFC 6532 §3.5 is treated alike), RFC 2183
// (Content-Disposition), RFC 3282 (Content-Language), RFC 2557
// (Content-Location), RFC 1864 (Content-MD5).
//
// SECURITY: the message is attacker-controlled. parseMime never throws,
// holds no copy of the message (parts are offsets into the Buffer; only the
// header fields are decoded into strings), and runs in time linear in the
// message size: boundary lines are found with one indexOf scan for "\n--"
// and matched against the active boundaries through a trie (no per-line
// loop over all boundaries), and line counts are taken in one forward pass.
// Like Dovecot, nesting is limited to MAX_DEPTH levels and the tree to
// MAX_PARTS parts: a multipart or message/rfc822 part that would go deeper
// becomes an opaque application/octet-stream part (`truncated`), and once
// MAX_PARTS parts exist no further boundary is recognised, so the rest of the
// message is opaque body of the part being read.
//
// Rules (with Dovecot's behaviour where the RFCs leave room):
// - Boundary lines are "--" + boundary at a line start; what follows on the
//   line is ignored (RFC 2046 §5.1.1 implementors' note); "--b--" closes.
//   A line matching several active boundaries (nested parts with the same or
//   prefix boundaries) belongs to the longest, innermost one.
// - The line break before a boundary line belongs to the boundary, so part
//   bodies exclude it. A header cut off by a boundary line ends there.
// - A boundary of an outer multipart ends every inner part; a missing closing
//   boundary means the part ends where its parent does (or at the end).
// - Content-* fields count only in a MIME part: a multipart child, or a
//   header with MIME-Version or Content-Type (RFC 2045 §4).
// - No/invalid Content-Type: text/plain; charset=us-ascii, or message/rfc822
//   inside multipart/digest. A multipart without a usable boundary is read
//   as text/plain (its body stays one opaque text part).
// - Sizes are byte counts of the Buffer as given and lines count LF bytes;
//   messages are expected with CRLF line ends (bare LF is accepted, and then
//   sizes are those of the bare-LF bytes).
import { get, parseHeader, binToText, type HeaderBlock } from "./header.js";
import { parseParamsBin, type RawParam } from "./encoded-words.js";

export const MAX_DEPTH = 100;
export const MAX_PARTS = 10_000;
/** Boundaries are cut to this many bytes (RFC 2046 allows 70). */
export const MAX_BOUNDARY = 80;

/** The fields exactly as written (binary strings: one char per byte), for IMAP output. */
export interface WireFields {
  type: string;
  subtype: string;
  /** Parameters as written, RFC 2231 continuations merged, extended values kept encoded. */
  params: RawParam[];
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding token as written, null when absent. */
  encoding: string | null;
  disposition: { type: string; params: RawParam[] } | null;
  language: string[] | null;
  location: string | null;
  md5: string | null;
}

export interface MimePart {
  /** Offset of the part's header. */
  start: number;
  /** Offset after the header (= bodyStart). */
  headerEnd: number;
  bodyStart: number;
  /** Offset after the part's body. */
  end: number;
  header: HeaderBlock;
  /** Lower case; "text" by default. */
  type: string;
  /** Lower case; "plain" by default. */
  subtype: string;
  /** Decoded Content-Type parameters, lower-cased names (RFC 2231 and RFC 2047 decoded). */
  params: Map<string, string>;
  /** Header values (unfolded text, not RFC 2047-decoded). */
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding, upper case; "7BIT" by default. */
  encoding: string;
  disposition: { type: string; params: Map<string, string> } | null;
  language: string[] | null;
  location: string | null;
  md5: string | null;
  /** Body size in bytes. */
  bodySize: number;
  /** LF count of the body. */
  bodyLines: number;
  /** Children of a multipart. */
  parts: MimePart[];
  /** The encapsulated message of a message/rfc822 (or message/global) part. */
  message: MimePart | null;
  /** Nesting depth: 0 for the message, +1 per multipart child or encapsulated message. */
  depth: number;
  /** A multipart or message part beyond the limits, left opaque (shown as application/octet-stream). */
  truncated: boolean;
  wire: WireFields;
}

interface Boundary {
  bytes: Buffer;
  part: MimePart;
  index: number;
  node: TrieNode;
}

interface TrieNode {
  next: Map<number, TrieNode> | null;
  entries: Boundary[];
  parent: TrieNode | null;
  byte: number;
}

interface Match {
  lineStart: number;
  boundary: Boundary;
  closing: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const NL_DASHES = Buffer.from("\n--", "latin1");

export function parseMime(buf: Buffer): MimePart {
  return new Parser(buf).run();
}

/** Every part in depth-first order (the message, its children, encapsulated messages…). */
export function* walkParts(root: MimePart): Generator<MimePart> {
  const stack: MimePart[] = [root];
  while (stack.length) {
    const p = stack.pop()!;
    yield p;
    if (p.message) stack.push(p.message);
    for (let i = p.parts.length - 1; i >= 0; i--) stack.push(p.parts[i]);
  }
}

type State = { kind: "header"; part: MimePart } | { kind: "body"; part: MimePart; from: number } | { kind: "done" };

class Parser {
  private readonly parentOf = new Map<MimePart, MimePart>();
  private readonly inMultipart = new Set<MimePart>();
  private readonly lfAtBody = new Map<MimePart, number>();
  private readonly stack: Boundary[] = [];
  private readonly trie: TrieNode = { next: null, entries: [], parent: null, byte: -1 };
  private total = 0;
  /** "\n--" + the longest prefix common to all active boundaries: every boundary line starts with it. */
  private needle: Buffer = NL_DASHES;
  /** lcp[i]: length of the prefix common to stack[0..i]. */
  private readonly lcp: number[] = [];
  private lfPos = 0;
  private lfCount = 0;

  constructor(private readonly buf: Buffer) {}

  run(): MimePart {
    const root = this.newPart(0, 0, null, false);
    let state: State = { kind: "header", part: root };
    while (state.kind !== "done") state = state.kind === "header" ? this.header(state.part) : this.body(state.part, state.from);
    return root;
  }

  private newPart(start: number, depth: number, parent: MimePart | null, inMultipart: boolean): MimePart {
    this.total++;
    const part: MimePart = {
      start,
      headerEnd: start,
      bodyStart: start,
      end: start,
      header: { start, fields: [], headerEnd: start, bodyStart: start, blankLine: false, truncated: false },
      type: "text",
      subtype: "plain",
      params: new Map(),
      id: null,
      description: null,
      encoding: "7BIT",
      disposition: null,
      language: null,
      location: null,
      md5: null,
      bodySize: 0,
      bodyLines: 0,
      parts: [],
      message: null,
      depth,
      truncated: false,
      wire: { type: "text", subtype: "plain", params: [], id: null, description: null, encoding: null, disposition: null, language: null, location: null, md5: null },
    };
    if (parent) this.parentOf.set(part, parent);
    if (inMultipart) this.inMultipart.add(part);
    return part;
  }

  /** LF count in [0, pos); pos never goes backwards. */
  private lfAt(pos: number): number {
    if (pos > this.lfPos) {
      this.lfCount += countLf(this.buf, this.lfPos, pos);
      this.lfPos = pos;
    }
    return this.lfCount;
  }

  private header(part: MimePart): State {
    let pending: Match | null = null;
    const opts = this.stack.length && this.total <= MAX_PARTS ? { stopAt: (ls: number) => (pending = this.matchAt(ls)) !== null } : {};
    const header = parseHeader(this.buf, part.start, this.buf.length, opts);
    part.header = header;
    part.headerEnd = part.bodyStart = header.headerEnd;
    const parent = this.parentOf.get(part);
    const inDigest = this.inMultipart.has(part) && parent !== undefined && parent.type === "multipart" && parent.subtype === "digest";
    const boundary = describe(part, header, this.inMultipart.has(part), inDigest);
    this.lfAtBody.set(part, this.lfAt(part.bodyStart));

    const isMultipart = part.type === "multipart";
    const isMessage = part.type === "message" && (part.subtype === "rfc822" || part.subtype === "global");
    const deepOk = part.depth + 1 < MAX_DEPTH;
    if (isMultipart && !deepOk) truncate(part);
    if (isMessage && !(deepOk && this.total < MAX_PARTS)) truncate(part);

    const cut = pending as Match | null;
    if (cut) {
      // The header was cut off by a boundary line: the body is empty.
      let current = part;
      if (isMessage && !part.truncated) current = this.emptyMessage(part);
      return this.onBoundary(cut, current, part.start);
    }
    if (part.type === "multipart" && boundary) {
      this.push(boundary, part);
      return { kind: "body", part, from: part.bodyStart };
    }
    if (part.type === "message" && !part.truncated && isMessage) {
      const child = this.newPart(part.bodyStart, part.depth + 1, part, false);
      part.message = child;
      return { kind: "header", part: child };
    }
    return { kind: "body", part, from: part.bodyStart };
  }

  private emptyMessage(part: MimePart): MimePart {
    const child = this.newPart(part.bodyStart, part.depth + 1, part, false);
    part.message = child;
    child.header = parseHeader(this.buf, part.bodyStart, part.bodyStart);
    describe(child, child.header, false, false);
    this.lfAtBody.set(child, this.lfAt(child.bodyStart));
    return child;
  }

  private body(part: MimePart, from: number): State {
    const m = this.findBoundary(from);
    if (!m) {
      const end = this.buf.length;
      for (let p: MimePart | undefined = part; p; p = this.parentOf.get(p)) this.finish(p, end);
      return { kind: "done" };
    }
    return this.onBoundary(m, part, from);
  }

  /** A boundary line at m.lineStart, found while reading `current` from `scanStart`. */
  private onBoundary(m: Match, current: MimePart, scanStart: number): State {
    const buf = this.buf;
    const ls = m.lineStart;
    let endPos = ls;
    if (ls > scanStart && buf[ls - 1] === LF) {
      endPos = ls - 1;
      if (endPos > scanStart && buf[endPos - 1] === CR) endPos--;
    }
    const owner = m.boundary.part;
    for (let p: MimePart | undefined = current; p && p !== owner; p = this.parentOf.get(p)) this.finish(p, endPos);
    // Boundaries of the parts just ended are forgotten; a closing one goes too.
    this.popTo(m.closing ? m.boundary.index : m.boundary.index + 1);
    let lineEnd = buf.indexOf(LF, ls);
    lineEnd = lineEnd === -1 ? buf.length : lineEnd + 1;
    if (!m.closing) {
      const child = this.newPart(lineEnd, owner.depth + 1, owner, true);
      owner.parts.push(child);
      return { kind: "header", part: child };
    }
    return { kind: "body", part: owner, from: lineEnd };
  }

  private finish(p: MimePart, end: number): void {
    p.end = Math.max(end, p.bodyStart);
    p.bodySize = p.end - p.bodyStart;
    p.bodyLines = this.lfAt(p.end) - (this.lfAtBody.get(p) ?? 0);
  }

  // ------------------------------------------------------------ boundaries

  private push(bytes: Buffer, part: MimePart): void {
    let node = this.trie;
    for (const byte of bytes) {
      if (!node.next) node.next = new Map();
      let child = node.next.get(byte);
      if (!child) node.next.set(byte, (child = { next: null, entries: [], parent: node, byte }));
      node = child;
    }
    const b: Boundary = { bytes, part, index: this.stack.length, node };
    node.entries.push(b);
    this.stack.push(b);
    const base = this.stack[0].bytes;
    let l = this.lcp.length ? this.lcp[this.lcp.length - 1] : base.length;
    let k = 0;
    while (k < l && k < bytes.length && bytes[k] === base[k]) k++;
    l = k;
    this.lcp.push(l);
    this.setNeedle();
  }

  private setNeedle(): void {
    const l = this.lcp.length ? this.lcp[this.lcp.length - 1] : 0;
    this.needle = l === 0 ? NL_DASHES : Buffer.concat([NL_DASHES, this.stack[0].bytes.subarray(0, l)]);
  }

  /** Drops the boundaries at stack index >= len. */
  private popTo(len: number): void {
    if (this.stack.length > len) {
      this.lcp.length = len;
      this.setNeedle();
    }
    while (this.stack.length > len) {
      const b = this.stack.pop()!;
      let node: TrieNode | null = b.node;
      node.entries.splice(node.entries.indexOf(b), 1);
      while (node && node.parent && node.entries.length === 0 && (!node.next || node.next.size === 0)) {
        node.parent.next!.delete(node.byte);
        node = node.parent;
      }
    }
  }

  private findBoundary(from: number): Match | null {
    if (this.stack.length === 0 || this.total >= MAX_PARTS) return null;
    const buf = this.buf;
    const first = this.matchAt(from);
    if (first) return first;
    const needle = this.needle;
    let q = from;
    for (;;) {
      const k = buf.indexOf(needle, q);
      if (k === -1) return null;
      const m = this.matchAt(k + 1);
      if (m) return m;
      q = k + 1;
    }
  }

  /** The boundary a line starting at ls is, if any (Dovecot's choice among prefixes). */
  private matchAt(ls: number): Match | null {
    const buf = this.buf;
    if (this.total >= MAX_PARTS || ls + 1 >= buf.length || buf[ls] !== DASH || buf[ls + 1] !== DASH) return null;
    let node = this.trie;
    let found: Boundary[] | null = null;
    for (let i = ls + 2; i < buf.length && node.next; i++) {
      const child = node.next.get(buf[i]);
      if (!child) break;
      node = child;
      if (node.entries.length) (found ??= []).push(...node.entries);
    }
    if (!found) return null;
    // Length of the line after "--", without its line break.
    let lineEnd = buf.indexOf(LF, ls + 2);
    let contentLen: number;
    if (lineEnd === -1) contentLen = Math.min(buf.length - ls - 2, MAX_BOUNDARY + 4);
    else {
      if (lineEnd > ls + 2 && buf[lineEnd - 1] === CR) lineEnd--;
      contentLen = lineEnd - ls - 2;
    }
    const trailingDashes = contentLen > 2 && buf[ls + 2 + contentLen - 1] === DASH && buf[ls + 2 + contentLen - 2] === DASH;
    found.sort((a, b) => b.index - a.index);
    let best: Boundary | null = null;
    for (const b of found) {
      if (!best || best.bytes.length < b.bytes.length) {
        best = b;
        if (b.bytes.length === contentLen || (b.bytes.length === contentLen - 2 && trailingDashes)) break;
      }
    }
    const after = ls + 2 + best!.bytes.length;
    const closing = after + 1 < buf.length && buf[after] === DASH && buf[after + 1] === DASH;
    return { lineStart: ls, boundary: best!, closing };
  }
}

/** LF bytes in buf[a, e), four bytes at a time. */
export function countLf(b: Buffer, a: number, e: number): number {
  let n = 0;
  let i = a;
  while (i < e && (b.byteOffset + i) & 3) if (b[i++] === LF) n++;
  const words = (e - i) >> 2;
  if (words > 0) {
    const u = new Uint32Array(b.buffer, b.byteOffset + i, words);
    for (let k = 0; k < words; k++) {
      const x = u[k] ^ 0x0a0a0a0a;
      // High bit of each byte set iff that byte of x is non-zero (exact, no carries across bytes).
      const t = ~((((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & 0x80808080) & 0x80808080;
      if (t !== 0) n += ((t >>> 7) & 1) + ((t >>> 15) & 1) + ((t >>> 23) & 1) + ((t >>> 31) & 1);
    }
    i += words << 2;
  }
  for (; i < e; i++) if (b[i] === LF) n++;
  return n;
}

function truncate(part: MimePart): void {
  part.truncated = true;
  part.type = "application";
  part.subtype = "octet-stream";
  part.wire.type = "application";
  part.wire.subtype = "octet-stream";
}

/** Fills the Content-* fields from the header; returns the multipart boundary (bytes) if usable. */
function describe(part: MimePart, header: HeaderBlock, inMultipart: boolean, inDigest: boolean): Buffer | null {
  const isMime = inMultipart || get(header, "mime-version") !== undefined || get(header, "content-type") !== undefined;
  const w = part.wire;
  let boundary: Buffer | null = null;
  const ct = isMime ? get(header, "content-type") : undefined;
  let valid = false;
  if (ct) {
    const p = parseParamsBin(ct.bin);
    w.params = p.list;
    part.params = p.params;
    const slash = p.rawValue.indexOf("/");
    if (slash > 0 && slash < p.rawValue.length - 1) {
      valid = true;
      w.type = p.rawValue.slice(0, slash);
      w.subtype = p.rawValue.slice(slash + 1);
      part.type = binToText(w.type).toLowerCase();
      part.subtype = binToText(w.subtype).toLowerCase();
    }
  }
  if (!valid) {
    // RFC 2045 §5.2 / RFC 2046 §5.1.5 defaults.
    if (inDigest) {
      w.type = "message";
      w.subtype = "rfc822";
      part.type = "message";
      part.subtype = "rfc822";
    } else {
      w.type = "text";
      w.subtype = "plain";
      part.type = "text";
      part.subtype = "plain";
      if (!part.params.has("charset")) part.params.set("charset", "us-ascii");
    }
  }
  if (part.type === "multipart") {
    const b = w.params.find((x) => x.name.toLowerCase() === "boundary");
    if (b && b.value.length > 0) boundary = Buffer.from(b.value, "latin1").subarray(0, MAX_BOUNDARY);
    else {
      // No usable boundary: the body is one opaque text part.
      w.type = "text";
      w.subtype = "plain";
      part.type = "text";
      part.subtype = "plain";
    }
  }
  if (!isMime) return null;
  const first = (name: string) => get(header, name)?.bin ?? null;
  w.id = first("content-id");
  w.description = first("content-description");
  w.location = first("content-location");
  w.md5 = first("content-md5");
  part.id = w.id === null ? null : binToText(w.id);
  part.description = w.description === null ? null : binToText(w.description);
  part.location = w.location === null ? null : binToText(w.location);
  part.md5 = w.md5 === null ? null : binToText(w.md5);
  const cte = first("content-transfer-encoding");
  if (cte !== null) {
    // One token (RFC 2045 §6.1); a trailing ";…" is tolerated, other junk
    // makes the field invalid (then 7bit, as Dovecot).
    const m = /^[ \t]*([^ \t()<>@,;:\\"/[\]?=\x00-\x1f\x7f]+)[ \t]*(;|$)/.exec(cte.replace(/\([^()]*\)/g, " "));
    if (m) {
      w.encoding = m[1];
      part.encoding = binToText(m[1]).toUpperCase();
    }
  }
  const cd = get(header, "content-disposition");
  if (cd) {
    const p = parseParamsBin(cd.bin);
    if (p.rawValue !== "") {
      w.disposition = { type: p.rawValue, params: p.list };
      part.disposition = { type: p.value, params: p.params };
    }
  }
  const cl = first("content-language");
  if (cl !== null) {
    const langs = cl
      .replace(/\([^)]*\)/g, " ")
      .split(/[\s,]+/)
      .filter((x) => x !== "" && !/[";()<>@:\\[\]]/.test(x));
    if (langs.length) {
      w.language = langs;
      part.language = langs.map(binToText);
    }
  }
  return boundary;
}
