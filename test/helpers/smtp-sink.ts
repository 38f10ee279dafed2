// A programmable SMTP receiver for tests of the outbound client: EHLO/HELO,
// MAIL, RCPT, DATA (dot-unstuffed byte for byte), RSET, NOOP, QUIT, STARTTLS,
// AUTH PLAIN/LOGIN, pipelined input processed in order, several transactions
// per connection. Hooks choose the replies; hangAt makes it go silent for
// timeout tests. Listens on loopback only. Trusted with nothing: test use only.
import net from "node:net";
import tls from "node:tls";

export interface SinkTransaction {
  helo: string;
  mailFrom: string;
  mailParams: string;
  recipients: { address: string; params: string }[];
  /** dot-unstuffed message bytes */
  data: Buffer;
  tls: boolean;
  /** the authenticated user */
  auth?: string;
  at: number;
}

export interface SinkOptions {
  /** default 127.0.0.1; must be a loopback address (127.x or ::1) */
  host?: string;
  /** 0 = ephemeral */
  port?: number;
  /** EHLO keywords advertised; "STARTTLS" is added when tls is given (before TLS), "AUTH PLAIN LOGIN" when auth is given and no AUTH line is listed. */
  extensions?: string[];
  /** enables STARTTLS (and implicit TLS when implicitTls is true) */
  tls?: { key: string | Buffer; cert: string | Buffer };
  implicitTls?: boolean;
  auth?: { username: string; password: string };
  /** full reply line(s) without the final CRLF (several separated by CRLF), default "220 sink.test ESMTP" */
  greeting?: string;
  /** e.g. "502 5.5.1 no" to force HELO fallback */
  ehloReply?: string;
  /** reply line(s) to STARTTLS, default "220 2.0.0 Ready to start TLS"; the handshake follows only a 220 */
  starttlsReply?: string;
  /** a reply line to send instead of "250 2.1.0 Ok" */
  onMail?: (from: string, params: string) => string | undefined;
  /** e.g. "550 5.1.1 no such user", "451 4.3.0 try later" */
  onRcpt?: (to: string, params: string) => string | undefined;
  /** reply after "." (default "250 2.0.0 Ok: queued") */
  onData?: (tx: SinkTransaction) => string | undefined;
  /** never answer at that point (timeout tests) */
  hangAt?: "greeting" | "mail" | "data-end";
  /** Hold every reply until a DATA command has arrived on the connection: only a client that pipelines gets through. */
  holdRepliesUntilData?: boolean;
}

export interface ReceivedLine {
  line: string;
  /** replies the sink had written on this connection when the chunk holding the line arrived */
  repliesBefore: number;
  /** connection number, from 1 */
  connection: number;
}

export interface SinkHandle {
  host: string;
  port: number;
  transactions: SinkTransaction[];
  connections: number;
  /** every command line received, in order */
  commands: string[];
  /** the same lines with when they arrived */
  received: ReceivedLine[];
  /** resolves when transactions.length >= n, rejects on timeout */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_SINK_EXTENSIONS = ["PIPELINING", "SIZE 52428800", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN"];

const isLoopback = (host: string) => (net.isIPv4(host) && host.startsWith("127.")) || host === "::1";
const is2xx = (reply: string) => /^2/.test(reply);

export async function startSink(options: SinkOptions = {}): Promise<SinkHandle> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopback(host)) throw new Error(`smtp-sink: ${host} is not a loopback address`);
  if (options.implicitTls && !options.tls) throw new Error("smtp-sink: implicitTls needs tls");
  const secureContext = options.tls ? tls.createSecureContext({ key: options.tls.key, cert: options.tls.cert }) : undefined;

  const sockets = new Set<net.Socket>();
  const waiters = new Set<() => void>();
  const handle: SinkHandle = {
    host,
    port: 0,
    transactions: [],
    connections: 0,
    commands: [],
    received: [],
    waitFor(n, timeoutMs = 10_000) {
      if (handle.transactions.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const check = () => {
          if (handle.transactions.length < n) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`smtp-sink: ${handle.transactions.length} of ${n} transactions after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  const record = (tx: SinkTransaction) => {
    handle.transactions.push(tx);
    for (const w of [...waiters]) w();
  };

  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.setNoDelay(true);
    raw.on("close", () => sockets.delete(raw));
    raw.on("error", () => raw.destroy());
    handle.connections++;
    new SinkSession(raw, handle.connections, options, secureContext, handle, record);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
  handle.port = (server.address() as net.AddressInfo).port;
  return handle;
}

type Mode = "command" | "data" | "auth-plain" | "auth-login-user" | "auth-login-pass" | "refused" | "hung" | "closed";

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

class SinkSession {
  private socket: net.Socket;
  private tls = false;
  private mode: Mode = "command";
  private buf: Buffer = Buffer.alloc(0);
  private repliesSent = 0;
  private held: string[] | undefined;
  private holdDone = false;
  private helo = "";
  private user: string | undefined;
  private loginUser = "";
  private mail: { from: string; params: string } | undefined;
  private rcpts: { address: string; params: string }[] = [];
  private data: Buffer[] = [];
  // dot-unstuffing state (RFC 5321 §4.5.2): end only at CRLF "." CRLF
  private lineStart = true;
  private prevCR = false;
  private dotState = 0; // 1: "." at line start, 2: "." CR at line start

  constructor(
    raw: net.Socket,
    private readonly connection: number,
    private readonly options: SinkOptions,
    private readonly secureContext: tls.SecureContext | undefined,
    private readonly handle: SinkHandle,
    private readonly record: (tx: SinkTransaction) => void,
  ) {
    if (options.implicitTls && secureContext) {
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext });
      secure.on("error", () => secure.destroy());
      this.socket = secure;
      this.tls = true;
      secure.once("secure", () => this.start());
    } else {
      this.socket = raw;
      this.start();
    }
    this.socket.on("data", this.onData);
  }

  private start(): void {
    if (this.options.hangAt === "greeting") {
      this.mode = "hung";
      return;
    }
    const greeting = this.options.greeting ?? "220 sink.test ESMTP";
    if (!is2xx(greeting)) this.mode = "refused";
    this.reply(greeting);
  }

  private reply(text: string): void {
    if (this.mode === "closed") return;
    const wire = text.split(/\r?\n/).join("\r\n") + "\r\n";
    if (this.held) {
      this.held.push(wire);
      return;
    }
    this.socket.write(wire);
    this.repliesSent++;
    if (text.startsWith("421")) {
      this.mode = "closed";
      this.socket.end();
    }
  }

  private release(): void {
    const held = this.held;
    this.held = undefined;
    this.holdDone = true;
    for (const wire of held ?? []) this.reply(wire.slice(0, -2));
  }

  private readonly onData = (chunk: Buffer) => {
    const repliesBefore = this.repliesSent;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length > 0) {
      if (this.mode === "hung" || this.mode === "closed") {
        this.buf = Buffer.alloc(0);
        return;
      }
      if (this.mode === "data") {
        this.consumeData();
        continue;
      }
      const nl = this.buf.indexOf(LF);
      if (nl === -1) return;
      let raw = this.buf.subarray(0, nl);
      this.buf = this.buf.subarray(nl + 1);
      if (raw.length && raw[raw.length - 1] === CR) raw = raw.subarray(0, -1);
      if (this.line(raw.toString("utf8"), repliesBefore) === "stop") return;
    }
  };

  /** Unstuffs what is buffered; at CRLF "." CRLF finishes the transaction and leaves the rest buffered. */
  private consumeData(): void {
    const input = this.buf;
    const out = Buffer.allocUnsafe(input.length + 1);
    let n = 0;
    let end = -1;
    for (let i = 0; i < input.length; i++) {
      const b = input[i];
      if (this.dotState === 1) {
        if (b === CR) {
          this.dotState = 2;
          continue;
        }
        this.dotState = 0; // a stuffed dot: dropped
      } else if (this.dotState === 2) {
        if (b === LF) {
          end = i + 1;
          break;
        }
        this.dotState = 0;
        out[n++] = CR;
        this.prevCR = true;
        this.lineStart = false;
      }
      if (this.lineStart && b === DOT) {
        this.dotState = 1;
        this.lineStart = false;
        continue;
      }
      out[n++] = b;
      this.lineStart = this.prevCR && b === LF;
      this.prevCR = b === CR;
    }
    if (n > 0) this.data.push(Buffer.from(out.subarray(0, n)));
    this.buf = end === -1 ? Buffer.alloc(0) : input.subarray(end);
    if (end !== -1) this.finishData();
  }

  private finishData(): void {
    const tx: SinkTransaction = {
      helo: this.helo,
      mailFrom: this.mail!.from,
      mailParams: this.mail!.params,
      recipients: this.rcpts,
      data: Buffer.concat(this.data),
      tls: this.tls,
      ...(this.user !== undefined ? { auth: this.user } : {}),
      at: Date.now(),
    };
    this.resetTransaction();
    this.mode = "command";
    if (this.options.hangAt === "data-end") {
      this.mode = "hung";
      return;
    }
    const reply = this.options.onData?.(tx) ?? "250 2.0.0 Ok: queued";
    if (is2xx(reply)) this.record(tx);
    this.reply(reply);
  }

  private resetTransaction(): void {
    this.mail = undefined;
    this.rcpts = [];
    this.data = [];
    this.lineStart = true;
    this.prevCR = false;
    this.dotState = 0;
  }

  private extensions(): string[] {
    const list = [...(this.options.extensions ?? DEFAULT_SINK_EXTENSIONS)];
    if (this.secureContext && !this.tls) list.push("STARTTLS");
    if (this.options.auth && !list.some((e) => /^AUTH[ =]/i.test(e))) list.push("AUTH PLAIN LOGIN");
    return list;
  }

  private line(line: string, repliesBefore: number): "stop" | void {
    switch (this.mode) {
      case "auth-plain":
        return this.finishAuth(line === "*" ? undefined : this.decodePlain(line));
      case "auth-login-user":
        if (line === "*") return this.finishAuth(undefined);
        this.loginUser = Buffer.from(line, "base64").toString("utf8");
        this.mode = "auth-login-pass";
        this.reply("334 UGFzc3dvcmQ6");
        return;
      case "auth-login-pass":
        return this.finishAuth(line === "*" ? undefined : { user: this.loginUser, pass: Buffer.from(line, "base64").toString("utf8") });
    }
    this.handle.commands.push(line);
    this.handle.received.push({ line, repliesBefore, connection: this.connection });
    const space = line.indexOf(" ");
    const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
    const arg = space === -1 ? "" : line.slice(space + 1).trim();

    if (this.mode === "refused") {
      // RFC 5321 §3.1: after a 554 greeting, wait for QUIT, 503 to anything else.
      if (verb === "QUIT") return this.quit();
      this.reply("503 5.5.1 No service");
      return;
    }

    switch (verb) {
      case "EHLO": {
        if (this.options.ehloReply) {
          if (is2xx(this.options.ehloReply)) this.helo = arg;
          this.reply(this.options.ehloReply);
          return;
        }
        this.helo = arg;
        this.resetTransaction();
        const lines = [`sink.test Hello ${arg}`, ...this.extensions()];
        this.reply(lines.map((l, i) => `250${i === lines.length - 1 ? " " : "-"}${l}`).join("\r\n"));
        return;
      }
      case "HELO":
        this.helo = arg;
        this.resetTransaction();
        this.reply("250 sink.test");
        return;
      case "MAIL": {
        if (!this.helo) return this.reply("503 5.5.1 EHLO first");
        if (this.mail) return this.reply("503 5.5.1 Nested MAIL command");
        const m = /^MAIL FROM:<([^>]*)>(?: (.*))?$/i.exec(line);
        if (!m) return this.reply("501 5.5.4 Syntax: MAIL FROM:<address>");
        if (this.options.holdRepliesUntilData && !this.holdDone) this.held ??= [];
        if (this.options.hangAt === "mail") {
          this.mode = "hung";
          return "stop";
        }
        const params = m[2] ?? "";
        const reply = this.options.onMail?.(m[1], params) ?? "250 2.1.0 Ok";
        if (is2xx(reply)) this.mail = { from: m[1], params };
        this.reply(reply);
        return;
      }
      case "RCPT": {
        if (!this.mail) return this.reply("503 5.5.1 Need MAIL command");
        const m = /^RCPT TO:<([^>]*)>(?: (.*))?$/i.exec(line);
        if (!m) return this.reply("501 5.5.4 Syntax: RCPT TO:<address>");
        const params = m[2] ?? "";
        const reply = this.options.onRcpt?.(m[1], params) ?? "250 2.1.5 Ok";
        if (is2xx(reply)) this.rcpts.push({ address: m[1], params });
        this.reply(reply);
        return;
      }
      case "DATA": {
        if (!this.mail) this.reply("503 5.5.1 Need MAIL command");
        else if (this.rcpts.length === 0) this.reply("554 5.5.1 No valid recipients");
        else {
          this.mode = "data";
          this.reply("354 End data with <CR><LF>.<CR><LF>");
        }
        this.release();
        return;
      }
      case "RSET":
        this.resetTransaction();
        this.reply("250 2.0.0 Ok");
        return;
      case "NOOP":
        this.reply("250 2.0.0 Ok");
        return;
      case "VRFY":
        this.reply("252 2.0.0 Cannot VRFY");
        return;
      case "QUIT":
        return this.quit();
      case "STARTTLS":
        return this.startTls();
      case "AUTH":
        return this.auth(arg);
      default:
        this.reply("500 5.5.2 Command not recognized");
        return;
    }
  }

  private quit(): "stop" {
    this.reply("221 2.0.0 Bye");
    this.mode = "closed";
    this.socket.end();
    return "stop";
  }

  private startTls(): "stop" | void {
    if (!this.secureContext || this.tls) {
      this.reply("502 5.5.1 STARTTLS not available");
      return;
    }
    this.release();
    const reply = this.options.starttlsReply ?? "220 2.0.0 Ready to start TLS";
    this.reply(reply);
    if (!reply.startsWith("220")) return;
    // RFC 3207 §4.2: input pipelined after STARTTLS is discarded; the session starts over.
    this.buf = Buffer.alloc(0);
    const plain = this.socket;
    plain.removeListener("data", this.onData);
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: this.secureContext });
    secure.on("error", () => secure.destroy());
    secure.on("data", this.onData);
    this.socket = secure;
    this.tls = true;
    this.helo = "";
    this.resetTransaction();
    return "stop";
  }

  private auth(arg: string): void {
    if (!this.options.auth) return this.reply("502 5.5.1 AUTH not available");
    if (this.user !== undefined) return this.reply("503 5.5.1 Already authenticated");
    const [mech, initial] = arg.split(/\s+/);
    switch ((mech ?? "").toUpperCase()) {
      case "PLAIN":
        if (initial === undefined) {
          this.mode = "auth-plain";
          this.reply("334 ");
          return;
        }
        this.finishAuth(this.decodePlain(initial));
        return;
      case "LOGIN":
        if (initial !== undefined) {
          this.loginUser = Buffer.from(initial, "base64").toString("utf8");
          this.mode = "auth-login-pass";
          this.reply("334 UGFzc3dvcmQ6");
          return;
        }
        this.mode = "auth-login-user";
        this.reply("334 VXNlcm5hbWU6");
        return;
      default:
        this.reply("504 5.5.4 Unrecognized authentication type");
    }
  }

  private decodePlain(b64: string): { user: string; pass: string } | undefined {
    const parts = Buffer.from(b64, "base64").toString("utf8").split("\0");
    return parts.length === 3 ? { user: parts[1], pass: parts[2] } : undefined;
  }

  private finishAuth(creds: { user: string; pass: string } | undefined): undefined {
    this.mode = "command";
    const want = this.options.auth!;
    if (creds && creds.user === want.username && creds.pass === want.password) {
      this.user = creds.user;
      this.reply("235 2.7.0 Authentication successful");
    } else {
      this.reply("535 5.7.8 Authentication credentials invalid");
    }
    return undefined;
  }
}
