// The SMTP client that hands mail to the next MTA (MX or smarthost): connect,
// greeting, EHLO/HELO, STARTTLS, AUTH, then transactions (MAIL, RCPT, DATA,
// content, ".") over one connection, and QUIT.
// SECURITY: the remote server is untrusted. Its replies are parsed with hard
// bounds (reply-parser.ts); every wait has a per-stage timeout; bytes it
// sends before the TLS handshake are discarded; credentials are sent only
// over TLS; command arguments with CR, LF or NUL are refused before anything
// is written (no command injection). Trusted with the message content and
// the AUTH credentials it is given. Does no DNS lookups: it connects to the
// IP address it is handed. Expected failures (refused, reset, timeout,
// rejection) are results, never thrown exceptions; nothing is logged here.
//
// Implements RFC 5321 §3.1-3.3, §4.1.1 (client side), §4.1.1.4 and §4.5.2
// (DATA, dot-stuffing), §4.2 (replies, via reply-parser.ts), §4.5.3.2
// (timeouts per stage); RFC 3207 (STARTTLS, §4.2: forget the earlier EHLO
// answer and ask again); RFC 2920 (PIPELINING: MAIL, RCPTs and DATA in one
// write); RFC 1870 (SIZE=); RFC 6152 (BODY=8BITMIME); RFC 6531 (SMTPUTF8);
// RFC 3461 §4 (RET, ENVID, NOTIFY, ORCPT, xtext-encoded); RFC 4954 with
// RFC 4616 PLAIN (initial response) or the LOGIN mechanism; RFC 2034/3463
// (enhanced status codes in replies).
import net from "node:net";
import tls from "node:tls";
import { DotStuffer } from "../net/dot-stuffing.js";
import { encodeXtext } from "../smtp/address.js";
import { ReplyParser, type SmtpReply } from "./reply-parser.js";

export type { SmtpReply } from "./reply-parser.js";

export interface ClientTimeouts {
  connect: number;
  greeting: number;
  ehlo: number;
  starttls: number;
  mail: number;
  rcpt: number;
  dataInit: number;
  dataBlock: number;
  dataEnd: number;
  quit: number;
}

/**
 * RFC 5321 §4.5.3.2 minimums (connect and quit are ours). ehlo also bounds
 * HELO and each AUTH step; mail also bounds RSET; starttls also bounds the
 * TLS handshake (implicit TLS included).
 */
export const RFC5321_TIMEOUTS: ClientTimeouts = {
  connect: 30_000,
  greeting: 300_000,
  ehlo: 300_000,
  starttls: 120_000,
  mail: 300_000,
  rcpt: 300_000,
  dataInit: 120_000,
  dataBlock: 180_000,
  dataEnd: 600_000,
  quit: 30_000,
};

export interface ConnectOptions {
  /** MX/smarthost name: logs, TLS SNI and certificate check. */
  host: string;
  /** IP to connect to (v4 or v6); never looked up. */
  address: string;
  port: number;
  localAddress?: string;
  /** Our hostname for EHLO/HELO. */
  helo: string;
  /**
   * opportunistic: STARTTLS when offered, certificate not verified; a failed
   * handshake fails with stage "starttls" (the caller may retry without TLS);
   * a STARTTLS command answered with an error other than 421 continues in
   * plaintext (RFC 3207 §4 leaves that to the client).
   * required: STARTTLS must be offered and succeed, certificate verified
   * against `ca` for `host`. implicit: TLS from the first byte (port 465),
   * verified; a failed handshake is stage "starttls" too. none: no TLS.
   */
  tls: "opportunistic" | "required" | "implicit" | "none";
  /** Trusted CAs for verification (default: Node's). */
  ca?: Buffer | string;
  /** AUTH PLAIN (or LOGIN if only LOGIN is offered) after TLS; never over plaintext. */
  auth?: { username: string; password: string };
  timeouts?: Partial<ClientTimeouts>;
}

export type ConnectResult =
  | { ok: true; connection: SmtpClientConnection }
  | { ok: false; stage: "connect" | "greeting" | "ehlo" | "starttls" | "auth"; reply?: SmtpReply; error: string };

export interface OutboundTransaction {
  /** "" for the null sender. */
  sender: string;
  /** notify like "SUCCESS,FAILURE" or "NEVER"; orcpt like "rfc822;user@x" (decoded; xtext-encoded here). */
  recipients: { address: string; notify?: string | null; orcpt?: string | null }[];
  /** Exact byte count of content (before dot-stuffing). */
  size: number;
  /** Send BODY=8BITMIME (only if the server offers 8BITMIME; the caller decides refusal). */
  eightBit?: boolean;
  /** Send SMTPUTF8 (only if offered). */
  smtputf8?: boolean;
  /** Sent only if the server offers DSN. */
  ret?: "FULL" | "HDRS" | null;
  envid?: string | null;
  /** The message bytes, CRLF line ends already; called at most once, only after 354. */
  content: () => AsyncIterable<Buffer>;
}

type Stage = "mail" | "rcpt" | "data" | "dataEnd";

/**
 * ok: true means every reply needed was read. mail is the MAIL reply; when it
 * is not 2xx, recipients is empty and data undefined. Otherwise recipients
 * has one reply per transaction recipient, in order (after a 421 the rest
 * repeat it). data: the reply to DATA if not 354, or the final reply after
 * "."; undefined if no recipient was accepted.
 * ok: false: the connection broke, timed out or the server spoke nonsense;
 * stage is where a timeout or protocol error happened, "network" when the
 * connection was lost (then `during` says where; during "dataEnd" the server
 * may have taken the message: RFC 1047). The connection is then unusable.
 */
export type TransactionResult =
  | { ok: true; mail: SmtpReply; recipients: SmtpReply[]; data?: SmtpReply }
  | {
      ok: false;
      stage: Stage | "network";
      error: string;
      during?: Stage;
      replies?: Partial<{ mail: SmtpReply; recipients: SmtpReply[] }>;
    };

type WireFailure = { kind: "timeout" | "closed" | "protocol"; error: string };
type ReadOutcome = { ok: true; reply: SmtpReply } | ({ ok: false } & WireFailure);

/** Describes a socket/TLS error briefly: "ECONNREFUSED", "self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)". */
function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === "string" && /^E[A-Z0-9]+$/.test(e.code)) return e.code;
  const message = e instanceof Error ? e.message : String(err);
  return typeof e?.code === "string" && !message.includes(e.code) ? `${message} (${e.code})` : message;
}

const UNSAFE = /[\r\n\0]/;
const is2xx = (code: number) => code >= 200 && code < 300;

/**
 * One socket with a reply parser: reads replies with a deadline, writes with
 * backpressure. Any failure is sticky: after it every read or write fails.
 */
class Wire {
  private parser = new ReplyParser();
  private failure: WireFailure | undefined;
  private wake: (() => void) | undefined;

  constructor(
    public socket: net.Socket,
    private readonly label: string,
  ) {
    socket.setNoDelay(true);
    socket.on("data", this.onData);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
    socket.on("drain", this.signal);
  }

  get failed(): WireFailure | undefined {
    return this.failure;
  }

  /** Nothing buffered: no unsolicited reply (an idle 421) and no partial line. */
  get clean(): boolean {
    return this.parser.pending === 0 && !this.parser.midReply;
  }

  /** A reply that arrived while nobody asked (checked when idle). */
  takeUnsolicited(): SmtpReply | undefined {
    return this.parser.shift();
  }

  private readonly signal = () => this.wake?.();

  private readonly onData = (chunk: Buffer) => {
    this.parser.push(chunk);
    if (this.parser.error) this.fail("protocol", `protocol error from ${this.label}: ${this.parser.error}`);
    this.signal();
  };

  private readonly onError = (err: Error) => this.fail("closed", `connection to ${this.label} lost: ${describeError(err)}`);

  private readonly onClose = () => this.fail("closed", `connection closed by ${this.label}`);

  private fail(kind: WireFailure["kind"], error: string): void {
    if (!this.failure) {
      this.failure = { kind, error };
      this.socket.destroy();
    }
    this.signal();
  }

  /** Stops listening and returns the socket, dropping anything buffered (for the TLS handshake). */
  detach(): net.Socket {
    this.socket.removeListener("data", this.onData);
    this.socket.removeListener("close", this.onClose);
    this.socket.removeListener("drain", this.signal);
    this.socket.removeListener("error", this.onError);
    this.failure = { kind: "closed", error: "connection handed over" };
    this.parser = new ReplyParser();
    return this.socket;
  }

  close(): void {
    this.fail("closed", `connection to ${this.label} closed`);
  }

  /** Waits until woken or ms passed; false on timeout. */
  private waitSignal(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(false);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(true);
      };
    });
  }

  async read(ms: number, what: string): Promise<ReadOutcome> {
    const deadline = Date.now() + ms;
    for (;;) {
      const reply = this.parser.shift();
      if (reply) return { ok: true, reply };
      if (this.failure) return { ok: false, ...this.withContext(what) };
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.waitSignal(left))) {
        this.fail("timeout", `timeout after ${ms} ms waiting for ${what} from ${this.label}`);
        return { ok: false, ...this.failure! };
      }
    }
  }

  private withContext(what: string): WireFailure {
    const f = this.failure!;
    return f.kind === "closed" ? { kind: f.kind, error: `${f.error} (waiting for ${what})` } : f;
  }

  /** Writes, then waits (up to ms) while the socket's buffer is full. */
  async write(data: Buffer | string, ms: number, what: string): Promise<WireFailure | undefined> {
    if (this.failure) return this.withContext(what);
    if (this.socket.write(data)) return undefined;
    const deadline = Date.now() + ms;
    while (this.socket.writableNeedDrain && !this.failure) {
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.waitSignal(left))) {
        this.fail("timeout", `timeout after ${ms} ms sending ${what} to ${this.label}`);
      }
    }
    return this.failure ? this.withContext(what) : undefined;
  }
}

/** Connects, reads the greeting, says EHLO, does STARTTLS and AUTH as asked. Never throws. */
export async function connectSmtp(options: ConnectOptions): Promise<ConnectResult> {
  const t: ClientTimeouts = { ...RFC5321_TIMEOUTS, ...options.timeouts };
  const label = `${options.host}[${options.address}]:${options.port}`;
  if (!net.isIP(options.address)) return { ok: false, stage: "connect", error: `connect to ${label}: not an IP address` };
  if (UNSAFE.test(options.helo) || options.helo === "") return { ok: false, stage: "ehlo", error: `bad EHLO name ${JSON.stringify(options.helo)}` };

  const tcp = await openTcp(options, t.connect);
  if (!tcp.ok) return { ok: false, stage: "connect", error: `connect to ${label}: ${tcp.error}` };
  let socket: net.Socket = tcp.socket;
  let tlsInfo: SmtpClientConnection["tls"];
  if (options.tls === "implicit") {
    const hs = await handshake(socket, options, t.starttls);
    if (!hs.ok) return { ok: false, stage: "starttls", error: `TLS handshake with ${label}: ${hs.error}` };
    socket = hs.socket;
    tlsInfo = hs.info;
  }

  let wire = new Wire(socket, label);
  type ConnectStage = Exclude<ConnectResult, { ok: true }>["stage"];
  const broken = (stage: ConnectStage, f: WireFailure): ConnectResult => {
    wire.close();
    return { ok: false, stage, error: f.error };
  };
  /** A failure on a healthy connection: QUIT politely first. */
  const refused = async (stage: ConnectStage, error: string, reply?: SmtpReply): Promise<ConnectResult> => {
    if (reply?.code === 421) wire.close();
    else await quitWire(wire, t.quit);
    return reply ? { ok: false, stage, reply, error } : { ok: false, stage, error };
  };

  const greeting = await wire.read(t.greeting, "greeting");
  if (!greeting.ok) return broken("greeting", greeting);
  if (!is2xx(greeting.reply.code)) return refused("greeting", `${label} refused the connection: ${greeting.reply.text}`, greeting.reply);

  let hello = await sayHello(wire, options.helo, t.ehlo);
  if (!hello.ok) return "reply" in hello ? refused("ehlo", `${label}: ${hello.error}`, hello.reply) : broken("ehlo", hello);
  let extensions = hello.extensions;

  const wantTls = options.tls === "required" || (options.tls === "opportunistic" && extensions.has("STARTTLS"));
  if (wantTls) {
    if (!extensions.has("STARTTLS")) return refused("starttls", `${label} does not offer STARTTLS`);
    const w = await wire.write("STARTTLS\r\n", t.starttls, "STARTTLS");
    if (w) return broken("starttls", w);
    const r = await wire.read(t.starttls, "STARTTLS reply");
    if (!r.ok) return broken("starttls", r);
    if (r.reply.code === 220) {
      // RFC 3207 §4.2 / CVE-2011-0411 class: nothing received before the
      // handshake may count as a reply afterwards; detach() drops it.
      const hs = await handshake(wire.detach(), options, t.starttls);
      if (!hs.ok) return { ok: false, stage: "starttls", error: `TLS handshake with ${label}: ${hs.error}` };
      tlsInfo = hs.info;
      wire = new Wire(hs.socket, label);
      hello = await sayHello(wire, options.helo, t.ehlo);
      if (!hello.ok) return "reply" in hello ? refused("ehlo", `${label}: ${hello.error}`, hello.reply) : broken("ehlo", hello);
      extensions = hello.extensions;
    } else if (options.tls !== "opportunistic" || r.reply.code === 421) {
      return refused("starttls", `${label} refused STARTTLS: ${r.reply.text}`, r.reply);
    }
  }

  if (options.auth) {
    if (!tlsInfo) return refused("auth", `refusing to send credentials to ${label} without TLS`);
    const outcome = await authenticate(wire, extensions, options.auth, t.ehlo);
    if (!outcome.ok) {
      if ("kind" in outcome) return broken("auth", outcome);
      return refused("auth", `${label}: ${outcome.error}`, outcome.reply);
    }
  }

  return {
    ok: true,
    connection: new SmtpClientConnection(wire, {
      host: options.host,
      address: options.address,
      port: options.port,
      greeting: greeting.reply,
      extensions,
      tls: tlsInfo,
      timeouts: t,
    }),
  };
}

function openTcp(options: ConnectOptions, ms: number): Promise<{ ok: true; socket: net.Socket } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: options.address, port: options.port, localAddress: options.localAddress });
    const finish = (result: { ok: true; socket: net.Socket } | { ok: false; error: string }) => {
      clearTimeout(timer);
      socket.removeListener("connect", onConnect);
      socket.removeListener("error", onError);
      if (!result.ok) socket.destroy();
      resolve(result);
    };
    const onConnect = () => finish({ ok: true, socket });
    const onError = (err: Error) => finish({ ok: false, error: describeError(err) });
    const timer = setTimeout(() => finish({ ok: false, error: `timeout after ${ms} ms` }), ms);
    socket.once("connect", onConnect);
    socket.once("error", onError);
  });
}

type Handshake = { ok: true; socket: tls.TLSSocket; info: { version: string; cipher: string; verified: boolean } } | { ok: false; error: string };

function handshake(plain: net.Socket, options: ConnectOptions, ms: number): Promise<Handshake> {
  const verify = options.tls !== "opportunistic";
  // The wrapped socket's own errors surface on the TLS socket; this keeps a
  // late one on the plain socket from being an uncaught exception.
  plain.on("error", () => {});
  return new Promise((resolve) => {
    const secure = tls.connect({
      socket: plain,
      // host is what the certificate is checked against; SNI only for names (RFC 6066 §3).
      host: options.host,
      ...(net.isIP(options.host) ? {} : { servername: options.host }),
      rejectUnauthorized: verify,
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
    });
    const finish = (result: Handshake) => {
      clearTimeout(timer);
      secure.removeListener("secureConnect", onSecure);
      secure.removeListener("error", onError);
      if (!result.ok) {
        secure.on("error", () => {});
        secure.destroy();
        plain.destroy();
      }
      resolve(result);
    };
    const onSecure = () => {
      const cipher = secure.getCipher();
      finish({
        ok: true,
        socket: secure,
        info: { version: secure.getProtocol() ?? "unknown", cipher: cipher?.name ?? "unknown", verified: secure.authorized },
      });
    };
    const onError = (err: Error) => finish({ ok: false, error: describeError(err) });
    const timer = setTimeout(() => finish({ ok: false, error: `timeout after ${ms} ms` }), ms);
    secure.once("secureConnect", onSecure);
    secure.once("error", onError);
  });
}

type HelloResult = { ok: true; extensions: Map<string, string> } | { ok: false; error: string; reply: SmtpReply } | ({ ok: false } & WireFailure);

/** EHLO; HELO when EHLO gets a 5xx (RFC 5321 §3.2). */
async function sayHello(wire: Wire, helo: string, ms: number): Promise<HelloResult> {
  const w = await wire.write(`EHLO ${helo}\r\n`, ms, "EHLO");
  if (w) return { ok: false, ...w };
  const r = await wire.read(ms, "EHLO reply");
  if (!r.ok) return r;
  if (r.reply.code === 250) return { ok: true, extensions: parseExtensions(r.reply) };
  if (r.reply.code < 500) return { ok: false, error: `EHLO refused: ${r.reply.text}`, reply: r.reply };
  const w2 = await wire.write(`HELO ${helo}\r\n`, ms, "HELO");
  if (w2) return { ok: false, ...w2 };
  const h = await wire.read(ms, "HELO reply");
  if (!h.ok) return h;
  if (h.reply.code === 250) return { ok: true, extensions: new Map() };
  return { ok: false, error: `EHLO and HELO refused: ${h.reply.text}`, reply: h.reply };
}

/** EHLO reply lines after the first: "SIZE 10240000" -> SIZE => "10240000". "AUTH=LOGIN" (pre-RFC 4954) counts as AUTH. */
function parseExtensions(reply: SmtpReply): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of reply.lines.slice(1)) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:[ =](.*))?$/.exec(line.trim());
    if (!m) continue;
    const keyword = m[1].toUpperCase();
    const params = (m[2] ?? "").trim();
    if (line.trim()[m[1].length] === "=") {
      if (keyword === "AUTH" && !map.has("AUTH")) map.set("AUTH", params);
      continue;
    }
    map.set(keyword, params);
  }
  return map;
}

type AuthOutcome = { ok: true } | { ok: false; error: string; reply?: SmtpReply } | ({ ok: false } & WireFailure);

/** RFC 4954: PLAIN with an initial response, else LOGIN. */
async function authenticate(wire: Wire, extensions: ReadonlyMap<string, string>, auth: { username: string; password: string }, ms: number): Promise<AuthOutcome> {
  if (!extensions.has("AUTH")) return { ok: false, error: "server does not offer AUTH" };
  const mechanisms = extensions.get("AUTH")!.toUpperCase().split(/\s+/);
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
  const step = async (line: string, what: string): Promise<ReadOutcome> => {
    const w = await wire.write(`${line}\r\n`, ms, what);
    return w ? { ok: false, ...w } : wire.read(ms, `${what} reply`);
  };
  /** A reply other than the expected one: cancel a pending challenge (RFC 4954 §4: "*"). */
  const refusedBy = async (reply: SmtpReply): Promise<AuthOutcome> => {
    if (reply.code === 334) {
      const r = await step("*", "AUTH cancel");
      if (!r.ok) return r;
    }
    return { ok: false, error: `AUTH failed: ${reply.text}`, reply };
  };

  if (mechanisms.includes("PLAIN")) {
    if (auth.username.includes("\0") || auth.password.includes("\0")) return { ok: false, error: "NUL in credentials" };
    const r = await step(`AUTH PLAIN ${b64(`\0${auth.username}\0${auth.password}`)}`, "AUTH PLAIN");
    if (!r.ok) return r;
    return r.reply.code === 235 ? { ok: true } : refusedBy(r.reply);
  }
  if (mechanisms.includes("LOGIN")) {
    let r = await step("AUTH LOGIN", "AUTH LOGIN");
    for (const secret of [auth.username, auth.password]) {
      if (!r.ok) return r;
      if (r.reply.code !== 334) return refusedBy(r.reply);
      r = await step(b64(secret), "AUTH LOGIN");
    }
    if (!r.ok) return r;
    return r.reply.code === 235 ? { ok: true } : refusedBy(r.reply);
  }
  return { ok: false, error: `no supported AUTH mechanism (offered: ${extensions.get("AUTH")})` };
}

/** QUIT, wait for the reply, close. Never throws. */
async function quitWire(wire: Wire, ms: number): Promise<void> {
  if (!wire.failed) {
    const w = await wire.write("QUIT\r\n", ms, "QUIT");
    if (!w) await wire.read(ms, "QUIT reply");
  }
  wire.close();
}

/** Cuts a session-level failure into the transaction result shape. */
function lost(stage: Stage, f: WireFailure, replies?: Partial<{ mail: SmtpReply; recipients: SmtpReply[] }>): TransactionResult {
  const base = f.kind === "closed" ? { ok: false as const, stage: "network" as const, during: stage, error: f.error } : { ok: false as const, stage, error: f.error };
  return replies ? { ...base, replies } : base;
}

/** An established session, ready for transactions. Made by connectSmtp(). */
export class SmtpClientConnection {
  readonly host: string;
  readonly address: string;
  readonly port: number;
  readonly greeting: SmtpReply;
  /** EHLO keywords upper-case -> params ("SIZE" -> "10240000"); empty after HELO. */
  readonly extensions: ReadonlyMap<string, string>;
  readonly tls: { version: string; cipher: string; verified: boolean } | undefined;
  private readonly timeouts: ClientTimeouts;
  private dead = false;
  private queue: Promise<unknown> = Promise.resolve();

  /** @internal use connectSmtp() */
  constructor(
    private readonly wire: Wire,
    init: {
      host: string;
      address: string;
      port: number;
      greeting: SmtpReply;
      extensions: ReadonlyMap<string, string>;
      tls: { version: string; cipher: string; verified: boolean } | undefined;
      timeouts: ClientTimeouts;
    },
  ) {
    this.host = init.host;
    this.address = init.address;
    this.port = init.port;
    this.greeting = init.greeting;
    this.extensions = init.extensions;
    this.tls = init.tls;
    this.timeouts = init.timeouts;
  }

  /** False after an error, timeout, 421, unsolicited reply or close. */
  get usable(): boolean {
    return !this.dead && !this.wire.failed && this.wire.clean;
  }

  /** Operations run one after another, whoever calls them. */
  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private kill(): void {
    this.dead = true;
    this.wire.close();
  }

  /** Before a new command: the connection must be healthy and silent. */
  private idleCheck(): string | undefined {
    if (this.dead || this.wire.failed) return this.wire.failed?.error ?? `connection to ${this.label} is not usable`;
    if (!this.wire.clean) {
      const unsolicited = this.wire.takeUnsolicited();
      this.kill();
      return unsolicited ? `${this.label} sent an unsolicited reply: ${unsolicited.text}` : `${this.label} sent unexpected data`;
    }
    return undefined;
  }

  private get label(): string {
    return `${this.host}[${this.address}]:${this.port}`;
  }

  /** MAIL, RCPTs, DATA, content, "." — pipelined when the server offers PIPELINING. Never throws. */
  send(tx: OutboundTransaction): Promise<TransactionResult> {
    return this.exclusive(() => this.transaction(tx));
  }

  /** RSET; true on 250. Never throws. */
  reset(): Promise<boolean> {
    return this.exclusive(async () => (this.idleCheck() ? false : this.rset()));
  }

  /** QUIT, wait for the reply (quit timeout), then close. Never throws. */
  quit(): Promise<void> {
    return this.exclusive(async () => {
      this.dead = true;
      await quitWire(this.wire, this.timeouts.quit);
    });
  }

  /** Drops the connection at once. */
  close(): void {
    this.kill();
  }

  private async rset(): Promise<boolean> {
    const w = await this.wire.write("RSET\r\n", this.timeouts.mail, "RSET");
    const r = w ? undefined : await this.wire.read(this.timeouts.mail, "RSET reply");
    if (r?.ok && r.reply.code === 250) return true;
    this.kill();
    return false;
  }

  private mailCommand(tx: OutboundTransaction): string {
    const ext = this.extensions;
    let line = `MAIL FROM:<${tx.sender}>`;
    if (ext.has("SIZE")) line += ` SIZE=${tx.size}`;
    if (tx.eightBit && ext.has("8BITMIME")) line += " BODY=8BITMIME";
    if (tx.smtputf8 && ext.has("SMTPUTF8")) line += " SMTPUTF8";
    if (ext.has("DSN")) {
      if (tx.ret) line += ` RET=${tx.ret}`;
      if (tx.envid) line += ` ENVID=${encodeXtext(tx.envid)}`;
    }
    return `${line}\r\n`;
  }

  private rcptCommand(r: OutboundTransaction["recipients"][number]): string {
    let line = `RCPT TO:<${r.address}>`;
    if (this.extensions.has("DSN")) {
      if (r.notify) line += ` NOTIFY=${r.notify.toUpperCase().replace(/\s+/g, "")}`;
      if (r.orcpt) {
        const semi = r.orcpt.indexOf(";");
        const [type, addr] = semi === -1 ? ["rfc822", r.orcpt] : [r.orcpt.slice(0, semi), r.orcpt.slice(semi + 1)];
        line += ` ORCPT=${type};${encodeXtext(addr)}`;
      }
    }
    return `${line}\r\n`;
  }

  private async transaction(tx: OutboundTransaction): Promise<TransactionResult> {
    const notUsable = this.idleCheck();
    if (notUsable) return { ok: false, stage: "network", error: notUsable };
    if (tx.recipients.length === 0) return { ok: false, stage: "rcpt", error: "no recipients" };
    if (UNSAFE.test(tx.sender) || UNSAFE.test(tx.envid ?? "") || UNSAFE.test(tx.ret ?? "")) {
      return { ok: false, stage: "mail", error: "CR, LF or NUL in the sender or its parameters" };
    }
    if (tx.recipients.some((r) => UNSAFE.test(r.address) || /[\r\n\0 ]/.test(r.notify ?? "") || UNSAFE.test(r.orcpt ?? ""))) {
      return { ok: false, stage: "rcpt", error: "CR, LF or NUL in a recipient or its parameters" };
    }
    const mail = this.mailCommand(tx);
    const rcpts = tx.recipients.map((r) => this.rcptCommand(r));
    return this.extensions.has("PIPELINING") ? this.pipelined(tx, mail, rcpts) : this.stepwise(tx, mail, rcpts);
  }

  /** RFC 2920 §3.1: MAIL, every RCPT and DATA in one write, then the replies in order. */
  private async pipelined(tx: OutboundTransaction, mailLine: string, rcptLines: string[]): Promise<TransactionResult> {
    const t = this.timeouts;
    const w = await this.wire.write(mailLine + rcptLines.join("") + "DATA\r\n", t.mail, "MAIL, RCPT and DATA");
    if (w) return lost("mail", w);
    const m = await this.wire.read(t.mail, "MAIL reply");
    if (!m.ok) return lost("mail", m);
    const mail = m.reply;
    if (mail.code === 421) return this.closing({ ok: true, mail, recipients: [] });

    const recipients: SmtpReply[] = [];
    for (let i = 0; i < rcptLines.length; i++) {
      const r = await this.wire.read(t.rcpt, "RCPT reply");
      if (!r.ok) return lost("rcpt", r, { mail, recipients });
      recipients.push(r.reply);
      if (r.reply.code === 421) return this.closing({ ok: true, mail, recipients: is2xx(mail.code) ? fill(recipients, tx) : [] });
    }
    const d = await this.wire.read(t.dataInit, "DATA reply");
    if (!d.ok) return lost("data", d, { mail, recipients });
    const accepted = recipients.some((r) => is2xx(r.code));

    if (!is2xx(mail.code) || !accepted) {
      const result: TransactionResult = { ok: true, mail, recipients: is2xx(mail.code) ? recipients : [] };
      if (d.reply.code === 421) return this.closing(result);
      if (d.reply.code === 354) {
        // A server that says 354 with no recipient: end the (empty) data at once.
        const w2 = await this.wire.write(".\r\n", t.dataBlock, "end of data");
        const e = w2 ? undefined : await this.wire.read(t.dataEnd, "reply to end of data");
        if (!e?.ok) return this.closing(result);
        if (e.reply.code === 421) return this.closing(result);
      }
      await this.rset();
      return result;
    }
    return this.afterData(tx, mail, recipients, d.reply);
  }

  /** Without PIPELINING: one command, one reply. */
  private async stepwise(tx: OutboundTransaction, mailLine: string, rcptLines: string[]): Promise<TransactionResult> {
    const t = this.timeouts;
    const w = await this.wire.write(mailLine, t.mail, "MAIL");
    if (w) return lost("mail", w);
    const m = await this.wire.read(t.mail, "MAIL reply");
    if (!m.ok) return lost("mail", m);
    const mail = m.reply;
    if (mail.code === 421) return this.closing({ ok: true, mail, recipients: [] });
    if (!is2xx(mail.code)) {
      await this.rset();
      return { ok: true, mail, recipients: [] };
    }

    const recipients: SmtpReply[] = [];
    for (const line of rcptLines) {
      const wr = await this.wire.write(line, t.rcpt, "RCPT");
      if (wr) return lost("rcpt", wr, { mail, recipients });
      const r = await this.wire.read(t.rcpt, "RCPT reply");
      if (!r.ok) return lost("rcpt", r, { mail, recipients });
      recipients.push(r.reply);
      if (r.reply.code === 421) return this.closing({ ok: true, mail, recipients: fill(recipients, tx) });
    }
    if (!recipients.some((r) => is2xx(r.code))) {
      await this.rset();
      return { ok: true, mail, recipients };
    }

    const wd = await this.wire.write("DATA\r\n", t.dataInit, "DATA");
    if (wd) return lost("data", wd, { mail, recipients });
    const d = await this.wire.read(t.dataInit, "DATA reply");
    if (!d.ok) return lost("data", d, { mail, recipients });
    return this.afterData(tx, mail, recipients, d.reply);
  }

  /** Given the reply to DATA with recipients accepted: send the content on 354. */
  private async afterData(tx: OutboundTransaction, mail: SmtpReply, recipients: SmtpReply[], dataReply: SmtpReply): Promise<TransactionResult> {
    const t = this.timeouts;
    if (dataReply.code === 421) return this.closing({ ok: true, mail, recipients, data: dataReply });
    if (dataReply.code !== 354) {
      await this.rset();
      return { ok: true, mail, recipients, data: dataReply };
    }

    // RFC 5321 §4.5.2: a line starting with "." gets another; stream with
    // backpressure, the data-block timeout bounding each wait for drain.
    const stuffer = new DotStuffer();
    try {
      for await (const chunk of tx.content()) {
        const w = await this.wire.write(stuffer.push(chunk), t.dataBlock, "message data");
        if (w) return lost("data", w, { mail, recipients });
      }
    } catch (err) {
      // Ending with "." now would deliver a truncated message: drop the
      // connection instead, so the server discards what it has (§4.1.1.4).
      this.kill();
      return { ok: false, stage: "data", error: `reading the message failed, connection dropped: ${describeError(err)}`, replies: { mail, recipients } };
    }
    const w = await this.wire.write(stuffer.end(), t.dataBlock, "end of data");
    if (w) return lost("data", w, { mail, recipients });
    const e = await this.wire.read(t.dataEnd, "reply to end of data");
    if (!e.ok) return lost("dataEnd", e, { mail, recipients });
    // §4.1.1.4: the server's buffers are cleared after this reply, whatever it says.
    const result: TransactionResult = { ok: true, mail, recipients, data: e.reply };
    return e.reply.code === 421 ? this.closing(result) : result;
  }

  /** A 421 (or a failure while cleaning up): the server is going away. */
  private closing(result: TransactionResult): TransactionResult {
    this.kill();
    return result;
  }
}

/** After a 421 to a RCPT, the remaining recipients share that reply. */
function fill(replies: SmtpReply[], tx: OutboundTransaction): SmtpReply[] {
  const last = replies[replies.length - 1];
  while (replies.length < tx.recipients.length) replies.push(last);
  return replies;
}

