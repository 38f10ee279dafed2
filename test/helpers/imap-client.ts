// A raw IMAP client for tests that must see the protocol line by line:
// tagged commands with their untagged responses, literals in replies kept
// in place, IDLE, STARTTLS. Not a general client: enough to check what the
// server says, byte for byte.
import net from "node:net";
import tls from "node:tls";

export interface ImapReply {
  /** Untagged lines ("* ..."), literals inlined as {n}\r\n<bytes>. */
  untagged: string[];
  /** The tagged line without the tag: "OK [..] text". */
  status: string;
}

export interface RawImap {
  greeting: string;
  /** Sends "tag COMMAND" (a string is sent as latin1: one char per byte) and collects everything up to the tagged reply. */
  command(text: string | Buffer, timeoutMs?: number): Promise<ImapReply>;
  /** Sends raw bytes (literal tests). */
  write(raw: string | Buffer): void;
  /** The next complete response line (untagged, continuation or tagged), literals inlined. */
  line(timeoutMs?: number): Promise<string>;
  startTls(): Promise<void>;
  close(): void;
  readonly socket: net.Socket;
}

export async function connectImap(port: number, opts: { host?: string; localAddress?: string; tls?: boolean } = {}): Promise<RawImap> {
  const host = opts.host ?? "127.0.0.1";
  const plain = net.connect({ host, port, localAddress: opts.localAddress });
  let socket: net.Socket = opts.tls ? tls.connect({ socket: plain, rejectUnauthorized: false, servername: "mx.test" }) : plain;
  await new Promise<void>((resolve, reject) => {
    socket.once(opts.tls ? "secureConnect" : "connect", () => resolve());
    socket.once("error", reject);
  });
  let buffer = Buffer.alloc(0);
  const lines: string[] = [];
  let waiter: (() => void) | undefined;
  let tagNo = 0;
  const onData = (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const parsed = takeLine(buffer);
      if (!parsed) break;
      lines.push(parsed.line);
      buffer = buffer.subarray(parsed.used);
    }
    waiter?.();
  };
  socket.on("data", onData);
  const line = async (timeoutMs = 10_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (lines.length === 0) {
      if (Date.now() > deadline) throw new Error("no response line in time");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return lines.shift()!;
  };
  const client: RawImap = {
    greeting: "",
    get socket() {
      return socket;
    },
    write(raw) {
      socket.write(raw);
    },
    line,
    async command(text, timeoutMs = 10_000) {
      const tag = `t${++tagNo}`;
      socket.write(Buffer.concat([Buffer.from(`${tag} `), Buffer.isBuffer(text) ? text : Buffer.from(text, "latin1"), Buffer.from("\r\n")]));
      const untagged: string[] = [];
      for (;;) {
        const l = await line(timeoutMs);
        if (l.startsWith(`${tag} `)) return { untagged, status: l.slice(tag.length + 1) };
        untagged.push(l);
      }
    },
    async startTls() {
      const r = await client.command("STARTTLS");
      if (!r.status.startsWith("OK")) throw new Error(`STARTTLS: ${r.status}`);
      socket.off("data", onData);
      const secure = tls.connect({ socket, rejectUnauthorized: false, servername: "mx.test" });
      await new Promise<void>((resolve, reject) => {
        secure.once("secureConnect", () => resolve());
        secure.once("error", reject);
      });
      secure.on("data", onData);
      socket = secure;
    },
    close() {
      socket.destroy();
    },
  };
  client.greeting = await line();
  return client;
}

/** One response line from the buffer with its literals ("{n}\r\n" + n bytes) inlined; undefined if incomplete. */
function takeLine(buf: Buffer): { line: string; used: number } | undefined {
  let pos = 0;
  for (;;) {
    const lf = buf.indexOf(0x0a, pos);
    if (lf === -1) return undefined;
    const head = buf.subarray(0, lf + 1).toString("latin1");
    const literal = /\{(\d+)\}\r\n$/.exec(head);
    if (!literal) return { line: buf.subarray(0, lf - 1 >= 0 && buf[lf - 1] === 0x0d ? lf - 1 : lf).toString("latin1"), used: lf + 1 };
    const end = lf + 1 + Number(literal[1]);
    if (buf.length < end) return undefined;
    pos = end;
  }
}

/** Connects and logs in; fails the test when the login is refused. */
export async function loginImap(port: number, user: string, password: string, opts: { localAddress?: string } = {}): Promise<RawImap> {
  const c = await connectImap(port, opts);
  const r = await c.command(`LOGIN ${user} "${password}"`);
  if (!r.status.startsWith("OK")) throw new Error(`LOGIN ${user}: ${r.status}`);
  return c;
}
