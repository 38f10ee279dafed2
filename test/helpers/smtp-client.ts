// A raw SMTP client for tests that must speak the protocol byte by byte:
// read one (multi-line) reply, send a command line, write raw bytes, STARTTLS.
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";

export interface SmtpClient {
  /** The next complete reply, its lines joined by "\r\n" (no final CRLF), e.g. "250-mx.test\r\n250 SIZE 26214400". */
  read(timeoutMs?: number): Promise<string>;
  /** Sends one command; CRLF is appended. */
  send(line: string): Promise<void>;
  /** Sends bytes exactly as given. */
  write(raw: Buffer | string): Promise<void>;
  /** Upgrades the connection to TLS (send STARTTLS and read its 220 first). Any certificate is accepted. */
  startTls(servername?: string): Promise<void>;
  /** Resolves when the server has closed the connection. */
  closed(timeoutMs?: number): Promise<void>;
  close(): void;
  readonly socket: net.Socket;
}

const DEFAULT_TIMEOUT = 10_000;

/** A plain connection; `localAddress` (any 127.x.y.z) plays another client host. */
export async function connect(host: string, port: number, localAddress?: string): Promise<SmtpClient> {
  const socket = net.connect({ host, port, localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return wrap(socket);
}

/** For implicit-TLS ports (submissions): TLS from the first byte. */
export async function connectTls(host: string, port: number, servername = "mx.test", localAddress?: string): Promise<SmtpClient> {
  const socket = tls.connect({ socket: net.connect({ host, port, localAddress }), servername, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  return wrap(socket);
}

/** connect or connectTls from a chosen client address. */
export function connectFrom(addr: { host: string; port: number }, opts: { from?: string; tls?: boolean } = {}): Promise<SmtpClient> {
  return opts.tls ? connectTls(addr.host, addr.port, "mx.test", opts.from) : connect(addr.host, addr.port, opts.from);
}

function wrap(initial: net.Socket): SmtpClient {
  let socket = initial;
  let buffer = Buffer.alloc(0);
  let ended = false;
  let failure: Error | undefined;
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());

  const attach = (s: net.Socket) => {
    s.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      wake();
    });
    s.on("end", () => {
      ended = true;
      wake();
    });
    s.on("close", () => {
      ended = true;
      wake();
    });
    s.on("error", (err) => {
      failure = err;
      wake();
    });
  };

  /** Waits until check() returns a value, the connection ends, or the time is up. */
  const until = <T>(check: () => T | undefined, what: string, timeoutMs: number) =>
    new Promise<T>((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value !== undefined) return done(() => resolve(value));
        if (failure) return done(() => reject(failure));
        if (ended) return done(() => reject(new Error(`connection closed while waiting for ${what}; unread: ${JSON.stringify(buffer.toString())}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; unread: ${JSON.stringify(buffer.toString())}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(attempt);
        settle();
      };
      waiters.add(attempt);
      attempt();
    });

  /** Takes one complete reply off the buffer, if there is one. */
  const takeReply = (): string | undefined => {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = buffer.indexOf(0x0a, start);
      if (nl < 0) return undefined;
      const line = buffer.subarray(start, nl).toString("utf8").replace(/\r$/, "");
      lines.push(line);
      start = nl + 1;
      if (!/^\d{3}-/.test(line)) break; // "250 text", "250", or a malformed line ends the reply
    }
    buffer = buffer.subarray(start);
    return lines.join("\r\n");
  };

  const write = (raw: Buffer | string) =>
    new Promise<void>((resolve, reject) => socket.write(raw, (err) => (err ? reject(err) : resolve())));

  attach(socket);
  return {
    get socket() {
      return socket;
    },
    read: (timeoutMs = DEFAULT_TIMEOUT) => until(takeReply, "a reply", timeoutMs),
    send: (line) => write(`${line}\r\n`),
    write,
    async startTls(servername = "mx.test") {
      if (buffer.length) throw new Error(`data arrived before the TLS handshake: ${JSON.stringify(buffer.toString())}`);
      const plain = socket;
      plain.removeAllListeners("data");
      plain.removeAllListeners("end");
      plain.removeAllListeners("close");
      const secure = tls.connect({ socket: plain, servername, rejectUnauthorized: false });
      await new Promise<void>((resolve, reject) => {
        secure.once("secureConnect", resolve);
        secure.once("error", reject);
      });
      socket = secure;
      attach(secure);
    },
    closed: (timeoutMs = DEFAULT_TIMEOUT) => until(() => (ended ? true : undefined), "the server to close the connection", timeoutMs).then(() => {}),
    close() {
      socket.destroy();
    },
  };
}

/** Sends a command and checks the reply against a pattern; returns the reply. */
export async function expectReply(c: SmtpClient, line: string, pattern: RegExp): Promise<string> {
  await c.send(line);
  const r = await c.read();
  assert.match(r, pattern, `${line} →`);
  return r;
}
