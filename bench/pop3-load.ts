// POP3 load generator (run by hand, never part of npm test): one session per
// user, all in parallel; each logs in (USER/PASS, plain TCP or implicit TLS),
// STAT, LIST, RETRs every message (optionally DELE each, then QUIT commits)
// and checks that every RETR's octet count, dot-stuffing undone, equals its
// LIST size. Reports messages/s, bytes/s, RETR and login latency, errors.
// Pure node:net / node:tls; refuses anything but loopback targets.
//   node dist/bench/pop3-load.js --host 127.0.0.1 --port 2611 \
//     --users user1@bench.test,user2@bench.test --password X [--tls] [--dele] [--json]
// It also writes the test mail, so that every server gets the same bytes:
//   node dist/bench/pop3-load.js --fill-mbox FILE|- --count N --size S --to ADDR
//   node dist/bench/pop3-load.js --fill-maildir DIR --count N --size S --to ADDR
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { summary } from "./stats.js";

interface Options {
  host: string;
  port: number;
  users: string[];
  password: string;
  tls: boolean;
  dele: boolean;
  expect: number | undefined;
  timeoutMs: number;
  json: boolean;
}

interface Stats {
  messages: number; // RETRs whose size checked out
  bytes: number; // octets of those messages (as LIST counts them)
  wireBytes: number; // bytes of the RETR responses as received (stuffed, with status line and terminator)
  deleted: number; // DELEs answered +OK (the QUIT that follows commits them)
  remaining: number; // messages left after a --dele run (a fresh session's STAT)
  errors: Map<string, number>;
  retr: number[]; // ms from sending RETR to the end of its terminator
  login: number[]; // ms from connect to +OK after PASS (TCP, TLS, greeting, USER, PASS)
  dele: number[]; // ms per DELE
  quit: number[]; // ms from QUIT to its reply (the UPDATE state with --dele)
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "110" },
      users: { type: "string", multiple: true, default: [] },
      password: { type: "string", default: "bench" },
      tls: { type: "boolean", default: false },
      dele: { type: "boolean", default: false },
      expect: { type: "string" },
      timeout: { type: "string", default: "60" },
      json: { type: "boolean", default: false },
    },
    strict: true,
  });
  const host = values.host;
  if (!/^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/.test(host)) {
    throw new Error(`refusing to load ${host}: not a loopback address`);
  }
  const users = values.users.flatMap((u) => u.split(",")).map((u) => u.trim()).filter(Boolean);
  if (users.length === 0) throw new Error("--users: at least one user (comma-separated)");
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port: bad port ${values.port}`);
  return {
    host: host === "localhost" ? "127.0.0.1" : host,
    port,
    users,
    password: values.password,
    tls: values.tls,
    dele: values.dele,
    expect: values.expect === undefined ? undefined : Number(values.expect),
    timeoutMs: Number(values.timeout) * 1000,
    json: values.json,
  };
}

class ProtocolError extends Error {
  constructor(readonly stage: string, readonly reply: string) {
    super(`${stage}: ${reply.slice(0, 120)}`);
  }
}

const CRLF = Buffer.from("\r\n");
const TERMINATOR = Buffer.from("\r\n.\r\n");

/**
 * Reads POP3 responses off a socket as bytes (messages may be 8-bit): a growable
 * buffer, one waiter at a time, a per-response timeout.
 */
class ResponseReader {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private start = 0;
  private end = 0;
  private scanned = 0; // where the next terminator search may begin (absolute index)
  private wake: (() => void) | undefined;
  private closed: Error | undefined;

  constructor(socket: net.Socket, private readonly timeoutMs: number) {
    socket.on("data", (chunk: Buffer) => {
      this.append(chunk);
      this.wake?.();
    });
    const fail = (err: Error) => {
      this.closed ??= err;
      this.wake?.();
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("connection closed")));
  }

  private append(chunk: Buffer): void {
    if (this.end + chunk.length > this.buf.length) {
      const live = this.end - this.start;
      const size = Math.max(this.buf.length, (live + chunk.length) * 2);
      const next = size > this.buf.length ? Buffer.allocUnsafe(size) : this.buf;
      this.buf.copy(next, 0, this.start, this.end);
      this.scanned -= this.start;
      this.buf = next;
      this.start = 0;
      this.end = live;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  /** Waits until find() returns an end index (absolute, exclusive), then takes those bytes. */
  private async take(find: () => number): Promise<Buffer> {
    const deadline = performance.now() + this.timeoutMs;
    for (;;) {
      const at = find();
      if (at >= 0) {
        const out = Buffer.from(this.buf.subarray(this.start, at)); // a copy: the buffer is reused
        this.start = at;
        this.scanned = at;
        if (this.start === this.end) this.start = this.end = this.scanned = 0;
        return out;
      }
      if (this.closed) throw this.closed;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no complete response within ${this.timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }

  /** One response line, without its CRLF. */
  async line(): Promise<string> {
    const raw = await this.take(() => {
      const i = this.buf.subarray(0, this.end).indexOf(CRLF, this.start);
      return i === -1 ? -1 : i + 2;
    });
    return raw.subarray(0, raw.length - 2).toString("latin1");
  }

  /**
   * The rest of a multi-line response after its status line: the bytes up to and
   * including the CRLF before the terminating ".", still dot-stuffed.
   */
  async body(): Promise<Buffer> {
    let bodyLength = 0; // relative to the start of the response: append() may move the bytes
    const raw = await this.take(() => {
      if (this.end - this.start >= 3 && this.buf[this.start] === 0x2e && this.buf[this.start + 1] === 0x0d && this.buf[this.start + 2] === 0x0a) {
        bodyLength = 0;
        return this.start + 3; // empty body: "." CRLF right after the status line
      }
      const from = Math.max(this.start, this.scanned - 4);
      const i = this.buf.subarray(0, this.end).indexOf(TERMINATOR, from);
      this.scanned = this.end;
      if (i === -1) return -1;
      bodyLength = i + 2 - this.start;
      return i + 5;
    });
    return raw.subarray(0, bodyLength);
  }
}

/** Octets of a dot-stuffed body once unstuffed, and how many lines began with a single "." (bad stuffing). */
function unstuffedLength(body: Buffer): { octets: number; badDots: number } {
  let stuffed = 0;
  let badDots = 0;
  const check = (at: number) => {
    if (body[at] !== 0x2e) return;
    stuffed++;
    if (body[at + 1] !== 0x2e) badDots++;
  };
  if (body.length > 0) check(0);
  for (let nl = body.indexOf(0x0a); nl !== -1 && nl + 1 < body.length; nl = body.indexOf(0x0a, nl + 1)) check(nl + 1);
  return { octets: body.length - stuffed, badDots };
}

function connect(opts: Options): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = opts.tls
      ? tls.connect({ host: opts.host, port: opts.port, rejectUnauthorized: false })
      : net.connect({ host: opts.host, port: opts.port });
    socket.once(opts.tls ? "secureConnect" : "connect", () => {
      socket.off("error", reject);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Connects and logs in; returns the socket and reader in the TRANSACTION state. */
async function login(opts: Options, user: string, loginTimes: number[]) {
  const t0 = performance.now();
  const socket = await connect(opts);
  const reader = new ResponseReader(socket, opts.timeoutMs);
  const expectOk = async (stage: string) => {
    const reply = await reader.line();
    if (!reply.startsWith("+OK")) throw new ProtocolError(stage, reply);
    return reply;
  };
  try {
    await expectOk("greeting");
    socket.write(`USER ${user}\r\n`);
    await expectOk("USER");
    socket.write(`PASS ${opts.password}\r\n`);
    await expectOk("PASS");
  } catch (err) {
    socket.destroy();
    throw err;
  }
  loginTimes.push(performance.now() - t0);
  return { socket, reader, expectOk };
}

/** One user's session: login, STAT, LIST, RETR (and DELE) each message, QUIT. */
async function runSession(opts: Options, user: string, stats: Stats): Promise<void> {
  const error = (key: string) => stats.errors.set(key, (stats.errors.get(key) ?? 0) + 1);
  let socket: net.Socket | undefined;
  try {
    const { socket: sock, reader, expectOk } = await login(opts, user, stats.login);
    socket = sock;
    socket.write("STAT\r\n");
    const stat = /^\+OK (\d+) (\d+)/.exec(await expectOk("STAT"));
    if (!stat) throw new ProtocolError("STAT", "unparsable");
    const count = Number(stat[1]);
    if (opts.expect !== undefined && count !== opts.expect) error(`STAT: ${count} messages, expected ${opts.expect}`);
    socket.write("LIST\r\n");
    await expectOk("LIST");
    const sizes = new Map<number, number>();
    for (const l of (await reader.body()).toString("latin1").split("\r\n")) {
      const m = /^(\d+) (\d+)/.exec(l);
      if (m) sizes.set(Number(m[1]), Number(m[2]));
    }
    if (sizes.size !== count) error(`LIST: ${sizes.size} entries, STAT said ${count}`);
    const listTotal = [...sizes.values()].reduce((a, b) => a + b, 0);
    if (listTotal !== Number(stat[2])) error(`LIST: sizes add up to ${listTotal}, STAT said ${stat[2]}`);
    for (const [n, size] of sizes) {
      const t0 = performance.now();
      socket.write(`RETR ${n}\r\n`);
      const status = await reader.line();
      if (!status.startsWith("+OK")) {
        error(`RETR ${status.slice(0, 20)}`);
        continue;
      }
      const body = await reader.body();
      stats.retr.push(performance.now() - t0);
      stats.wireBytes += status.length + 2 + body.length + 3;
      const { octets, badDots } = unstuffedLength(body);
      if (badDots) error("RETR: line starting with an unstuffed \".\"");
      if (octets !== size) {
        error("RETR: octets differ from LIST size");
        if (stats.errors.get("RETR: octets differ from LIST size") === 1) {
          process.stderr.write(`pop3-load: ${user} message ${n}: RETR gave ${octets} octets, LIST said ${size}\n`);
        }
        continue;
      }
      stats.messages++;
      stats.bytes += octets;
      if (opts.dele) {
        const d0 = performance.now();
        socket.write(`DELE ${n}\r\n`);
        const reply = await reader.line();
        if (reply.startsWith("+OK")) {
          stats.dele.push(performance.now() - d0);
          stats.deleted++;
        }
        else error(`DELE ${reply.slice(0, 20)}`);
      }
    }
    const q0 = performance.now();
    socket.write("QUIT\r\n");
    await expectOk("QUIT");
    stats.quit.push(performance.now() - q0);
  } catch (err) {
    if (err instanceof ProtocolError) error(`${err.stage} ${err.reply.slice(0, 40)}`);
    else error(`session: ${(err as Error).message.slice(0, 120)}`);
  } finally {
    socket?.destroy();
  }
}

/** After a --dele run: a fresh session per user, STAT must say 0. */
async function remaining(opts: Options, user: string, stats: Stats): Promise<void> {
  try {
    const { socket, expectOk } = await login(opts, user, []);
    socket.write("STAT\r\n");
    const n = Number(/^\+OK (\d+)/.exec(await expectOk("STAT"))?.[1]);
    stats.remaining += n;
    if (n !== 0) stats.errors.set("after --dele: messages remain", (stats.errors.get("after --dele: messages remain") ?? 0) + 1);
    socket.write("QUIT\r\n");
    await expectOk("QUIT").catch(() => "");
    socket.destroy();
  } catch (err) {
    stats.errors.set(`after --dele: ${(err as Error).message.slice(0, 80)}`, 1);
  }
}


/**
 * Message n of a synthetic RFC 5322 mailbox: exactly `size` octets with CRLF line
 * ends (the size POP3 reports), plain text, one body line starting with "." so
 * that every RETR exercises dot-stuffing. `eol` "\n" gives the on-disk form.
 */
export function benchMessage(n: number, size: number, to: string, eol: "\r\n" | "\n"): Buffer {
  const date = new Date(Date.UTC(2026, 10, 27, 10, 0, 0) + n * 1000).toUTCString().replace("GMT", "+0000");
  const head = [
    `Received: from client.bench.test (client.bench.test [127.0.0.1]) by bench.test; ${date}`,
    `From: Bench Sender <sender@bench.test>`,
    `To: <${to}>`,
    `Subject: petrel pop3 bench message ${n}`,
    `Date: ${date}`,
    `Message-ID: <${n}.pop3bench@bench.test>`,
    `MIME-Version: 1.0`,
    `Content-Type: text/plain; charset=us-ascii`,
    ``,
    `Hello,`,
    `.this line starts with a dot and travels dot-stuffed`,
  ];
  const filler = "The quick brown fox jumps over the lazy dog, again and again and again.";
  const lines = [...head];
  let octets = lines.reduce((a, l) => a + l.length + 2, 0);
  while (octets + filler.length + 2 <= size) {
    lines.push(filler);
    octets += filler.length + 2;
  }
  const rest = size - octets;
  if (rest === 1) lines[lines.length - 1] += "x";
  else if (rest >= 2) lines.push("x".repeat(rest - 2));
  return Buffer.from(lines.join(eol) + eol, "latin1");
}

/** --fill-mbox / --fill-maildir: writes the bench mail and exits. True when that mode was asked for. */
function fill(): boolean {
  const { values } = parseArgs({
    options: {
      "fill-mbox": { type: "string" },
      "fill-maildir": { type: "string" },
      count: { type: "string", default: "1000" },
      size: { type: "string", default: "4096" },
      to: { type: "string", default: "user@bench.test" },
    },
    strict: false,
  });
  const count = Number(values.count);
  const size = Math.max(512, Number(values.size));
  const to = String(values.to);
  if (typeof values["fill-mbox"] === "string") {
    const chunks: Buffer[] = [];
    for (let n = 1; n <= count; n++) {
      chunks.push(Buffer.from(`From sender@bench.test Thu Nov 27 10:00:00 2026\n`), benchMessage(n, size, to, "\n"), Buffer.from("\n"));
    }
    const target = values["fill-mbox"];
    if (target === "-") fs.writeSync(1, Buffer.concat(chunks));
    else fs.writeFileSync(target, Buffer.concat(chunks));
    return true;
  }
  if (typeof values["fill-maildir"] === "string") {
    // Maildir as Dovecot's LDA leaves it: LF on disk, new/, S= (file size) and W= (size with CRLF) in the name.
    const dir = values["fill-maildir"];
    for (const sub of ["new", "cur", "tmp"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    const now = Math.floor(Date.now() / 1000);
    for (let n = 1; n <= count; n++) {
      const data = benchMessage(n, size, to, "\n");
      const crlf = data.length + data.toString("latin1").split("\n").length - 1;
      const name = `${now}.M${n}P${process.pid}.${os.hostname()},S=${data.length},W=${crlf}`;
      fs.writeFileSync(path.join(dir, "new", name), data);
    }
    return true;
  }
  return false;
}

async function main() {
  if (fill()) return;
  const opts = options();
  const stats: Stats = { messages: 0, bytes: 0, wireBytes: 0, deleted: 0, remaining: 0, errors: new Map(), retr: [], login: [], dele: [], quit: [] };
  const started = performance.now();
  await Promise.all(opts.users.map((user) => runSession(opts, user, stats)));
  const seconds = (performance.now() - started) / 1000;
  if (opts.dele) await Promise.all(opts.users.map((user) => remaining(opts, user, stats)));
  const result = {
    target: `${opts.host}:${opts.port}`,
    tls: opts.tls,
    dele: opts.dele,
    sessions: opts.users.length,
    messages: stats.messages,
    bytes: stats.bytes,
    wireBytes: stats.wireBytes,
    seconds: Math.round(seconds * 1000) / 1000,
    messagesPerSecond: Math.round((stats.messages / seconds) * 10) / 10,
    megabytesPerSecond: Math.round((stats.bytes / seconds / 1e6) * 100) / 100,
    retrMs: summary(stats.retr),
    loginMs: summary(stats.login),
    ...(opts.dele ? { deleMs: summary(stats.dele), deleted: stats.deleted, remaining: stats.remaining } : {}),
    quitMs: summary(stats.quit),
    errors: Object.fromEntries(stats.errors),
  };
  if (opts.json) {
    console.log(JSON.stringify(result));
  } else {
    const ms = (s: { p50: number; p99: number; max: number }) => `p50 ${s.p50} ms  p99 ${s.p99} ms  max ${s.max} ms`;
    console.log(`target ${result.target}${opts.tls ? " (TLS)" : ""}: ${result.sessions} sessions${opts.dele ? ", DELE each, QUIT" : ", QUIT without DELE"}`);
    console.log(`retrieved ${stats.messages} messages, ${stats.bytes} octets in ${result.seconds} s = ${result.messagesPerSecond} messages/s, ${result.megabytesPerSecond} MB/s`);
    console.log(`RETR   ${ms(result.retrMs)}`);
    console.log(`login  ${ms(result.loginMs)}`);
    if (opts.dele) console.log(`DELE   ${ms(summary(stats.dele))}\nmarked ${stats.deleted}, left after QUIT (a fresh STAT) ${stats.remaining}`);
    console.log(`QUIT   ${ms(result.quitMs)}`);
    console.log(`errors: ${stats.errors.size ? JSON.stringify(result.errors) : "none"}`);
  }
  process.exitCode = stats.errors.size === 0 ? 0 : 1;
}

main().catch((err: Error) => {
  console.error(`pop3-load: ${err.message}`);
  process.exitCode = 2;
});
