// Delivery status notifications: the bounce, delay warning and success
// report Petrel sends back to a message's envelope sender. A pure function of
// what the queue knows; no I/O.
// Implements RFC 3464 (message/delivery-status: per-message and per-recipient
// fields, §2.2-§2.3), RFC 3461 §6 (ENVID, ORCPT carried into the report),
// RFC 6522 (multipart/report; report-type=delivery-status, three parts),
// RFC 3463 (enhanced status codes, explained in plain words), RFC 6533 §3 and
// §6 (utf-8 address type, message/global-delivery-status, message/global and
// text/global-headers when addresses or the returned header are not ASCII),
// RFC 3834 §5 (Auto-Submitted: auto-replied).
// SECURITY: diagnostics and addresses come from remote servers and senders;
// control characters are blanked, so nothing can add a header field or a MIME
// boundary, and every line is folded to at most 998 octets (RFC 5322 §2.1.1).
// The boundary carries random bytes and is checked against the content.
import { randomBytes } from "node:crypto";
import { formatRfc5322Date } from "../mime/date.js";

export interface DsnRecipient {
  /** Final recipient. */
  address: string;
  /** "rfc822;user@example" as given at RCPT ORCPT (decoded from xtext), or null. */
  orcpt: string | null;
  action: "failed" | "delayed" | "delivered" | "relayed" | "expanded";
  /** "5.1.1", "4.4.1", "2.0.0". */
  status: string;
  /** The remote reply ("550 5.1.1 <x@y>: no such user") or, without remoteMta, Petrel's own reason in words. */
  diagnostic?: string;
  /** "mx.example.net" → "Remote-MTA: dns; mx.example.net". */
  remoteMta?: string;
  /** ms since the epoch → Last-Attempt-Date. */
  lastAttempt?: number;
  /** For delayed: ms since the epoch → Will-Retry-Until. */
  willRetryUntil?: number;
}

export interface DsnInput {
  /** Reporting-MTA: dns; hostname; From: MAILER-DAEMON@hostname. */
  hostname: string;
  /** The original message's queue id (X-Petrel-Queue-ID and the human text). */
  queueId: string;
  /** Message-ID of the DSN itself, e.g. "<dsnQueueId@hostname>" (angle brackets added when missing). */
  messageId: string;
  /** The original envelope sender: To: of the DSN. Never empty (no DSN goes to <>). */
  sender: string;
  /** Original-Envelope-Id (ENVID), or null. */
  envId: string | null;
  /** ms since the epoch → Arrival-Date. */
  arrival: number;
  recipients: DsnRecipient[];
  /** Header block of the original (up to and including the blank line); body only when the whole message is returned. */
  original: { header: Buffer; body?: Buffer };
  date: Date;
}

const CRLF = "\r\n";
/** Preferred width of folded fields and wrapped text; the hard limit is 998 octets. */
const SOFT_WIDTH = 78;
const HARD_LIMIT = 998;

/** Given the first bytes of a message: its header block up to and including the first empty line, or all of start if none. */
export function originalHeaderBlock(start: Buffer): Buffer {
  if (start.subarray(0, 2).equals(Buffer.from(CRLF))) return start.subarray(0, 2); // no header fields at all
  const end = start.indexOf("\r\n\r\n");
  return end < 0 ? start : start.subarray(0, end + 4);
}

type Kind = "failure" | "delay" | "success";

function kindOf(action: DsnRecipient["action"]): Kind {
  return action === "failed" ? "failure" : action === "delayed" ? "delay" : "success";
}

const SUBJECT: Record<Kind, string> = {
  failure: "Undelivered Mail Returned to Sender",
  delay: "Delayed Mail (still being retried)",
  success: "Successful Mail Delivery Report",
};

export function buildDsn(input: DsnInput): Buffer {
  if (!input.sender) throw new Error("a DSN is never sent to the null sender");
  if (input.recipients.length === 0) throw new Error("a DSN needs at least one recipient");
  const hostname = clean(input.hostname);
  const kinds = new Set(input.recipients.map((r) => kindOf(r.action)));
  const worst: Kind = kinds.has("failure") ? "failure" : kinds.has("delay") ? "delay" : "success";

  const original = input.original.body ? Buffer.concat([input.original.header, input.original.body]) : input.original.header;
  const originalIs8bit = has8bit(original);
  const headerIsUtf8 = has8bit(input.original.header) && isUtf8(input.original.header);
  // The report part needs its UTF-8 form (RFC 6533 §6.2) only for what it carries: addresses and diagnostics.
  const global = input.recipients.flatMap((r) => [r.address, r.orcpt ?? "", r.diagnostic ?? "", r.remoteMta ?? ""]).some((s) => !isAscii(s));

  const human = notification(input, hostname, worst, kinds.size > 1);
  const humanIs8bit = !isAscii(human);
  const report = deliveryStatus(input, hostname, global);
  const part3Type = input.original.body
    ? headerIsUtf8 ? "message/global" : "message/rfc822"
    : headerIsUtf8 ? "text/global-headers" : "text/rfc822-headers";
  const part3Description = input.original.body ? "Undelivered Message" : "Undelivered Message Headers";

  const parts: { head: string[]; body: Buffer }[] = [
    {
      head: [
        "Content-Description: Notification",
        `Content-Type: text/plain; charset=${humanIs8bit ? "utf-8" : "us-ascii"}`,
        ...(humanIs8bit ? ["Content-Transfer-Encoding: 8bit"] : []),
      ],
      body: Buffer.from(human, "utf8"),
    },
    {
      head: [
        "Content-Description: Delivery report",
        `Content-Type: ${global ? "message/global-delivery-status" : "message/delivery-status"}`,
        ...(global ? ["Content-Transfer-Encoding: 8bit"] : []),
      ],
      body: Buffer.from(report, "utf8"),
    },
    {
      head: [`Content-Description: ${part3Description}`, `Content-Type: ${part3Type}`, ...(originalIs8bit ? ["Content-Transfer-Encoding: 8bit"] : [])],
      body: original,
    },
  ];

  const boundary = pickBoundary(input.queueId, parts.map((p) => p.body));
  const any8bit = humanIs8bit || global || originalIs8bit || !isAscii(input.sender);
  const messageId = clean(input.messageId);
  const header = [
    `From: "Mail Delivery System" <MAILER-DAEMON@${hostname}>`,
    `To: <${clean(input.sender)}>`,
    `Subject: ${SUBJECT[worst]}`,
    `Date: ${formatRfc5322Date(input.date)}`,
    `Message-ID: ${messageId.startsWith("<") ? messageId : `<${messageId}>`}`,
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status;${CRLF} boundary="${boundary}"`,
    ...(any8bit ? ["Content-Transfer-Encoding: 8bit"] : []),
  ];

  const out: Buffer[] = [Buffer.from(header.join(CRLF) + CRLF + CRLF + "This is a MIME-encapsulated message." + CRLF)];
  for (const part of parts) {
    out.push(Buffer.from(`${CRLF}--${boundary}${CRLF}${part.head.join(CRLF)}${CRLF}${CRLF}`));
    out.push(part.body);
  }
  out.push(Buffer.from(`${CRLF}--${boundary}--${CRLF}`));
  return Buffer.concat(out);
}

// ------------------------------------------------------------------ part 1

function notification(input: DsnInput, hostname: string, worst: Kind, mixed: boolean): string {
  const lines: string[] = [`This is the mail system at host ${hostname}.`, ""];
  const attached = input.original.body ? "It's attached below." : "Its header is attached below.";
  if (worst === "failure") {
    lines.push(
      ...wrap(`I'm sorry to have to inform you that your message could not be delivered to one or more recipients. ${attached}`),
      "",
      ...wrap("For further assistance, please send mail to postmaster. If you do so, please include this problem report. You can delete your own text from the attached returned message."),
    );
  } else if (worst === "delay") {
    lines.push(
      "####################################################################",
      "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
      "####################################################################",
      "",
      ...wrap(`Your message could not be delivered yet to one or more recipients. The mail system will keep trying; you will be told if it finally gives up. ${attached}`),
    );
  } else {
    lines.push(
      ...wrap(
        "Your message was successfully delivered to the destination(s) listed below. If the message was delivered to a mailbox you will receive no further notifications. Otherwise you may still receive notifications of mail delivery errors from other systems.",
      ),
    );
  }
  lines.push("", "                   The mail system", "");
  lines.push(...wrap(`Queue ID: ${clean(input.queueId)}; message from <${clean(input.sender)}>, received ${formatRfc5322Date(new Date(input.arrival))}.`), "");

  const headings: Record<Kind, string> = {
    failure: "Delivery to the following recipient(s) failed permanently:",
    delay: "Delivery to the following recipient(s) has been delayed:",
    success: "Delivery to the following recipient(s) succeeded:",
  };
  for (const kind of ["failure", "delay", "success"] as const) {
    const group = input.recipients.filter((r) => kindOf(r.action) === kind);
    if (group.length === 0) continue;
    if (mixed) lines.push(headings[kind], "");
    for (const r of group) lines.push(...wrap(recipientSentence(r), "    "), "");
  }
  return lines.join(CRLF);
}

function recipientSentence(r: DsnRecipient): string {
  const diag = r.diagnostic ? clean(r.diagnostic) : "";
  const mta = r.remoteMta ? clean(r.remoteMta) : "";
  let reason: string;
  switch (r.action) {
    case "delivered":
      reason = mta ? `delivered via ${mta}${diag ? `: ${diag}` : ""}` : "delivered to mailbox";
      break;
    case "relayed":
      reason = `relayed to a system that does not send delivery reports${mta ? ` (${mta})` : ""}${diag ? `: ${diag}` : ""}`;
      break;
    case "expanded":
      reason = "delivered to the addresses it expands to";
      break;
    default:
      reason = mta && diag ? `host ${mta} said: ${diag}` : diag || describeStatus(r.status, r.action);
      if (r.action === "delayed" && r.willRetryUntil !== undefined) reason += ` (will keep trying until ${formatRfc5322Date(new Date(r.willRetryUntil))})`;
  }
  return `<${clean(r.address)}>${originalNote(r)}: ${reason}`;
}

function originalNote(r: DsnRecipient): string {
  if (!r.orcpt) return "";
  const semi = r.orcpt.indexOf(";");
  const original = clean(semi < 0 ? r.orcpt : r.orcpt.slice(semi + 1)).trim();
  return original && original.toLowerCase() !== r.address.toLowerCase() ? ` (expanded from <${original}>)` : "";
}

/** RFC 3463 status codes in words, for when there is no remote reply to show. */
function describeStatus(status: string, action: DsnRecipient["action"]): string {
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})$/.exec(status);
  const permanent = m?.[1] === "5" || (!m && action === "failed");
  const detail = m ? DETAIL[`${m[2]}.${m[3]}`] ?? SUBJECT_WORDS[m[2]] : undefined;
  const prefix = permanent ? "" : "temporary problem: ";
  return `${prefix}${detail ?? "delivery failed"} (${status})`;
}

const SUBJECT_WORDS: Record<string, string> = {
  "0": "delivery failed",
  "1": "there is a problem with the address",
  "2": "there is a problem with the recipient's mailbox",
  "3": "the receiving mail system has a problem",
  "4": "there is a network or routing problem",
  "5": "the mail protocol exchange failed",
  "6": "the message content could not be handled",
  "7": "delivery was refused for security or policy reasons",
};

const DETAIL: Record<string, string> = {
  "1.1": "the mailbox does not exist",
  "1.2": "the destination domain does not exist or cannot receive mail",
  "1.3": "the address is not valid",
  "1.4": "the address is ambiguous",
  "1.6": "the mailbox has moved",
  "1.10": "the domain accepts no mail (null MX)",
  "2.1": "the mailbox is disabled",
  "2.2": "the mailbox is full",
  "2.3": "the message is larger than the recipient accepts",
  "3.1": "the receiving mail system is full",
  "3.4": "the message is too big for the receiving system",
  "4.1": "the receiving server did not answer",
  "4.2": "the connection to the receiving server broke",
  "4.3": "a directory server failed (DNS lookup failed)",
  "4.4": "no route to the destination (no mail server found)",
  "4.6": "the message was looping",
  "4.7": "the message was too old: delivery attempts timed out",
  "5.3": "there were too many recipients",
  "7.1": "delivery was not authorized; the message was refused",
};

// ------------------------------------------------------------------ part 2

function deliveryStatus(input: DsnInput, hostname: string, global: boolean): string {
  const perMessage = [
    field("Reporting-MTA", `dns; ${hostname}`),
    field("X-Petrel-Queue-ID", clean(input.queueId)),
    ...(input.envId ? [field("Original-Envelope-Id", clean(input.envId))] : []),
    field("Arrival-Date", formatRfc5322Date(new Date(input.arrival))),
  ];
  const blocks = [perMessage.join(CRLF)];
  for (const r of input.recipients) {
    const lines: string[] = [];
    if (r.orcpt) lines.push(field("Original-Recipient", typedAddress(r.orcpt, global)));
    lines.push(field("Final-Recipient", typedAddress(`rfc822;${r.address}`, global)));
    lines.push(field("Action", r.action));
    lines.push(field("Status", validStatus(r.status, r.action)));
    if (r.remoteMta) lines.push(field("Remote-MTA", `dns; ${clean(r.remoteMta)}`));
    if (r.diagnostic) lines.push(field("Diagnostic-Code", `${diagnosticType(r)}; ${clean(r.diagnostic)}`));
    if (r.lastAttempt !== undefined) lines.push(field("Last-Attempt-Date", formatRfc5322Date(new Date(r.lastAttempt))));
    if (r.action === "delayed" && r.willRetryUntil !== undefined) lines.push(field("Will-Retry-Until", formatRfc5322Date(new Date(r.willRetryUntil))));
    blocks.push(lines.join(CRLF));
  }
  // Groups are separated by one blank line; the part ends with a line break.
  return blocks.join(CRLF + CRLF) + CRLF;
}

/** "smtp" for a remote SMTP reply, "X-Petrel" for Petrel's own words (RFC 3464 §2.3.6). */
function diagnosticType(r: DsnRecipient): string {
  return r.remoteMta || /^[245]\d\d[ -]/.test(r.diagnostic ?? "") ? "smtp" : "X-Petrel";
}

function validStatus(status: string, action: DsnRecipient["action"]): string {
  if (/^[245]\.\d{1,3}\.\d{1,3}$/.test(status)) return status;
  return action === "failed" ? "5.0.0" : action === "delayed" ? "4.0.0" : "2.0.0";
}

/**
 * "type;address" → "type; address". A non-ASCII address gets the utf-8 type
 * with RFC 6533 §3 utf-8-addr-unitext escapes (only in the global report).
 */
function typedAddress(typed: string, global: boolean): string {
  const semi = typed.indexOf(";");
  const type = semi < 0 ? "rfc822" : clean(typed.slice(0, semi)).trim() || "rfc822";
  const address = clean(semi < 0 ? typed : typed.slice(semi + 1)).trim();
  if (isAscii(address) || !global) return `${type}; ${address}`;
  return `utf-8; ${unitext(address)}`;
}

function unitext(address: string): string {
  let out = "";
  for (const ch of address) {
    const cp = ch.codePointAt(0)!;
    out += cp <= 0x20 || cp === 0x7f || ch === "+" || ch === "=" || ch === "\\" ? `\\x{${cp.toString(16).toUpperCase()}}` : ch;
  }
  return out;
}

// ------------------------------------------------------------------ lines

/** "Name: value", folded at spaces (RFC 5322 §2.2.3) so every line has at most 998 octets. */
function field(name: string, value: string): string {
  return fill(`${name}:`, value.split(" ").filter((w) => w !== ""), " ").join(CRLF);
}

/** Plain text wrapped at the preferred width; continuation lines start with indent. */
function wrap(text: string, indent = ""): string[] {
  return fill("", text.split(" ").filter((w) => w !== ""), indent);
}

/**
 * Lays words out on lines: a line is broken before a word that would pass the
 * preferred width (the first word always stays on the first line), and a line
 * still longer than 998 octets is cut there (the only case where folding adds
 * a space inside a word of the value).
 */
function fill(start: string, words: string[], indent: string): string[] {
  const lines: string[] = [];
  let line = start;
  words.forEach((word, i) => {
    if (i === 0 || bytes(line) + 1 + bytes(word) <= SOFT_WIDTH) line += (line === "" ? "" : " ") + word;
    else {
      lines.push(line);
      line = indent + word;
    }
    while (bytes(line) > HARD_LIMIT) {
      const [head, tail] = cutAt(line, HARD_LIMIT);
      lines.push(head);
      line = indent + tail;
    }
  });
  lines.push(line);
  return lines;
}

/** The longest prefix of whole characters within max octets, and the rest. */
function cutAt(text: string, max: number): [string, string] {
  let size = 0;
  let index = 0;
  for (const ch of text) {
    size += bytes(ch);
    if (size > max) break;
    index += ch.length;
  }
  return [text.slice(0, index), text.slice(index)];
}

function bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** Control characters (CR, LF, NUL, ...) and runs of white space become one space. */
function clean(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, " ").replace(/ {2,}/g, " ").trim();
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}

function has8bit(buf: Buffer): boolean {
  for (const b of buf) if (b >= 0x80) return true;
  return false;
}

function isUtf8(buf: Buffer): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
}

/** queue id + random bytes, at most 70 characters (RFC 2046 §5.1.1), and not found in any part. */
function pickBoundary(queueId: string, contents: Buffer[]): string {
  const id = queueId.replace(/[^0-9A-Za-z]/g, "").slice(0, 40);
  for (;;) {
    const boundary = `${id}.${randomBytes(12).toString("hex")}/petrel`;
    if (!contents.some((c) => c.includes(boundary))) return boundary;
  }
}
