// The message side of `petrel sendmail`: reading standard input the way
// sendmail(8) does, completing the header (RFC 5322 §3.6: Date, From,
// Message-ID; display names per RFC 2047 when not plain ASCII) and, for -t,
// taking the recipients from To/Cc/Bcc (RFC 5322 §3.4 address lists,
// including groups, comments, quoted strings and obsolete routes).
//
// Trusted with: whatever a local user pipes in. Nothing here throws on any
// input; lines that are not header fields are left alone; Bcc fields never
// leave this module. Output always has CRLF line endings.
import { randomBytes } from "node:crypto";
import { formatRfc5322Date } from "../mime/date.js";

const CRLF = Buffer.from("\r\n");

/**
 * Standard input to message: LF and CRLF line ends become CRLF (a CR inside a
 * line stays), the last line is terminated, and unless ignoreDots a line
 * holding a single "." ends the message.
 */
export function readSendmailInput(input: Buffer, ignoreDots: boolean): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  while (start < input.length) {
    const lf = input.indexOf(10, start);
    const next = lf < 0 ? input.length : lf + 1;
    let end = lf < 0 ? input.length : lf;
    if (end > start && input[end - 1] === 13) end--; // CRLF, or a CR at the very end
    if (!ignoreDots && end - start === 1 && input[start] === 46) break;
    parts.push(input.subarray(start, end), CRLF);
    start = next;
  }
  return Buffer.concat(parts);
}

export interface LocalSubmissionOptions {
  /** The envelope sender ("" for the null sender); qualified with hostname when it has no "@". */
  envelopeSender: string;
  fullName?: string;
  hostname: string;
  now: Date;
  extractRecipients: boolean;
  messageIdDomain: string;
}

interface Field {
  /** Lower-cased field name; undefined for a line that is not a header field. */
  name: string | undefined;
  /** The field's lines, CRLF included (latin1, so bytes survive). */
  text: string;
}

const FIELD_RE = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/;

/**
 * Completes a locally submitted message: adds Date, Message-ID and From when
 * missing, removes Bcc, and with extractRecipients returns the addresses of
 * every To, Cc and Bcc field (deduplicated, case-insensitively).
 */
export function prepareLocalSubmission(
  message: Buffer,
  opts: LocalSubmissionOptions,
): { message: Buffer; recipients: string[] } {
  let msg = readSendmailInput(message, true);
  // A leading Unix From_ line (e.g. a message saved from an mbox) is not a header.
  if (msg.subarray(0, 5).toString("latin1") === "From ") msg = msg.subarray(msg.indexOf(10) + 1);

  const { fields, rest } = splitHeader(msg);
  const recipients: string[] = [];
  if (opts.extractRecipients) {
    const seen = new Set<string>();
    for (const f of fields) {
      if (f.name !== "to" && f.name !== "cc" && f.name !== "bcc") continue;
      const value = f.text.slice(f.text.indexOf(":") + 1).replace(/\r\n/g, "");
      for (const addr of parseAddressList(Buffer.from(value, "latin1").toString("utf8"))) {
        if (!seen.has(addr.toLowerCase())) recipients.push(addr);
        seen.add(addr.toLowerCase());
      }
    }
  }

  const has = (name: string): boolean => fields.some((f) => f.name === name);
  const now = Number.isNaN(opts.now.getTime()) ? new Date() : opts.now;
  const added: string[] = [];
  if (!has("date")) added.push(`Date: ${formatRfc5322Date(now, 0)}\r\n`);
  if (!has("message-id")) added.push(`Message-ID: ${messageId(now, opts.messageIdDomain || opts.hostname)}\r\n`);
  if (!has("from")) added.push(`From: ${fromValue(opts)}\r\n`);

  const header = fields.filter((f) => f.name !== "bcc").map((f) => f.text).join("") + added.join("");
  return { message: Buffer.concat([Buffer.from(header, "latin1"), rest]), recipients };
}

/** The header fields, and what follows them (the empty line and body, or a body-only message with an empty line added). */
function splitHeader(msg: Buffer): { fields: Field[]; rest: Buffer } {
  const sep = msg.subarray(0, 2).equals(CRLF) ? 0 : msg.indexOf("\r\n\r\n");
  const headerLen = sep < 0 ? msg.length : sep === 0 ? 0 : sep + 2;
  const fields = parseFields(msg.subarray(0, headerLen).toString("latin1"));
  const first = fields[0];
  // Body-only: the first line is no header field, or there is no empty line
  // and not every line is a header field (or a continuation of one).
  const bodyOnly =
    (first !== undefined && first.name === undefined) || (sep < 0 && fields.some((f) => f.name === undefined));
  if (bodyOnly) return { fields: [], rest: Buffer.concat([CRLF, msg]) };
  if (sep < 0 && msg.length === 0) return { fields: [], rest: CRLF };
  return { fields, rest: msg.subarray(headerLen) };
}

function parseFields(header: string): Field[] {
  const fields: Field[] = [];
  for (const line of header.split(/(?<=\r\n)/)) {
    if (line === "") continue;
    const last = fields[fields.length - 1];
    if (last !== undefined && (line[0] === " " || line[0] === "\t")) last.text += line;
    else fields.push({ name: FIELD_RE.exec(line)?.[1]?.toLowerCase(), text: line });
  }
  return fields;
}

function messageId(now: Date, domain: string): string {
  const host = domain.replace(/[^A-Za-z0-9.-]/g, "") || "localhost";
  return `<${now.getTime().toString(36)}.${randomBytes(12).toString("base64url")}@${host}>`;
}

function fromValue(opts: LocalSubmissionOptions): string {
  const clean = (s: string): string => s.replace(/[\x00-\x20\x7f]/g, "");
  const sender = clean(opts.envelopeSender) || "MAILER-DAEMON";
  const address = sender.includes("@") ? sender : `${sender}@${clean(opts.hostname) || "localhost"}`;
  const name = opts.fullName === undefined ? "" : encodeDisplayName(opts.fullName);
  return name === "" ? address : `${name} <${address}>`;
}

/** A display name as atoms, a quoted string, or RFC 2047 UTF-8 encoded words (folded). */
export function encodeDisplayName(fullName: string): string {
  const name = fullName.replace(/[\x00-\x1f\x7f]+/g, " ").replace(/ +/g, " ").trim();
  if (name === "") return "";
  if (/^[\x20-\x7e]{1,200}$/.test(name) && !name.includes("=?")) {
    if (/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/.test(name)) return name;
    return `"${name.replace(/[\\"]/g, "\\$&")}"`;
  }
  // Encoded words of at most 75 characters, never splitting a character.
  const words: string[] = [];
  let chunk = "";
  for (const ch of name) {
    if (Buffer.byteLength(chunk + ch) > 45) {
      words.push(chunk);
      chunk = "";
    }
    chunk += ch;
  }
  words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString("base64")}?=`).join("\r\n ");
}

// ------------------------------------------------------------ address lists

type Token = { kind: "atom" | "quoted" | "literal" | "special" | "junk"; value: string };

const ENCODED_WORD = /=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=/y;
const ATOM_STOP = /[\s()<>@,;:."[\]]/;

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c) || c === ")") {
      i++;
    } else if (c === "(") {
      // Comments nest and may contain quoted pairs.
      for (let depth = 0; i < s.length; i++) {
        if (s[i] === "\\") i++;
        else if (s[i] === "(") depth++;
        else if (s[i] === ")" && --depth === 0) break;
      }
      i++;
    } else if (c === '"') {
      let value = "";
      for (i++; i < s.length && s[i] !== '"'; i++) value += s[i] === "\\" && i + 1 < s.length ? s[++i] : s[i];
      out.push({ kind: i < s.length ? "quoted" : "junk", value }); // unterminated: never an address
      i++;
    } else if (c === "[") {
      const end = s.indexOf("]", i);
      const stop = end < 0 ? s.length : end + 1;
      out.push({ kind: "literal", value: s.slice(i, stop).replace(/\s+/g, "") });
      i = stop;
    } else if ("<>@,;:.]".includes(c)) {
      out.push({ kind: "special", value: c });
      i++;
    } else {
      ENCODED_WORD.lastIndex = i;
      const word = ENCODED_WORD.exec(s);
      let end = word ? i + word[0].length : i;
      while (end < s.length && !ATOM_STOP.test(s[end]!)) end++;
      out.push({ kind: "atom", value: s.slice(i, end) });
      i = end;
    }
  }
  return out;
}

const isSpecial = (t: Token | undefined, c: string): boolean => t?.kind === "special" && t.value === c;

/** Renders tokens as an addr-spec (local-part ["@" domain]), or undefined when they are not one. */
function addrSpec(tokens: Token[]): string | undefined {
  const at = tokens.findIndex((t) => isSpecial(t, "@"));
  const local = at < 0 ? tokens : tokens.slice(0, at);
  const localText = dotted(local, (t) => t.kind === "atom" || t.kind === "quoted");
  if (localText === undefined || localText === "") return undefined;
  if (at < 0) return localText;
  const domain = tokens.slice(at + 1);
  if (domain.length === 1 && domain[0]!.kind === "literal") return `${localText}@${domain[0]!.value}`;
  const domainText = dotted(domain, (t) => t.kind === "atom");
  return domainText === undefined || domainText === "" ? undefined : `${localText}@${domainText}`;
}

/** word *("." word), or undefined. */
function dotted(tokens: Token[], isWord: (t: Token) => boolean): string | undefined {
  if (tokens.length % 2 === 0) return tokens.length === 0 ? "" : undefined;
  let text = "";
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (i % 2 === 1) {
      if (!isSpecial(t, ".")) return undefined;
      text += ".";
    } else if (!isWord(t)) return undefined;
    else if (t.kind === "quoted" && !/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/.test(t.value)) {
      text += `"${t.value.replace(/[\\"]/g, "\\$&")}"`;
    } else text += t.value;
  }
  return text;
}

/**
 * The addr-specs of an RFC 5322 address-list (To/Cc/Bcc value, unfolded):
 * display names, comments, groups and routes are dropped; entries that are
 * not addresses are skipped. Local-only addresses ("root") are kept.
 */
export function parseAddressList(value: string): string[] {
  const tokens = tokenize(value);
  const out: string[] = [];
  let phrase: Token[] = [];
  let angle: Token[] | undefined;
  let angled: string | undefined;
  const closeAngle = (): void => {
    const colon = angle!.map((t) => isSpecial(t, ":")).lastIndexOf(true);
    angled = addrSpec(angle!.slice(colon + 1)) ?? "";
    angle = undefined;
  };
  const flush = (): void => {
    if (angle) closeAngle();
    const addr = angled ?? addrSpec(phrase);
    if (addr) out.push(addr);
    phrase = [];
    angled = undefined;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (angle) {
      if (isSpecial(t, ">")) closeAngle();
      // A comma inside <> belongs to a route ("<@a,@b:x@y>") only if "@" follows.
      else if ((isSpecial(t, ",") && !isSpecial(tokens[i + 1], "@")) || isSpecial(t, ";")) flush();
      else angle.push(t);
    } else if (isSpecial(t, "<")) angle = [];
    else if (isSpecial(t, ",") || isSpecial(t, ";")) flush();
    else if (isSpecial(t, ":")) phrase = []; // a group's display name
    else if (angled === undefined) phrase.push(t);
  }
  flush();
  return out;
}
