// One IMAP session (RFC 9051 IMAP4rev2, RFC 3501 IMAP4rev1): the connection,
// the command reader, the states of §3 (not authenticated, authenticated,
// selected, logout), tagged and untagged responses, synchronizing literals,
// STARTTLS, AUTHENTICATE continuations, IDLE and the autologout timer. Each
// command lives in imap/commands/ and declares the states it is allowed in.
// After every command the selected mailbox catches up with other sessions'
// changes (never with expunges after FETCH, STORE or SEARCH, §7.4.1).
// With NOTIFY (RFC 5465) changes are also told between commands: the
// selected mailbox as the SELECTED / SELECTED-DELAYED group asks, other
// mailboxes by notify.ts; IDLE then tells exactly what NOTIFY asked (§4).
// SECURITY: everything from the socket is attacker-controlled; the reader
// bounds every buffer; passwords only over TLS or from
// auth.plaintext_networks (LOGINDISABLED otherwise); a session sees only its
// own user's mailboxes, found by name in the store — never by path.
import net from "node:net";
import tls from "node:tls";
import { randomBytes } from "node:crypto";
import type { Config } from "../config/schema.js";
import type { Logger } from "../log/logger.js";
import type { MailboxChange, MessageRecord, Stores, UserRecord } from "../store/interfaces.js";
import type { SearchScope } from "./search.js";
import { refreshContext, removalsBeforeExpunge, type SearchContext } from "./search-context.js";
import { unmapIPv4 } from "../net/cidr.js";
import { exceedsQuota } from "../directory/quota.js";
import { upgradeToTls } from "../net/tls.js";
import { Mailstore } from "../mailstore/mailstore.js";
import { CommandReader, type ReaderEvent, type Token } from "./reader.js";
import { SelectedMailbox } from "./selected.js";
import { toWire } from "./quote.js";
import { COMMANDS, type ImapCommand, type SessionState } from "./commands/index.js";
import { writeFetchResponses } from "./commands/fetch.js";
import { Notifier } from "./notify.js";
import type { NotifySpec } from "./notify-parse.js";
import type { MailAccessContext } from "../net/session-context.js";

/** IMAP needs what POP3 needs, plus the per-user session count. */
export interface ImapContext extends MailAccessContext {
  /** Sessions per user, shared by the listeners (imap.max_connections_per_user). */
  userSessions: Map<number, number>;
}

const PREAUTH_LITERAL = 64 * 1024;
/** Output held for a command beyond this goes out at once (a large FETCH is not kept in memory whole). */
const MAX_HELD_OUTPUT = 256 * 1024;
/** Unread output beyond which NOTIFY stops (NOTIFICATIONOVERFLOW, RFC 5465 §5.8). */
const MAX_NOTIFY_BACKLOG = 4 * 1024 * 1024;

/** Commands during which expunges must not be announced (RFC 3501 §7.4.1; the UID forms may, but we keep it simple and safe). */
const NO_EXPUNGE = new Set(["FETCH", "STORE", "SEARCH", "UID FETCH", "UID STORE", "UID SEARCH", "SORT", "UID SORT", "THREAD", "UID THREAD"]);

export class ImapSession {
  readonly id = randomBytes(6).toString("hex");
  socket: net.Socket;
  readonly client: string;
  readonly log: Logger;
  readonly mailstore: Mailstore;
  state: SessionState = "notauth";
  secure: boolean;
  user: UserRecord | undefined;
  selected: SelectedMailbox | undefined;
  /** ENABLEd extensions (RFC 5161): CONDSTORE, QRESYNC, UTF8=ACCEPT, IMAP4rev2. */
  readonly enabled = new Set<string>();
  /** A command used CONDSTORE features (RFC 7162 §3.1: then FETCH responses carry MODSEQ). */
  condstoreUsed = false;
  /** SEARCHRES saved result ($), UIDs. */
  savedSearch: number[] = [];
  /** CONTEXT=SEARCH: searches kept up to date (RETURN (UPDATE)), by tag. */
  readonly searchContexts = new Map<string, SearchContext>();
  /** What NOTIFY asked for (RFC 5465); undefined before the first NOTIFY. */
  notifier: Notifier | undefined;
  onClosed: (() => void) | undefined;

  private readonly reader: CommandReader;
  /** Input events, and "notify": changes to tell between commands (NOTIFY). */
  private queue: (ReaderEvent | { kind: "notify" })[] = [];
  private notifyQueued = false;
  /** Wakes the IDLE loop when something it tells has changed. */
  private idleWake: (() => void) | undefined;
  /** The socket whose output is held (corked) for the command under way. */
  private heldOn: net.Socket | undefined;
  private busy = false;
  private closed = false;
  private errors = 0;
  private unsubscribe: (() => void) | undefined;
  private idle: { tag: string; wake: (error?: string) => void } | undefined;
  /** A line the session waits for (AUTHENTICATE continuation). */
  private lineWaiter: ((line: string | undefined) => void) | undefined;
  private countedUser: number | undefined;
  private deferring = false;
  private completion: string | undefined;

  constructor(readonly ctx: ImapContext, socket: net.Socket) {
    this.socket = socket;
    this.secure = socket instanceof tls.TLSSocket;
    this.client = unmapIPv4(socket.remoteAddress ?? "unknown");
    this.log = ctx.log.child({ sid: this.id, protocol: "imap" });
    this.mailstore = new Mailstore(ctx.stores, this.id);
    // Before login no literal may be large (APPEND needs a login): a LITERAL+ message is read before it can be refused.
    this.reader = new CommandReader({ maxLineLength: ctx.config.imap.max_line_length, maxLiteralSize: PREAUTH_LITERAL });
  }

  get stores(): Stores {
    return this.ctx.stores;
  }

  get config(): Config {
    return this.ctx.config;
  }

  /** UTF8=ACCEPT is on (RFC 6855): mailbox names and strings in UTF-8. */
  get utf8(): boolean {
    return this.enabled.has("UTF8=ACCEPT") || this.enabled.has("IMAP4REV2");
  }

  get rev2(): boolean {
    return this.enabled.has("IMAP4REV2");
  }

  /**
   * A command used a CONDSTORE feature: from now on FETCH responses carry
   * MODSEQ, and the first such command announces HIGHESTMODSEQ (RFC 7162 §3.1).
   */
  useCondstore(): void {
    if (!this.condstore && this.selected) this.untagged(`OK [HIGHESTMODSEQ ${this.selected.highestModseq}] Highest`);
    this.condstoreUsed = true;
  }

  /** Adding this many bytes would take the user over quota (APPEND, COPY). */
  async overQuota(adding: number): Promise<boolean> {
    const user = await this.stores.directory.getUserById(this.user!.id);
    return user !== undefined && exceedsQuota(user, adding);
  }

  /** What SEARCH, SORT and THREAD look at: the selected mailbox as this session sees it. */
  searchScope(onRead?: (m: MessageRecord, buf: Buffer) => void): SearchScope {
    const view = this.selected!;
    return {
      uids: view.allUids.filter((uid) => !view.isGone(uid)),
      message: (uid) => view.message(uid)!,
      read: async (m) => {
        const buf = await this.mailstore.readIfPresent(m);
        if (buf && onRead) onRead(m, buf);
        return buf;
      },
      saved: this.savedSearch,
      isRecent: this.rev2 ? () => false : (uid) => view.isRecent(uid),
    };
  }

  get condstore(): boolean {
    return this.condstoreUsed || this.enabled.has("CONDSTORE") || this.enabled.has("QRESYNC");
  }

  get qresync(): boolean {
    return this.enabled.has("QRESYNC");
  }

  start(): void {
    this.log.info({ client: this.client, listener: this.ctx.listener }, "connect");
    this.attach(this.socket);
    this.untagged(`OK [CAPABILITY ${this.capabilities().join(" ")}] Petrel IMAP server ready`);
  }

  /** Passwords may be sent now (TLS, or a client in auth.plaintext_networks). */
  plaintextAllowed(): boolean {
    return this.secure || this.ctx.plaintextNetworks.contains(this.client);
  }

  capabilities(): string[] {
    const caps = ["IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE"];
    if (this.state === "notauth") {
      if (!this.secure) caps.push("STARTTLS");
      if (this.plaintextAllowed()) caps.push("AUTH=PLAIN", "AUTH=LOGIN");
      else caps.push("LOGINDISABLED");
      return caps;
    }
    return [
      ...caps, "NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN", "SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS",
      "STATUS=SIZE", `APPENDLIMIT=${this.config.imap.max_message_size}`, "MULTIAPPEND", "CATENATE", "UTF8=ACCEPT", "BINARY",
      "CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES", "CONTEXT=SEARCH", "QUOTA", "QUOTA=RES-STORAGE", "SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES",
      "NOTIFY",
    ];
  }

  // ------------------------------------------------------------------ output

  /** Output follows the wire convention of quote.ts: a string is one char per byte (latin1), never UTF-8. */
  write(data: string | Buffer): void {
    if (this.closed || !this.socket.writable) return;
    this.socket.write(typeof data === "string" ? toWire(data) : data);
    if (this.heldOn && this.socket.writableLength > MAX_HELD_OUTPUT) this.flushOutput(); // a large FETCH goes out as it is made
  }

  /**
   * Output is held while a command runs and leaves in one piece at its end:
   * line by line, Nagle's algorithm would hold each second small segment for
   * the client's delayed ACK (~40 ms a command).
   */
  private holdOutput(): void {
    if (this.heldOn || this.closed) return;
    this.heldOn = this.socket;
    this.heldOn.cork();
  }

  /** Sends what is held and goes on holding: before waiting for the client (a continuation, IDLE). */
  flushOutput(): void {
    const socket = this.heldOn;
    if (!socket) return;
    socket.uncork();
    socket.cork();
  }

  private releaseOutput(): void {
    const socket = this.heldOn;
    this.heldOn = undefined;
    socket?.uncork();
  }

  /** "* TEXT\r\n"; a Buffer array is written as is (literals inside). */
  untagged(text: string | Buffer): void {
    if (typeof text === "string") this.write(`* ${text}\r\n`);
    else this.write(Buffer.concat([toWire("* "), text, toWire("\r\n")]));
  }

  ok(tag: string, text: string, code?: string): void {
    this.tagged(`${tag} OK ${code ? `[${code}] ` : ""}${text}\r\n`);
  }

  no(tag: string, text: string, code?: string): void {
    this.tagged(`${tag} NO ${code ? `[${code}] ` : ""}${text}\r\n`);
  }

  /** A malformed or misplaced command: counts toward imap.max_errors. */
  bad(tag: string, text: string, code?: string): void {
    this.tagged(`${tag} BAD ${code ? `[${code}] ` : ""}${text}\r\n`);
    if (++this.errors >= this.config.imap.max_errors) {
      this.log.warn({ client: this.client, errors: this.errors }, "too many errors");
      this.bye("Too many invalid commands");
    }
  }

  /**
   * The tagged completion of the command under way waits until the selected
   * mailbox's updates are out: untagged data comes before it (RFC 9051 §7.1).
   */
  private tagged(line: string): void {
    if (this.deferring) this.completion = line;
    else this.write(line);
  }

  private flushCompletion(): void {
    const line = this.completion;
    this.completion = undefined;
    if (line) this.write(line);
  }

  bye(text: string): void {
    this.untagged(`BYE ${text}`);
    this.end();
  }

  // ------------------------------------------------------------------ input

  private attach(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.enqueue(this.reader.push(chunk)));
    socket.on("error", (err) => this.log.debug({ err: err.message }, "socket error"));
    socket.on("close", () => void this.onClose());
    socket.setTimeout(this.config.imap.idle_timeout, () => {
      this.log.info({ client: this.client }, "autologout");
      this.bye("Autologout; idle for too long");
    });
  }

  private enqueue(events: ReaderEvent[]): void {
    if (this.closed) return;
    for (const event of events) {
      // Answers to the command under way (IDLE's DONE, an AUTHENTICATE line) cannot wait behind it in the queue.
      if (event.kind === "done") this.idle?.wake();
      else if (event.kind === "line") this.lineWaiter?.(event.line);
      else if (event.kind === "error" && this.idle) this.idle.wake(event.message);
      else this.queue.push(event);
    }
    if (!this.busy) void this.pump();
  }

  private async pump(): Promise<void> {
    this.busy = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const event = this.queue.shift()!;
        await this.handle(event);
      }
    } catch (err) {
      this.log.error({ err: (err as Error).stack }, "session error");
      this.bye("Internal error, closing connection");
    } finally {
      this.busy = false;
    }
  }

  private async handle(event: ReaderEvent | { kind: "notify" }): Promise<void> {
    switch (event.kind) {
      case "notify":
        this.notifyQueued = false;
        this.holdOutput();
        try {
          return await this.tellChanges();
        } finally {
          this.releaseOutput();
        }
      case "continue":
        if (event.size > this.config.imap.max_message_size) {
          this.no(event.tag, `Literal too large (APPENDLIMIT is ${this.config.imap.max_message_size})`, "TOOBIG");
          return this.enqueue(this.reader.rejectLiteral());
        }
        if (!this.mayContinue(event.name)) {
          this.bad(event.tag, `${event.name} is not allowed now`);
          return this.enqueue(this.reader.rejectLiteral());
        }
        this.write("+ Ready for literal data\r\n");
        return this.enqueue(this.reader.acceptLiteral());
      case "error":
        if (event.fatal) return this.bye(event.message);
        if (event.reply === "NO") return this.no(event.tag, event.message, event.code);
        return this.bad(event.tag, event.message, event.code);
      case "line":
      case "done":
        return; // handled on arrival (enqueue)
      case "command":
        return this.command({ id: event.id, tag: event.tag, name: event.name, args: event.args });
    }
  }

  /** A literal is worth accepting only for a command that is allowed in this state. */
  private mayContinue(name: string): boolean {
    const handler = COMMANDS.get(name);
    return handler !== undefined && handler.states.includes(this.state);
  }

  private async command(cmd: ImapCommand): Promise<void> {
    const handler = COMMANDS.get(cmd.name);
    if (!handler) return this.bad(cmd.tag, `Unknown command ${cmd.name.slice(0, 40)}`);
    if (!handler.states.includes(this.state)) {
      const why = this.state === "notauth" ? "Log in first" : this.state === "auth" ? "Select a mailbox first" : "Not allowed now";
      return this.bad(cmd.tag, `${cmd.name}: ${why}`);
    }
    // STARTTLS changes the socket under way: its one line goes out as it is.
    if (cmd.name !== "STARTTLS") this.holdOutput();
    try {
      this.deferring = true;
      try {
        await handler.run(this, cmd);
      } finally {
        this.deferring = false;
      }
      if (this.closed) return;
      if (this.selected) await this.announce(!NO_EXPUNGE.has(cmd.name));
      await this.tellOtherMailboxes();
      this.flushCompletion();
    } finally {
      this.releaseOutput();
    }
    // resume(id) lifts only the pause this command caused: a NOOP pipelined before STARTTLS must not un-pause it.
    if (handler.resumesReader !== false) this.enqueue(this.reader.resume(cmd.id));
  }

  /**
   * Sends what changed in the selected mailbox since the client last heard;
   * with NOTIFY's MessageNew fetch attributes, a FETCH of each new message
   * after the EXISTS (RFC 5465 §5.2), but not of those this session made.
   */
  async announce(allowExpunge: boolean, flagUpdates = true): Promise<void> {
    const view = this.selected;
    if (!view) return;
    const { lines, fresh } = await view.sync({
      allowExpunge, flagUpdates, condstore: this.condstore, qresync: this.qresync, recent: !this.rev2, beforeExpunge: (uids) => this.beforeExpunge(uids),
    });
    for (const line of lines) this.write(`${line}\r\n`);
    for (const ctx of this.searchContexts.values()) for (const line of await refreshContext(this, ctx)) this.write(`${line}\r\n`);
    // After any ESEARCH ADDTO (RFC 5465 §5.2).
    const fetch = this.notifier?.selectedGroup?.fetch;
    if (fetch && fresh.length > 0) {
      const own = this.notifier!.ownNew;
      const others = fresh.filter((uid) => !own.has(uid));
      for (const uid of fresh) own.delete(uid);
      if (others.length > 0) await writeFetchResponses(this, others, fetch);
    }
  }

  /** NOTIFY: what changed in other mailboxes (STATUS, LIST), and NOTIFICATIONOVERFLOW when too much piled up. */
  private async tellOtherMailboxes(): Promise<void> {
    const notifier = this.notifier;
    if (!notifier) return;
    if (notifier.overflow) {
      this.setNotifier(null);
      this.untagged("OK [NOTIFICATIONOVERFLOW] Too many changes or too much unread output; notifications are off (as after NOTIFY NONE)");
      return;
    }
    for (const line of await notifier.flush()) this.write(`${line}\r\n`);
  }

  /**
   * NOTIFY, between commands and in IDLE: the selected mailbox as the SELECTED
   * group asks (SELECTED-DELAYED: expunges wait for a command that may carry
   * them, §6.1.2), then the other mailboxes.
   */
  private async tellChanges(): Promise<void> {
    const notifier = this.notifier;
    if (!notifier) return;
    const group = notifier.selectedGroup;
    if (this.selected && group?.events.has("MessageNew")) {
      await this.announce(group.filter.kind === "SELECTED" || this.idleWake !== undefined, group.events.has("FlagChange"));
    }
    await this.tellOtherMailboxes();
  }

  /**
   * Replaces what NOTIFY asked for. NOTIFY NONE (and an overflow) turns
   * notifications off: the session is as before any NOTIFY (IDLE tells the
   * selected mailbox's news again), as Dovecot does.
   */
  setNotifier(spec: NotifySpec | null): Notifier | undefined {
    return (this.notifier = spec ? new Notifier(this, spec) : undefined);
  }

  /** A change to one of the user's mailboxes, heard on the change bus. */
  private heard(change: MailboxChange): void {
    if (this.closed) return;
    if (this.notifier) {
      if (!this.notifier.hear(change)) return;
      // A client that does not read what it is told gets NOTIFICATIONOVERFLOW, not an ever-growing buffer.
      if (this.socket.writableLength > MAX_NOTIFY_BACKLOG) this.notifier.overflow = true;
      if (this.idleWake) this.idleWake();
      else if (!this.notifyQueued) {
        this.notifyQueued = true;
        this.queue.push({ kind: "notify" });
        if (!this.busy) void this.pump();
      }
    } else if (this.idleWake && this.selected && change.mailboxId === this.selected.box.id) {
      this.idleWake();
    }
  }

  /** What must go out before these UIDs' EXPUNGE responses (CONTEXT=SEARCH removals). */
  beforeExpunge(uids: number[]): string[] {
    return this.searchContexts.size > 0 ? removalsBeforeExpunge(this, this.searchContexts.values(), uids) : [];
  }

  // ------------------------------------------------------------------ what commands use

  /** Reads one raw line from the client (AUTHENTICATE); undefined when the session ends first. */
  nextLine(): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.lineWaiter = (line) => {
        this.lineWaiter = undefined;
        resolve(line);
      };
      this.flushOutput();
      this.enqueue(this.reader.expectLine());
      if (this.closed) this.lineWaiter?.(undefined);
    });
  }

  /** IDLE (RFC 2177): untagged updates as they happen until DONE. */
  async runIdle(tag: string): Promise<void> {
    this.write("+ idling\r\n");
    let wake: (error?: string) => void = () => {};
    let done = false;
    let failure: string | undefined;
    const finished = new Promise<void>((resolve) => {
      wake = (error) => {
        done = true;
        failure = error;
        resolve();
      };
    });
    this.idle = { tag, wake };
    this.enqueue(this.reader.expectDone());
    let changed: () => void = () => {};
    this.idleWake = () => changed();
    try {
      while (!done && !this.closed) {
        const next = new Promise<void>((resolve) => (changed = resolve));
        // With NOTIFY, IDLE tells exactly what NOTIFY asked for (RFC 5465 §4).
        if (this.notifier) await this.tellChanges();
        else await this.announce(true);
        this.flushOutput();
        await Promise.race([next, finished]);
      }
    } finally {
      this.idleWake = undefined;
      this.idle = undefined;
    }
    if (this.closed) return;
    if (failure) this.bad(tag, failure);
    else this.ok(tag, "IDLE terminated");
    // The updates of the IDLE period went out as they came; nothing waits behind DONE.
  }

  /** STARTTLS (RFC 9051 §6.2.1): input pipelined behind it is dropped. */
  startTls(tag: string): void {
    this.write(`${tag} OK Begin TLS negotiation now\r\n`);
    this.reader.reset();
    this.queue = [];
    const secure = upgradeToTls(this.socket, this.ctx.secureContext);
    this.socket = secure;
    secure.once("secure", () => {
      secure.uncork();
      this.secure = true;
      this.log.info({ tls: secure.getProtocol() }, "starttls");
      this.enqueue(this.reader.resume());
    });
    this.attach(secure);
  }

  /** After a successful login: the authenticated state, counted per user. */
  loggedIn(user: UserRecord): boolean {
    const count = this.ctx.userSessions.get(user.id) ?? 0;
    if (count >= this.config.imap.max_connections_per_user) return false;
    this.ctx.userSessions.set(user.id, count + 1);
    this.countedUser = user.id;
    this.user = user;
    this.reader.setLimits({ maxLiteralSize: this.config.imap.max_message_size });
    this.state = "auth";
    this.unsubscribe = this.stores.changes.subscribe(user.id, (change) => this.heard(change));
    return true;
  }

  async select(name: string, readOnly: boolean): Promise<SelectedMailbox | undefined> {
    this.unselect();
    const box = await this.mailstore.mailbox(this.user!.id, name);
    if (!box) return undefined;
    this.selected = await SelectedMailbox.open(this.stores, box, readOnly);
    this.state = "selected";
    return this.selected;
  }

  /** Leaves the selected mailbox (what NOTIFY did not tell of it yet goes out as for any other mailbox). */
  unselect(): void {
    if (this.selected) this.notifier?.leftMailbox(this.selected.box.id);
    this.selected = undefined;
    this.searchContexts.clear();
    this.notifier?.ownNew.clear();
    this.state = "auth";
  }

  end(): void {
    if (this.closed) return;
    this.flushCompletion();
    this.closed = true;
    this.socket.end();
    this.socket.destroySoon?.();
  }

  private async onClose(): Promise<void> {
    if (this.onClosed === undefined && this.closed && this.countedUser === undefined) return;
    this.closed = true;
    this.idle?.wake();
    this.lineWaiter?.(undefined);
    this.unsubscribe?.();
    if (this.countedUser !== undefined) {
      const left = (this.ctx.userSessions.get(this.countedUser) ?? 1) - 1;
      if (left <= 0) this.ctx.userSessions.delete(this.countedUser);
      else this.ctx.userSessions.set(this.countedUser, left);
      this.countedUser = undefined;
    }
    this.log.info({ client: this.client, user: this.user?.address }, "disconnect");
    const done = this.onClosed;
    this.onClosed = undefined;
    done?.();
  }
}

export type { Token };
