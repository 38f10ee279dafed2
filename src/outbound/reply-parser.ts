// SMTP reply parsing for the outbound client: bytes from the next MTA in,
// complete replies out, in order (several may be queued: RFC 2920 pipelining).
// SECURITY: the remote server is untrusted. Every reply is bounded (line
// length, line count, total bytes); exceeding a bound or sending a line that
// is not "ddd", "ddd text" or "ddd-text" is a protocol error, never a crash
// or an unbounded buffer. No I/O, never throws.
//
// Implements RFC 5321 §4.2 (reply lines, §4.2.1 multi-line replies) and
// RFC 2034 / RFC 3463 (enhanced status codes at the start of the text).

export interface SmtpReply {
  code: number;
  /** RFC 3463 code ("5.1.1") when the first line's text starts with one whose class matches the reply code. */
  enhanced?: string;
  /** The text of each line, after the code and its "-" or " " (the enhanced code stays in). */
  lines: string[];
  /** "550 5.1.1 text" lines joined with " / " (for logs and DSN Diagnostic-Code) */
  text: string;
}

export interface ReplyLimits {
  /** Octets in one line, CRLF excluded (RFC 5321 §4.5.3.1.5 says 512; servers exceed it). */
  maxLineOctets: number;
  /** Lines in one multi-line reply (a long EHLO list is ~20). */
  maxLines: number;
  /** Octets in one reply, all lines together. */
  maxReplyOctets: number;
}

export const DEFAULT_REPLY_LIMITS: ReplyLimits = { maxLineOctets: 8192, maxLines: 512, maxReplyOctets: 65536 };

const LINE = /^([2-5][0-9][0-9])(?:([ -])(.*))?$/s;
const ENHANCED = /^([245])\.([0-9]{1,3})\.([0-9]{1,3})(?= |$)/;

/** Builds a reply from its parts (also used for replies made up locally). */
export function makeReply(code: number, lines: string[]): SmtpReply {
  const first = lines[0] ?? "";
  const m = ENHANCED.exec(first);
  const enhanced = m && m[1] === String(code)[0] ? `${m[1]}.${Number(m[2])}.${Number(m[3])}` : undefined;
  const text = lines.map((l) => (l === "" ? String(code) : `${code} ${l}`)).join(" / ");
  return enhanced ? { code, enhanced, lines, text } : { code, lines, text };
}

/**
 * Incremental parser: push() every chunk read from the socket, then shift()
 * complete replies. After a protocol error, `error` is set and stays set;
 * nothing more is parsed.
 */
export class ReplyParser {
  private readonly limits: ReplyLimits;
  private partial: Buffer[] = [];
  private partialLength = 0;
  private current: { code: number; lines: string[]; octets: number } | undefined;
  private readonly ready: SmtpReply[] = [];
  private failure: string | undefined;

  constructor(limits: Partial<ReplyLimits> = {}) {
    this.limits = { ...DEFAULT_REPLY_LIMITS, ...limits };
  }

  get error(): string | undefined {
    return this.failure;
  }

  /** Replies complete and not yet taken. */
  get pending(): number {
    return this.ready.length;
  }

  /** True when bytes of an unfinished reply are buffered. */
  get midReply(): boolean {
    return this.partialLength > 0 || this.current !== undefined;
  }

  shift(): SmtpReply | undefined {
    return this.ready.shift();
  }

  push(chunk: Buffer): void {
    if (this.failure) return;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      let line: Buffer;
      if (this.partialLength > 0) {
        line = Buffer.concat([...this.partial, piece]);
        this.partial = [];
        this.partialLength = 0;
      } else {
        line = piece;
      }
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      if (line.length > this.limits.maxLineOctets) return this.fail(`reply line longer than ${this.limits.maxLineOctets} octets`);
      this.line(line);
      if (this.failure) return;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.partialLength += rest.length;
      if (this.partialLength > this.limits.maxLineOctets + 1) return this.fail(`reply line longer than ${this.limits.maxLineOctets} octets`);
      this.partial.push(Buffer.from(rest));
    }
  }

  private line(raw: Buffer): void {
    // Replies are ASCII, UTF-8 with SMTPUTF8 (RFC 6531 §3.7.4); anything else
    // becomes U+FFFD, which is harmless in logs and DSNs.
    const m = LINE.exec(raw.toString("utf8"));
    if (!m) return this.fail(`malformed reply line ${JSON.stringify(raw.subarray(0, 80).toString("latin1"))}`);
    const code = Number(m[1]);
    const last = m[2] !== "-";
    const text = (m[3] ?? "").replace(/[\x00-\x08\x0a-\x1f\x7f]/g, " ");
    const cur = (this.current ??= { code, lines: [], octets: 0 });
    // A multi-line reply whose lines disagree on the code is malformed
    // (§4.2.1: the same code on every line); keep the first, as most clients do.
    cur.lines.push(text);
    cur.octets += raw.length + 2;
    if (cur.lines.length > this.limits.maxLines) return this.fail(`reply longer than ${this.limits.maxLines} lines`);
    if (cur.octets > this.limits.maxReplyOctets) return this.fail(`reply longer than ${this.limits.maxReplyOctets} octets`);
    if (last) {
      this.ready.push(makeReply(cur.code, cur.lines));
      this.current = undefined;
    }
  }

  private fail(message: string): void {
    this.failure = message;
    this.partial = [];
    this.partialLength = 0;
    this.current = undefined;
  }
}
