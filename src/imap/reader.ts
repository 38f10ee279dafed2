// IMAP command reader: turns the client's byte stream into commands made of
// tokens, one event at a time, with hard limits on everything it buffers.
//
// SECURITY: trusted with raw socket bytes (attacker-controlled, before and
// after authentication). It never throws on input, never buffers more than
// maxLineLength of command text plus the literal sizes its limits allow (and,
// while paused, maxLineLength of early input), skips oversized
// non-synchronizing literals without storing them, and stops reading after
// commands that change the input grammar (IDLE, AUTHENTICATE, STARTTLS,
// COMPRESS) until the session says how to go on: input pipelined behind
// STARTTLS is dropped by reset() (the RFC 3207 §5 / RFC 9051 §6.2.1 command
// injection defence).
//
// Standards (ABNF rule names from RFC 9051 §9 unless noted):
// - command = tag SP (command-any / command-auth / ...) CRLF; tag =
//   1*<any ASTRING-CHAR except "+">; a bare LF is accepted as a line end.
// - literal = "{" number64 ["+"] "}" CRLF *CHAR8 (RFC 9051 §4.3, RFC 3501
//   §4.3); "{n+}" is the non-synchronizing form of RFC 7888 (LITERAL+, and
//   LITERAL- §4: at most 4096 octets when only LITERAL- is offered).
// - literal8 = "~{" number64 ["+"] "}" CRLF *OCTET (RFC 3516 §4.2, RFC 9051):
//   NUL allowed; in a plain literal a NUL is refused (CHAR8 = %x01-ff).
// - quoted = DQUOTE *QUOTED-CHAR DQUOTE, QUOTED-CHAR = <any TEXT-CHAR except
//   quoted-specials> / "\" quoted-specials / UTF8-2..4 (RFC 9051, RFC 6855):
//   any 8-bit byte is kept, the args layer checks UTF-8.
// - atom = 1*ATOM-CHAR: here an "atom" token is any run of CHAR except SP,
//   CTL, "(", ")", "{", DQUOTE, so it also carries flags ("\Seen"),
//   list-wildcards ("%", "*"), resp-specials ("]") and sequence sets; the
//   typed parsers (args.ts and the *-args.ts, fetch-parse.ts, search-parse.ts) check the exact
//   rule. 8-bit bytes outside strings are refused.
// - section / section-binary / partial (fetch-att): see "BODY[...]" below.
//
// Token representation of "BODY[...]": when an atom's text so far is one of
// BODY, BODY.PEEK, BINARY, BINARY.PEEK, BINARY.SIZE (any case) and the next
// byte is "[", the bracket contents are tokenized like a list (atoms, quoted
// strings, literals, parenthesized lists; "]" always ends an atom inside
// them) up to the matching "]", then the atom continues with the following
// ATOM-CHARs (the "<origin.length>" partial). The result is ONE atom token:
//   { t: "atom", v: 'BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100>',
//     section: { prefix: "BODY.PEEK", inner: [atom HEADER.FIELDS, list(FROM TO)], suffix: "<0.100>" } }
// `v` is for messages and logs (inner tokens re-rendered with single spaces,
// strings quoted); fetch-parse.ts reads `section`. Any other "[" is an
// ordinary atom character ("[Gmail]/Sent" stays a plain atom).
//
// Leniency: runs of SP between arguments, a trailing SP and empty lines between
// commands are accepted. Command names are upper-cased; "UID x" is one name.
//
// Memory: a line arriving in one chunk is a view of that chunk; a line in
// pieces is copied once into a doubling buffer (so one-octet packets cost no
// more than whole lines). A literal's buffer is allocated when its first
// octet arrives and every octet is copied into it once. APPEND message
// literals may reach maxLiteralSize: keep it small until the client has
// logged in (setLimits), since a LITERAL+ APPEND is read before the session
// can refuse APPEND in the not-authenticated state.
//
// Events come back from push() and from every method that changes state. The
// reader pauses (holding further input) after a "continue" event, after a
// command named in pauseAfter, and after a "line" event; the session then
// calls exactly one of acceptLiteral()/rejectLiteral() (after "continue") or
// resume()/expectDone()/expectLine()/reset() (after a pausing command or a
// line), each of which returns the events found in input held meanwhile.

export type Token =
  | { t: "atom"; v: string; section?: SectionToken }
  | { t: "string"; v: Buffer; literal: boolean; binary?: boolean }
  | { t: "list"; v: Token[] }
  /** NIL in any letter case; `v` keeps the spelling, for an astring "nil" mailbox. */
  | { t: "nil"; v: string };

/** The bracketed part of a BODY[...] / BINARY[...] / BINARY.SIZE[...] fetch atom. */
export interface SectionToken {
  /** The text before "[", as sent (e.g. "body.peek"). */
  prefix: string;
  /** The tokens between "[" and "]". */
  inner: Token[];
  /** The ATOM-CHARs after "]", as sent (e.g. "<0.100>"), "" if none. */
  suffix: string;
}

export type ReaderEvent =
  | {
      kind: "command";
      /** 1, 2, 3, ... per reader: names this command in resume(id). */
      id: number;
      /** The tag as sent (case kept). */
      tag: string;
      /** Upper-cased command name; "UID FETCH" etc. for UID commands (the subcommand is not in args). */
      name: string;
      args: Token[];
      /** Octets of the whole command: text, line ends and literal data. */
      size: number;
    }
  | {
      /** A synchronizing literal was announced and fits the limits: write "+ Ready\r\n" and call
       * acceptLiteral(), or answer tagged NO/BAD and call rejectLiteral(). */
      kind: "continue";
      tag: string;
      name: string;
      /** Top-level arguments read so far (e.g. APPEND's mailbox, to refuse early with TRYCREATE). */
      args: Token[];
      size: number;
      binary: boolean;
    }
  | {
      /** fatal: send "* BYE message" and close. Otherwise send `${tag} ${reply} [${code}] ${message}`
       * (no brackets when code is absent). tag is "*" when the tag was missing or invalid. */
      kind: "error";
      tag: string;
      reply: "BAD" | "NO" | "BYE";
      code?: string;
      message: string;
      fatal: boolean;
    }
  /** A raw line after expectLine() (AUTHENTICATE continuation), without the line end, decoded as latin1. */
  | { kind: "line"; line: string }
  /** "DONE" after expectDone() (IDLE, RFC 2177). */
  | { kind: "done" };

export interface ReaderOptions {
  /** Command text without literals, and any single line, in octets. Default 64 KiB. Over it: fatal. */
  maxLineLength?: number;
  /** Whole non-APPEND command including literals, in octets. Default 64 KiB. */
  maxCommandSize?: number;
  /** One message literal of APPEND (APPENDLIMIT, RFC 7889). Default 64 MiB. */
  maxLiteralSize?: number;
  /** All literals of one APPEND command together (MULTIAPPEND). Default 2 × maxLiteralSize. */
  maxAppendSize?: number;
  /** Largest refused non-synchronizing literal that is read and dropped rather than closing. Default 16 MiB. */
  maxSkipSize?: number;
  /** Depth of parenthesized lists and brackets. Default 32. */
  maxNesting?: number;
  /** Tokens in one command (a list counts as one plus its members). Default 10000. */
  maxTokens?: number;
  /** Only LITERAL- is offered: non-synchronizing literals over 4096 octets are refused (RFC 7888 §4). */
  literalMinus?: boolean;
  /** Command names after which the reader pauses. Default IDLE, AUTHENTICATE, STARTTLS, COMPRESS. */
  pauseAfter?: readonly string[];
}

const SP = 0x20, LF = 0x0a, CR = 0x0d, DQUOTE = 0x22, BACKSLASH = 0x5c;
const LPAREN = 0x28, RPAREN = 0x29, LBRACE = 0x7b, LBRACKET = 0x5b, RBRACKET = 0x5d, TILDE = 0x7e, PLUS = 0x2b;
const LITERAL_MINUS_MAX = 4096;
const EMPTY = Buffer.alloc(0);
const SECTION_PREFIXES = new Set(["BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"]);
const MAX_PREFIX = 11;

/** Bytes of an atom-like token: CHAR except SP, CTL, "(", ")", "{", DQUOTE. */
const ATOM = new Uint8Array(256);
/** Bytes of a tag: ASTRING-CHAR except "+" (RFC 9051 §9 tag). */
const TAG = new Uint8Array(256);
for (let b = 0x21; b < 0x7f; b++) {
  if (b !== LPAREN && b !== RPAREN && b !== LBRACE && b !== DQUOTE) ATOM[b] = 1;
  // atom-specials: ( ) { SP CTL % * " \ ] — but ASTRING-CHAR adds "]" back.
  if (ATOM[b] && b !== 0x25 && b !== 0x2a && b !== BACKSLASH && b !== PLUS) TAG[b] = 1;
}
/** Command names: letters, digits, "-", "_", "." (no extension name uses more). */
const NAME = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x5f || b === 0x2e) NAME[b] = 1;
}

interface Frame {
  kind: "top" | "list" | "section";
  tokens: Token[];
  /** For a section frame: the atom text before "[". */
  prefix?: string;
}

/** State of the command being read. */
interface Command {
  tag: string;
  name: string;
  named: boolean;
  frames: Frame[];
  sections: number;
  tokens: number;
  /** Octets of command text (no literals) consumed so far, line ends included. */
  textBytes: number;
  /** Octets of the whole command so far. */
  size: number;
  /** Octets of literal data so far. */
  literalBytes: number;
  /** The next token needs a separator (SP, ")" or "]") before it. */
  needSep: boolean;
}

type Step =
  | { t: "done" }
  | { t: "literal"; size: number; sync: boolean; binary: boolean }
  | { t: "error"; tag: string; message: string };

type Mode = "command" | "literal" | "skip" | "skipline" | "idle" | "line" | "dead";
type Pause = null | "continue" | "command" | "line";

export class CommandReader {
  maxLineLength: number;
  maxCommandSize: number;
  maxLiteralSize: number;
  maxAppendSize: number;
  maxSkipSize: number;
  maxNesting: number;
  maxTokens: number;
  literalMinus: boolean;
  private readonly pauseAfter: ReadonlySet<string>;

  private mode: Mode = "command";
  private pause: Pause = null;
  private held = new ByteQueue();
  private line = new ByteQueue();
  private cmd: Command | undefined;
  private literal: Buffer | undefined;
  private literalSize = 0;
  private literalFilled = 0;
  private literalBinary = false;
  private pendingLiteral: { size: number; binary: boolean } | undefined;
  private skipRemaining = 0;
  private lastTag = "*";
  private commandCount = 0;
  private pausedBy = 0;

  constructor(options: ReaderOptions = {}) {
    this.maxLineLength = options.maxLineLength ?? 64 * 1024;
    this.maxCommandSize = options.maxCommandSize ?? 64 * 1024;
    this.maxLiteralSize = options.maxLiteralSize ?? 64 * 1024 * 1024;
    this.maxAppendSize = options.maxAppendSize ?? 2 * this.maxLiteralSize;
    this.maxSkipSize = options.maxSkipSize ?? 16 * 1024 * 1024;
    this.maxNesting = options.maxNesting ?? 32;
    this.maxTokens = options.maxTokens ?? 10_000;
    this.literalMinus = options.literalMinus ?? false;
    this.pauseAfter = new Set((options.pauseAfter ?? ["IDLE", "AUTHENTICATE", "STARTTLS", "COMPRESS"]).map((n) => n.toUpperCase()));
  }

  /** Changes limits between commands, e.g. APPEND's literal limit once the client has logged in
   * (keep maxLiteralSize small before authentication: the reader reads a non-synchronizing
   * APPEND literal before the session can refuse APPEND in the not-authenticated state). */
  setLimits(limits: Omit<ReaderOptions, "pauseAfter">): void {
    if (limits.maxLineLength !== undefined) this.maxLineLength = limits.maxLineLength;
    if (limits.maxCommandSize !== undefined) this.maxCommandSize = limits.maxCommandSize;
    if (limits.maxLiteralSize !== undefined) this.maxLiteralSize = limits.maxLiteralSize;
    if (limits.maxAppendSize !== undefined) this.maxAppendSize = limits.maxAppendSize;
    if (limits.maxSkipSize !== undefined) this.maxSkipSize = limits.maxSkipSize;
    if (limits.maxNesting !== undefined) this.maxNesting = limits.maxNesting;
    if (limits.maxTokens !== undefined) this.maxTokens = limits.maxTokens;
    if (limits.literalMinus !== undefined) this.literalMinus = limits.literalMinus;
  }

  /** Octets currently held in memory (line text, literal data, input held while paused). */
  get bufferedBytes(): number {
    return this.line.length + this.held.length + (this.literal?.length ?? 0);
  }

  /** Whether the reader waits for the session (see the header comment). */
  get paused(): boolean {
    return this.pause !== null;
  }

  /** Whether a fatal error ended reading; every later push is ignored. */
  get closed(): boolean {
    return this.mode === "dead";
  }

  /** Feeds bytes from the socket; returns the events they complete. */
  push(chunk: Buffer): ReaderEvent[] {
    const out: ReaderEvent[] = [];
    this.consume(chunk, out);
    return out;
  }

  /** After "continue": the session sent "+ ..."; read the literal. */
  acceptLiteral(): ReaderEvent[] {
    const out: ReaderEvent[] = [];
    if (this.pause !== "continue" || !this.pendingLiteral) return out;
    const { size, binary } = this.pendingLiteral;
    this.pendingLiteral = undefined;
    this.pause = null;
    this.startLiteral(size, binary, out);
    this.drain(out);
    return out;
  }

  /** After "continue": the session refused the literal with a tagged NO/BAD, so the client sends
   * nothing more for this command (RFC 9051 §7.5); the partial command is dropped. */
  rejectLiteral(): ReaderEvent[] {
    const out: ReaderEvent[] = [];
    if (this.pause !== "continue") return out;
    this.pendingLiteral = undefined;
    this.cmd = undefined;
    this.mode = "command";
    this.pause = null;
    this.drain(out);
    return out;
  }

  /** Go on reading commands (after a pausing command that failed, or the end of AUTHENTICATE).
   * Pass the id of the command whose handler is finishing: while the reader is paused after a
   * different command (say, STARTTLS pipelined behind NOOP), resume(idOfNoop) does nothing, so a
   * handler that ends early cannot let input behind STARTTLS through before reset(). Without an
   * id the pause is lifted whatever caused it. */
  resume(id?: number): ReaderEvent[] {
    if (id !== undefined && this.pause === "command" && id !== this.pausedBy) return [];
    return this.switchTo("command");
  }

  /** IDLE accepted ("+ idling" sent): the next line must be DONE (RFC 2177 §3). */
  expectDone(): ReaderEvent[] {
    return this.switchTo("idle");
  }

  /** The next line is a raw continuation (AUTHENTICATE, RFC 9051 §6.2.2), returned as a "line" event. */
  expectLine(): ReaderEvent[] {
    return this.switchTo("line");
  }

  /** Drops every buffered octet and partial command and reads fresh commands: call it right after
   * the TLS handshake of STARTTLS starts, so nothing sent in the clear is taken as a command. */
  reset(): ReaderEvent[] {
    if (this.mode === "dead") return [];
    this.held.clear();
    this.line.clear();
    this.literal = undefined;
    this.pendingLiteral = undefined;
    this.skipRemaining = 0;
    this.cmd = undefined;
    this.pause = null;
    this.mode = "command";
    return [];
  }

  private switchTo(mode: "command" | "idle" | "line"): ReaderEvent[] {
    const out: ReaderEvent[] = [];
    const between = this.mode === "command" || this.mode === "idle" || this.mode === "line";
    if (!between || this.pause === "continue" || this.cmd) return out;
    this.mode = mode;
    this.pause = null;
    this.drain(out);
    return out;
  }

  private drain(out: ReaderEvent[]): void {
    const held = this.held.take();
    if (held) this.consume(held, out);
  }

  private hold(chunk: Buffer, out: ReaderEvent[]): void {
    if (chunk.length === 0) return;
    if (this.held.length + chunk.length > this.maxLineLength) this.fatal(out, "Too much input sent without waiting for the server");
    else this.held.append(chunk);
  }

  private fatal(out: ReaderEvent[], message: string): void {
    out.push({ kind: "error", tag: "*", reply: "BYE", message, fatal: true });
    this.reset();
    this.mode = "dead";
  }

  private consume(chunk: Buffer, out: ReaderEvent[]): void {
    let off = 0;
    while (off < chunk.length) {
      if (this.mode === "dead") return;
      if (this.pause !== null) {
        this.hold(off === 0 ? chunk : chunk.subarray(off), out);
        return;
      }
      if (this.mode === "literal") {
        // The literal's buffer is allocated when its first octet arrives and each octet is
        // copied into it once.
        const take = Math.min(this.literalSize - this.literalFilled, chunk.length - off);
        this.literal ??= Buffer.allocUnsafe(this.literalSize);
        chunk.copy(this.literal, this.literalFilled, off, off + take);
        this.literalFilled += take;
        off += take;
        if (this.literalFilled === this.literalSize) this.finishLiteral(out);
        continue;
      }
      if (this.mode === "skip") {
        const take = Math.min(this.skipRemaining, chunk.length - off);
        this.skipRemaining -= take;
        off += take;
        if (this.skipRemaining === 0) this.mode = "skipline";
        continue;
      }
      // Line-oriented modes: command, skipline, idle, line.
      const lf = chunk.indexOf(LF, off);
      const end = lf === -1 ? chunk.length : lf;
      const used = this.line.length + (end - off) + (this.mode === "command" && this.cmd ? this.cmd.textBytes : 0);
      if (used > this.maxLineLength) {
        this.fatal(out, "Command line too long");
        return;
      }
      if (end > off) this.line.append(chunk.subarray(off, end));
      if (lf === -1) return;
      off = lf + 1;
      const raw = this.line.length + 1;
      let line = this.line.take() ?? EMPTY;
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      this.onLine(line, raw, out);
    }
  }

  private onLine(line: Buffer, raw: number, out: ReaderEvent[]): void {
    switch (this.mode) {
      case "idle":
        this.mode = "command";
        if (line.length === 4 && line.toString("latin1").toUpperCase() === "DONE") out.push({ kind: "done" });
        else out.push({ kind: "error", tag: this.lastTag, reply: "BAD", message: "Expected DONE", fatal: false });
        return;
      case "line":
        this.mode = "command";
        this.pause = "line";
        out.push({ kind: "line", line: line.toString("latin1") });
        return;
      case "skipline":
        this.mode = "command";
        this.skipAnnouncedLiteral(line, out);
        return;
      default:
        break;
    }
    if (!this.cmd) {
      if (line.length === 0) return; // empty lines between commands are ignored
      this.cmd = {
        tag: "*", name: "", named: false, frames: [{ kind: "top", tokens: [] }], sections: 0,
        tokens: 0, textBytes: 0, size: 0, literalBytes: 0, needSep: false,
      };
    }
    const cmd = this.cmd;
    cmd.textBytes += raw;
    cmd.size += raw;
    const step = this.feed(cmd, line);
    if (step.t === "error") {
      this.cmd = undefined;
      out.push({ kind: "error", tag: step.tag, reply: "BAD", message: step.message, fatal: false });
      this.skipAnnouncedLiteral(line, out);
      return;
    }
    if (step.t === "done") {
      this.cmd = undefined;
      this.lastTag = cmd.tag;
      const id = ++this.commandCount;
      out.push({ kind: "command", id, tag: cmd.tag, name: cmd.name, args: cmd.frames[0]!.tokens, size: cmd.size });
      if (this.pauseAfter.has(cmd.name)) {
        this.pause = "command";
        this.pausedBy = id;
      }
      return;
    }
    this.announce(cmd, step.size, step.sync, step.binary, out);
  }

  /** Checks an announced literal against the limits and starts reading it or refuses it. */
  private announce(cmd: Command, size: number, sync: boolean, binary: boolean, out: ReaderEvent[]): void {
    const append = cmd.name === "APPEND";
    // The mailbox (first argument) of APPEND is held to the small limit like any other command.
    const message = append && !(cmd.frames.length === 1 && cmd.frames[0]!.tokens.length === 0);
    let refusal: string | undefined;
    if (!sync && this.literalMinus && size > LITERAL_MINUS_MAX) {
      refusal = `Non-synchronizing literal larger than ${LITERAL_MINUS_MAX} octets (LITERAL-)`;
    } else if (message) {
      if (size > this.maxLiteralSize) refusal = `Message larger than the limit of ${this.maxLiteralSize} octets`;
      else if (cmd.literalBytes + size > this.maxAppendSize) refusal = `APPEND larger than the limit of ${this.maxAppendSize} octets`;
    } else if (cmd.size + size > this.maxCommandSize) {
      refusal = `Literal too large for ${cmd.name} (limit ${this.maxCommandSize} octets)`;
    }
    if (refusal === undefined) {
      if (sync) {
        this.pendingLiteral = { size, binary };
        this.pause = "continue";
        out.push({ kind: "continue", tag: cmd.tag, name: cmd.name, args: cmd.frames[0]!.tokens.slice(), size, binary });
      } else {
        this.startLiteral(size, binary, out);
      }
      return;
    }
    this.cmd = undefined;
    const reply = message ? "NO" : "BAD";
    out.push({ kind: "error", tag: cmd.tag, reply, code: "TOOBIG", message: refusal, fatal: false });
    if (sync) return; // the client waits for "+" and gets the tagged answer instead
    this.startSkip(size, out);
  }

  private startSkip(size: number, out: ReaderEvent[]): void {
    if (size > this.maxSkipSize) {
      this.fatal(out, "Refused non-synchronizing literal too large to skip");
      return;
    }
    this.skipRemaining = size;
    this.mode = size === 0 ? "skipline" : "skip";
  }

  /** After an error: if the refused line announced a non-synchronizing literal, its bytes are
   * coming anyway; skip them and the rest of that command. A synchronizing one is never sent. */
  private skipAnnouncedLiteral(line: Buffer, out: ReaderEvent[]): void {
    const tail = line.toString("latin1", Math.max(0, line.length - 32));
    const m = /~?\{(\d+)\+\}$/.exec(tail);
    if (!m) return;
    const digits = m[1]!;
    this.startSkip(digits.length > 15 ? Infinity : Number(digits), out);
  }

  private startLiteral(size: number, binary: boolean, out: ReaderEvent[]): void {
    this.literal = undefined;
    this.literalSize = size;
    this.literalFilled = 0;
    this.literalBinary = binary;
    this.mode = "literal";
    if (size === 0) this.finishLiteral(out);
  }

  private finishLiteral(out: ReaderEvent[]): void {
    const cmd = this.cmd!;
    const data = this.literal ?? EMPTY;
    this.literal = undefined;
    this.mode = "command";
    cmd.size += data.length;
    cmd.literalBytes += data.length;
    if (!this.literalBinary && data.includes(0)) {
      this.cmd = undefined;
      this.mode = "skipline";
      out.push({ kind: "error", tag: cmd.tag, reply: "BAD", message: "NUL octet in a literal (use literal8 ~{n})", fatal: false });
      return;
    }
    const token: Token = this.literalBinary ? { t: "string", v: data, literal: true, binary: true } : { t: "string", v: data, literal: true };
    const added = this.addToken(cmd, token);
    if (added) {
      this.cmd = undefined;
      this.mode = "skipline";
      out.push({ kind: "error", tag: cmd.tag, reply: "BAD", message: added, fatal: false });
    }
  }

  private addToken(cmd: Command, token: Token): string | undefined {
    if (++cmd.tokens > this.maxTokens) return `Too many arguments (limit ${this.maxTokens})`;
    cmd.frames[cmd.frames.length - 1]!.tokens.push(token);
    cmd.needSep = true;
    return undefined;
  }

  /** Tokenizes one line of command text (between line start or a literal and the line end). */
  private feed(cmd: Command, line: Buffer): Step {
    const n = line.length;
    let i = 0;
    const fail = (message: string): Step => ({ t: "error", tag: cmd.tag, message });
    if (!cmd.named) {
      while (i < n && TAG[line[i]!]) i++;
      if (i === 0 || (i < n && line[i] !== SP)) return { t: "error", tag: "*", message: "Invalid tag" };
      cmd.tag = line.toString("latin1", 0, i);
      if (i === n) return fail("Missing command name");
      const name = this.readName(line, ++i);
      if (!name.ok) return fail(name.message);
      i = name.end;
      cmd.name = name.name;
      if (cmd.name === "UID") {
        if (i === n) return fail("Missing command after UID");
        const sub = this.readName(line, ++i);
        if (!sub.ok) return fail(sub.message);
        i = sub.end;
        cmd.name = `UID ${sub.name}`;
      }
      cmd.named = true;
    }
    while (i < n) {
      const c = line[i]!;
      const frame = cmd.frames[cmd.frames.length - 1]!;
      if (c === SP) {
        i++;
        cmd.needSep = false;
        continue;
      }
      if (c === RPAREN) {
        if (frame.kind !== "list") return fail(frame.kind === "section" ? "Unbalanced ) inside [ ]" : "Unexpected )");
        cmd.frames.pop();
        i++;
        const err = this.addToken(cmd, { t: "list", v: frame.tokens });
        if (err) return fail(err);
        continue;
      }
      if (c === RBRACKET && cmd.sections > 0) {
        if (frame.kind !== "section") return fail("Unbalanced ] inside ( )");
        cmd.frames.pop();
        cmd.sections--;
        const start = ++i;
        while (i < n && ATOM[line[i]!] && !(line[i] === RBRACKET && cmd.sections > 0)) i++;
        const suffix = line.toString("latin1", start, i);
        const prefix = frame.prefix!;
        const v = `${prefix}[${renderTokens(frame.tokens)}]${suffix}`;
        const err = this.addToken(cmd, { t: "atom", v, section: { prefix, inner: frame.tokens, suffix } });
        if (err) return fail(err);
        continue;
      }
      if (c < 0x20 || c === 0x7f) return fail("Control character in command");
      if (c >= 0x80) return fail("8-bit characters are only allowed in quoted strings and literals");
      if (cmd.needSep) return fail("Missing space between arguments");
      if (c === LPAREN) {
        if (cmd.frames.length > this.maxNesting) return fail(`Lists nested too deeply (limit ${this.maxNesting})`);
        cmd.frames.push({ kind: "list", tokens: [] });
        i++;
        continue;
      }
      if (c === DQUOTE) {
        const q = readQuoted(line, i);
        if (!q.ok) return fail(q.message);
        i = q.end;
        const err = this.addToken(cmd, { t: "string", v: q.value, literal: false });
        if (err) return fail(err);
        continue;
      }
      if (c === LBRACE || (c === TILDE && line[i + 1] === LBRACE)) {
        const m = /^(~?)\{(\d+)(\+?)\}$/.exec(line.toString("latin1", i));
        if (!m) return fail("Invalid literal announcement (expected {n} or {n+} at the end of the line)");
        const digits = m[2]!;
        return { t: "literal", size: digits.length > 15 ? Infinity : Number(digits), sync: m[3] === "", binary: m[1] === "~" };
      }
      // Atom-like token.
      const start = i;
      while (i < n) {
        const b = line[i]!;
        if (b === RBRACKET && cmd.sections > 0) break;
        if (b === LBRACKET && i - start <= MAX_PREFIX && SECTION_PREFIXES.has(line.toString("latin1", start, i).toUpperCase())) break;
        if (!ATOM[b]) break;
        i++;
      }
      if (i < n && line[i] === LBRACKET && i > start) {
        if (cmd.frames.length > this.maxNesting) return fail(`Lists nested too deeply (limit ${this.maxNesting})`);
        cmd.frames.push({ kind: "section", tokens: [], prefix: line.toString("latin1", start, i) });
        cmd.sections++;
        i++;
        continue;
      }
      if (i === start) return fail(`Unexpected character "${String.fromCharCode(c)}"`);
      const text = line.toString("latin1", start, i);
      const err = this.addToken(cmd, text.toUpperCase() === "NIL" ? { t: "nil", v: text } : { t: "atom", v: text });
      if (err) return fail(err);
    }
    if (cmd.frames.length > 1) return fail(cmd.frames[cmd.frames.length - 1]!.kind === "list" ? "Missing )" : "Missing ]");
    return { t: "done" };
  }

  private readName(line: Buffer, start: number): { ok: true; name: string; end: number } | { ok: false; message: string } {
    let i = start;
    while (i < line.length && NAME[line[i]!]) i++;
    if (i === start) return { ok: false, message: "Missing command name" };
    if (i < line.length && line[i] !== SP) return { ok: false, message: "Invalid command name" };
    return { ok: true, name: line.toString("latin1", start, i).toUpperCase(), end: i };
  }
}

function readQuoted(line: Buffer, start: number): { ok: true; value: Buffer; end: number } | { ok: false; message: string } {
  let i = start + 1;
  let escapes = false;
  for (;;) {
    if (i >= line.length) return { ok: false, message: "Unterminated quoted string" };
    const b = line[i]!;
    if (b === DQUOTE) break;
    if (b === BACKSLASH) {
      const next = line[i + 1];
      if (next !== DQUOTE && next !== BACKSLASH) return { ok: false, message: "Invalid escape in quoted string (only \\\\ and \\\" are allowed)" };
      escapes = true;
      i += 2;
      continue;
    }
    if (b === 0 || b === CR) return { ok: false, message: "NUL or CR in quoted string" };
    i++;
  }
  const body = line.subarray(start + 1, i);
  if (!escapes) return { ok: true, value: Buffer.from(body), end: i + 1 };
  const value = Buffer.allocUnsafe(body.length);
  let w = 0;
  for (let r = 0; r < body.length; r++) {
    const b = body[r]!;
    value[w++] = b === BACKSLASH ? body[++r]! : b;
  }
  return { ok: true, value: value.subarray(0, w), end: i + 1 };
}

/** Renders tokens back to IMAP syntax for display: strings quoted (latin1 bytes shown as UTF-8). */
export function renderTokens(tokens: readonly Token[]): string {
  return tokens.map(renderToken).join(" ");
}

export function renderToken(token: Token): string {
  switch (token.t) {
    case "atom":
    case "nil":
      return token.v;
    case "list":
      return `(${renderTokens(token.v)})`;
    case "string":
      return `"${token.v.toString("utf8").replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  }
}

/** Bytes arriving in pieces. A single piece stays a view of the socket chunk (no copy); from the
 * second piece on they are copied once into a buffer that doubles as needed, so a client sending
 * one octet per packet costs no more memory than one sending whole lines. */
class ByteQueue {
  private first: Buffer | undefined;
  private buf: Buffer | undefined;
  length = 0;

  append(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.length === 0) {
      this.first = piece;
      this.length = piece.length;
      return;
    }
    const need = this.length + piece.length;
    if (this.first) {
      this.buf = Buffer.allocUnsafe(Math.max(need * 2, 256));
      this.first.copy(this.buf, 0);
      this.first = undefined;
    } else if (this.buf!.length < need) {
      const grown = Buffer.allocUnsafe(need * 2);
      this.buf!.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    piece.copy(this.buf!, this.length);
    this.length = need;
  }

  /** Everything appended so far, emptying the queue; undefined when empty. */
  take(): Buffer | undefined {
    const out = this.first ?? this.buf?.subarray(0, this.length);
    this.clear();
    return out;
  }

  clear(): void {
    this.first = undefined;
    this.buf = undefined;
    this.length = 0;
  }
}
