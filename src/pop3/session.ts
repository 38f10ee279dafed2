// One POP3 session (RFC 1939) with the extensions of RFC 2449 (CAPA,
// RESP-CODES, PIPELINING, UIDL, TOP, USER, SASL, IMPLEMENTATION), STLS
// (RFC 2595) and AUTH (RFC 5034, PLAIN and LOGIN).
// SECURITY: passwords are refused before TLS except from
// auth.plaintext_networks; failures are throttled by directory/auth.ts and
// answered with one generic -ERR [AUTH]; a user sees only their own INBOX,
// under an exclusive maildrop lock that dies with the session; deletions
// happen only in the UPDATE state after QUIT. Input pipelined after STLS is
// discarded. Every line, idle period and error count has a limit.
import net from "node:net";
import tls from "node:tls";
import { randomBytes } from "node:crypto";
import type { Logger } from "../log/logger.js";
import type { UserRecord } from "../store/interfaces.js";
import { SASL_MECHANISMS, startSasl, type SaslExchange, type SaslStep } from "../directory/sasl.js";
import { unmapIPv4 } from "../net/cidr.js";
import { Mailstore } from "../mailstore/mailstore.js";
import { upgradeToTls } from "../net/tls.js";
import { Maildrop } from "./maildrop.js";
import { DotStuffer } from "../net/dot-stuffing.js";
import { parsePop3Command } from "./command.js";
import type { MailAccessContext } from "../net/session-context.js";

export type Pop3Context = MailAccessContext;

/** RFC 2449 §4: 255 octets for a command line; a little more for long SASL responses. */
const MAX_LINE = 4096;
const LOCK_TTL_MS = 30 * 60_000;
const LOCK_REFRESH_MS = 5 * 60_000;
const STREAM_THRESHOLD = 1024 * 1024;
const MAX_BUFFERED_INPUT = 64 * 1024;

type State = "authorization" | "transaction" | "closed";

export class Pop3Session {
  readonly id = randomBytes(6).toString("hex");
  private socket: net.Socket;
  private input = "";
  private busy = false;
  private state: State = "authorization";
  private secure: boolean;
  private errors = 0;
  private pendingUser: string | undefined;
  private sasl: SaslExchange | undefined;
  private user: UserRecord | undefined;
  private maildrop: Maildrop | undefined;
  private lockKey: string | undefined;
  private lockTimer: NodeJS.Timeout | undefined;
  private readonly client: string;
  private readonly log: Logger;
  private readonly mailstore: Mailstore;
  onClosed: (() => void) | undefined;

  constructor(private readonly ctx: Pop3Context, socket: net.Socket) {
    this.socket = socket;
    this.secure = socket instanceof tls.TLSSocket;
    this.client = unmapIPv4(socket.remoteAddress ?? "unknown");
    this.log = ctx.log.child({ sid: this.id, protocol: "pop3" });
    this.mailstore = new Mailstore(ctx.stores);
  }

  start(): void {
    this.log.info({ client: this.client, listener: this.ctx.listener }, "connect");
    this.attach(this.socket);
    this.ok("Petrel POP3 server ready");
  }

  private attach(socket: net.Socket): void {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => this.onData(chunk));
    socket.on("error", (err) => this.log.debug({ err: err.message }, "socket error"));
    socket.on("close", () => void this.onClose());
    socket.setTimeout(this.ctx.config.pop3.idle_timeout, () => {
      this.log.info({ client: this.client }, "idle timeout");
      this.err("[SYS/TEMP] Idle timeout, closing connection (nothing was deleted)");
      this.end();
    });
  }

  private onData(chunk: string): void {
    if (this.state === "closed") return;
    this.input += chunk;
    // While a command is being worked on, pipelined input waits here, bounded.
    if (this.input.length > MAX_BUFFERED_INPUT) this.socket.pause();
    if (!this.busy) void this.pump();
  }

  private async pump(): Promise<void> {
    this.busy = true;
    this.socket.cork();
    try {
      while (this.state !== "closed") {
        const nl = this.input.indexOf("\n");
        if (nl === -1) {
          if (this.input.length > MAX_LINE) {
            this.input = "";
            this.fail("Line too long");
          }
          break;
        }
        const line = this.input.slice(0, nl).replace(/\r$/, "");
        this.input = this.input.slice(nl + 1);
        if (line.length > MAX_LINE) {
          this.fail("Line too long");
          continue;
        }
        await this.line(Buffer.from(line, "latin1").toString("utf8"));
      }
    } catch (err) {
      this.log.error({ err: (err as Error).stack }, "session error");
      this.err("[SYS/TEMP] Internal error, closing connection (nothing was deleted)");
      this.end();
    } finally {
      this.busy = false;
      if (this.state !== "closed") {
        this.socket.uncork();
        if (this.socket.isPaused() && this.input.length < MAX_BUFFERED_INPUT) this.socket.resume();
      }
    }
  }

  private write(text: string | Buffer): boolean {
    return this.state !== "closed" && this.socket.writable ? this.socket.write(text) : false;
  }

  private ok(text: string): void {
    this.write(`+OK ${text}\r\n`);
  }

  private err(text: string): void {
    this.write(`-ERR ${text}\r\n`);
  }

  /** A refused command: counts toward pop3.max_errors, which ends the session. */
  private fail(text: string): void {
    this.err(text);
    if (++this.errors >= this.ctx.config.pop3.max_errors) {
      this.log.warn({ client: this.client, errors: this.errors }, "too many errors");
      this.err("Too many errors, closing connection");
      this.end();
    }
  }

  private async line(line: string): Promise<void> {
    if (this.sasl) return this.saslResponse(line);
    const { verb, args, rest } = parsePop3Command(line);
    if (verb === "CAPA") return this.capa();
    if (verb === "QUIT") return this.quit();
    if (this.state === "authorization") {
      switch (verb) {
        case "USER":
          return this.userCommand(args);
        case "PASS":
          return this.passCommand(rest);
        case "AUTH":
          return this.authCommand(args);
        case "STLS":
          return this.stls();
        case "APOP":
          return this.fail("APOP is not supported: use STLS, then USER/PASS or AUTH");
      }
      return this.fail(["STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"].includes(verb) ? "Not logged in" : "Unknown command");
    }
    const drop = this.maildrop!;
    switch (verb) {
      case "STAT": {
        if (args.length) return this.fail("Syntax: STAT");
        const { count, size } = drop.stat();
        return this.ok(`${count} ${size}`);
      }
      case "LIST":
        return this.listing(args, (m) => String(m.size));
      case "UIDL":
        return this.listing(args, (m) => drop.uidl(m));
      case "RETR": {
        const n = this.messageNumber(args, 1);
        if (n === undefined) return;
        const m = drop.get(n)!;
        this.ok(`${m.size} octets`);
        return this.sendMessage(m, undefined);
      }
      case "TOP": {
        const n = this.messageNumber(args, 2);
        if (n === undefined) return;
        const lines = Number(args[1]);
        if (!/^\d+$/.test(args[1]) || !Number.isSafeInteger(lines)) return this.fail("Syntax: TOP message lines");
        this.ok("Top of message follows");
        return this.sendMessage(drop.get(n)!, lines);
      }
      case "DELE": {
        const n = this.messageNumber(args, 1);
        if (n === undefined) return;
        drop.delete(n);
        return this.ok(`Marked to be deleted.`);
      }
      case "NOOP":
        return this.ok("");
      case "RSET":
        drop.reset();
        return this.ok(`Maildrop has ${drop.stat().count} messages`);
      case "USER":
      case "PASS":
      case "AUTH":
      case "STLS":
        return this.fail("Already logged in");
      default:
        return this.fail("Unknown command");
    }
  }

  private capa(): void {
    const lines = ["CAPA", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "IMPLEMENTATION Petrel"];
    if (this.state === "authorization") {
      if (this.plaintextAllowed()) lines.push("USER", `SASL ${SASL_MECHANISMS.join(" ")}`);
      if (!this.secure) lines.push("STLS");
    }
    this.write(`+OK Capability list follows\r\n${lines.join("\r\n")}\r\n.\r\n`);
  }

  private plaintextAllowed(): boolean {
    return this.secure || this.ctx.plaintextNetworks.contains(this.client);
  }

  private refusePlaintext(): boolean {
    if (this.plaintextAllowed()) return false;
    this.fail("[AUTH] Plaintext authentication disallowed on non-secure connections: use STLS first");
    return true;
  }

  private userCommand(args: string[]): void {
    if (this.refusePlaintext()) return;
    if (args.length !== 1) return this.fail("Syntax: USER name");
    this.pendingUser = args[0];
    this.ok("Send PASS");
  }

  private async passCommand(password: string): Promise<void> {
    if (this.refusePlaintext()) return;
    const username = this.pendingUser;
    this.pendingUser = undefined;
    if (username === undefined) return this.fail("Send USER first");
    await this.login(username, password);
  }

  private async authCommand(args: string[]): Promise<void> {
    if (args.length === 0) {
      this.write(`+OK\r\n${SASL_MECHANISMS.join("\r\n")}\r\n.\r\n`);
      return;
    }
    if (this.refusePlaintext()) return;
    const started = startSasl(args[0], args[1]);
    if (!started) return this.fail(`Unsupported authentication mechanism`);
    this.sasl = started.exchange;
    await this.saslStep(started.first);
  }

  private async saslResponse(line: string): Promise<void> {
    if (line === "*") {
      this.sasl = undefined;
      return this.fail("Authentication aborted");
    }
    await this.saslStep(this.sasl!.respond(line));
  }

  private async saslStep(step: SaslStep): Promise<void> {
    if (step.kind === "challenge") {
      this.write(`+ ${step.challenge}\r\n`);
      return;
    }
    this.sasl = undefined;
    if (step.kind === "error") return this.fail(`[AUTH] ${step.message}`);
    if (step.authzid && step.authzid.toLowerCase() !== step.username.toLowerCase()) {
      return this.fail("[AUTH] Authorization identity must be the user");
    }
    await this.login(step.username, step.password);
  }

  private async login(username: string, password: string): Promise<void> {
    const result = await this.ctx.auth.login(username, password, this.client, "pop3");
    if (!result.ok) {
      if (result.reason === "blocked") this.err("[SYS/TEMP] Too many failed logins from your address, try again later");
      else this.fail("[AUTH] Authentication failed");
      return;
    }
    const user = result.user;
    if (this.isClosed()) return; // the client left while its password was checked
    const lockKey = `pop3-maildrop:${user.id}`;
    if (!(await this.ctx.stores.counters.acquire(lockKey, this.id, LOCK_TTL_MS))) {
      this.log.info({ user: user.address }, "maildrop in use");
      return this.err("[IN-USE] Mailbox is locked by another POP3 session");
    }
    this.lockKey = lockKey;
    if (this.isClosed()) return void (await this.releaseLock());
    this.lockTimer = setInterval(() => {
      this.ctx.stores.counters.acquire(lockKey, this.id, LOCK_TTL_MS).catch((err: Error) => this.log.warn({ err: err.message }, "cannot refresh the maildrop lock"));
    }, LOCK_REFRESH_MS);
    this.lockTimer.unref();
    const inbox = await this.mailstore.mailbox(user.id, "INBOX");
    if (!inbox) {
      await this.releaseLock();
      return this.err("[SYS/PERM] No INBOX for this user");
    }
    this.user = user;
    this.maildrop = await Maildrop.open(this.ctx.stores, inbox);
    if (this.isClosed()) return void (await this.releaseLock());
    this.state = "transaction";
    const { count, size } = this.maildrop.stat();
    this.log.info({ user: user.address, messages: count, size }, "maildrop opened");
    this.ok(`Logged in, ${count} messages (${size} octets)`);
  }

  /** Parses the message-number argument(s); answers -ERR itself and returns undefined when unusable. */
  private messageNumber(args: string[], count: number): number | undefined {
    if (args.length !== count || !/^\d{1,9}$/.test(args[0])) {
      this.fail("Invalid message number");
      return undefined;
    }
    const n = Number(args[0]);
    if (!this.maildrop!.get(n)) {
      this.fail(this.maildrop!.isDeleted(n) ? "Message is deleted" : "There is no such message");
      return undefined;
    }
    return n;
  }

  private listing(args: string[], value: (m: import("../store/interfaces.js").MessageRecord) => string): void {
    const drop = this.maildrop!;
    if (args.length > 0) {
      const n = this.messageNumber(args, 1);
      if (n !== undefined) this.ok(`${n} ${value(drop.get(n)!)}`);
      return;
    }
    const lines = [...drop.live()].map(([n, m]) => `${n} ${value(m)}\r\n`);
    this.write(`+OK ${lines.length} messages\r\n${lines.join("")}.\r\n`);
  }

  /** The message, dot-stuffed, or with `topLines` its header and that many body lines. */
  private async sendMessage(message: import("../store/interfaces.js").MessageRecord, topLines: number | undefined): Promise<void> {
    const stuffer = new DotStuffer();
    if (topLines === undefined && message.size > STREAM_THRESHOLD) {
      for await (const chunk of this.mailstore.stream(message)) {
        if (!this.write(stuffer.push(chunk as Buffer))) await this.drained();
        if (this.state === "closed") return;
      }
    } else {
      let data = await this.mailstore.read(message);
      if (topLines !== undefined) data = top(data, topLines);
      this.write(stuffer.push(data));
    }
    this.write(stuffer.end());
  }

  private drained(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.uncork();
      this.socket.once("drain", done);
      this.socket.once("close", done);
    });
  }

  private stls(): void {
    if (this.secure) return this.fail("TLS is already active");
    this.ok("Begin TLS negotiation now");
    this.input = ""; // anything pipelined after STLS is discarded (RFC 2595 §4)
    const secure = upgradeToTls(this.socket, this.ctx.secureContext);
    this.socket = secure;
    this.busy = true; // nothing is read until the handshake is done
    secure.once("secure", () => {
      this.secure = true;
      this.pendingUser = undefined;
      this.log.info({ tls: secure.getProtocol() }, "stls");
      this.busy = false;
      if (this.input) void this.pump();
    });
    this.attach(secure);
  }

  private async quit(): Promise<void> {
    if (this.state === "transaction") {
      // The UPDATE state (RFC 1939 §6).
      try {
        const removed = await this.maildrop!.commit(this.ctx.stores);
        this.log.info({ user: this.user!.address, deleted: removed }, "maildrop updated");
        this.ok(`Logging out, ${removed} messages deleted`);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "could not delete messages");
        this.err("[SYS/TEMP] Some deleted messages were not removed");
      }
    } else {
      this.ok("Logging out");
    }
    await this.releaseLock(); // before the client sees the connection close
    this.end();
  }

  private end(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.socket.uncork();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
    void this.releaseLock();
  }

  /** (A method, so that checks after an await are not narrowed away.) */
  private isClosed(): boolean {
    return this.state === "closed";
  }

  private async releaseLock(): Promise<void> {
    if (this.lockTimer) clearInterval(this.lockTimer);
    this.lockTimer = undefined;
    const key = this.lockKey;
    this.lockKey = undefined;
    if (key) await this.ctx.stores.counters.release(key, this.id).catch(() => {});
  }

  private async onClose(): Promise<void> {
    this.state = "closed";
    await this.releaseLock();
    this.log.info({ client: this.client }, "disconnect");
    this.onClosed?.();
  }
}

/** The header, the blank line and the first `lines` lines of the body (RFC 1939 TOP). */
export function top(message: Buffer, lines: number): Buffer {
  let end = message.indexOf("\r\n\r\n");
  if (end === -1) return message;
  end += 4;
  for (let i = 0; i < lines && end < message.length; i++) {
    const nl = message.indexOf("\n", end);
    end = nl === -1 ? message.length : nl + 1;
  }
  return message.subarray(0, end);
}
