// POP3 end to end (RFC 1939, 2449, 2595, 5034) against a real server, with
// Python's poplib, curl and the raw protocol: exact sizes (CRLF, before
// dot-stuffing), TOP, UIDL stability, DELE/RSET/QUIT semantics (nothing is
// deleted without QUIT), the maildrop lock, STLS then AUTH, plaintext refused
// before TLS from outside auth.plaintext_networks, and the login throttle.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import net from "node:net";
import tls from "node:tls";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { connect as smtpConnect } from "../helpers/smtp-client.js";
import fc from "fast-check";

/** A raw POP3 client: single-line and multi-line responses, STLS. */
class Pop3Client {
  private buffer = "";
  private waiters: (() => void)[] = [];
  private ended = false;
  constructor(public socket: net.Socket) {
    this.listen(socket);
  }
  private listen(socket: net.Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      this.buffer += d;
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on("close", () => {
      this.ended = true;
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.on("error", () => {});
  }
  static async open(port: number, localAddress = "127.0.0.1", implicitTls = false): Promise<Pop3Client> {
    const socket = implicitTls
      ? tls.connect({ socket: net.connect({ host: "127.0.0.1", port, localAddress }), rejectUnauthorized: false })
      : net.connect({ host: "127.0.0.1", port, localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once(implicitTls ? "secureConnect" : "connect", () => resolve());
      socket.once("error", reject);
    });
    const c = new Pop3Client(socket);
    assert.match(await c.line(), /^\+OK/);
    return c;
  }
  private async until(pred: () => number): Promise<string> {
    for (;;) {
      const end = pred();
      if (end >= 0) {
        const out = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end);
        return out;
      }
      if (this.ended) throw new Error(`connection closed; buffered: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timeout; buffered: ${JSON.stringify(this.buffer.slice(0, 200))}`)), 10_000);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
  line(): Promise<string> {
    return this.until(() => (this.buffer.indexOf("\r\n") === -1 ? -1 : this.buffer.indexOf("\r\n") + 2));
  }
  /** A multi-line response, status line included, up to and including CRLF.CRLF. */
  async multi(): Promise<string> {
    const first = await this.line();
    if (!first.startsWith("+OK")) return first;
    const body = await this.until(() => {
      if (this.buffer.startsWith(".\r\n")) return 3;
      const i = this.buffer.indexOf("\r\n.\r\n");
      return i === -1 ? -1 : i + 5;
    });
    return first + body;
  }
  async cmd(line: string): Promise<string> {
    this.socket.write(`${line}\r\n`);
    return this.line();
  }
  async stls(): Promise<void> {
    assert.match(await this.cmd("STLS"), /^\+OK/);
    const secure = tls.connect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", () => resolve());
      secure.once("error", reject);
    });
    this.socket = secure;
    this.listen(secure);
  }
  closed(): Promise<void> {
    return this.ended ? Promise.resolve() : new Promise((resolve) => this.socket.once("close", () => resolve()));
  }
  close() {
    this.socket.destroy();
  }
}

const run = (cmd: string, args: string[], input?: string) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as NodeJS.ErrnoException & { code?: number }).code as unknown as number) ?? 1 : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });

describe("POP3", () => {
  let server: PetrelServer;
  let pop3: number;
  let pop3s: number;
  const sent = new Map<string, string>(); // subject -> exact message text sent

  async function deliver(to: string, subject: string, body: string): Promise<void> {
    const c = await smtpConnect("127.0.0.1", server.listeners.smtp.port);
    await c.read();
    await c.send("EHLO client.test");
    await c.read();
    const message = `Subject: ${subject}\r\nFrom: a@client.test\r\n\r\n${body}`;
    const stuffed = message.replace(/^\./gm, "..");
    await c.write(`MAIL FROM:<a@client.test>\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
    await c.read();
    await c.read();
    await c.read();
    await c.write(`${stuffed}.\r\n`);
    const reply = await c.read();
    const qid = /queued as (\S+)/.exec(reply)?.[1];
    assert.ok(qid, reply);
    c.close();
    await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid);
    sent.set(subject, message);
  }

  before(async () => {
    server = await startPetrel({
      listeners: ["smtp", "pop3", "pop3s"],
      extraToml: `[auth]\nplaintext_networks = ["127.0.0.1/32", "127.0.0.4/32", "127.0.0.9/32"]\nfailure_delay = "50ms"\nmax_failures = 5\n`,
    });
    pop3 = server.listeners.pop3.port;
    pop3s = server.listeners.pop3s.port;
    assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
    for (const u of ["alice", "bob", "carol", "dave"]) {
      assert.equal((await server.cli(["user", "add", `${u}@example.test`, "--password-stdin"], `${u}-secret\n`)).code, 0);
    }
    await deliver("alice@example.test", "one", "first line\r\n.leading dot\r\n..two dots\r\nlast\r\n");
    await deliver("alice@example.test", "two", "caf\u00e9 8-bit \u00fc\r\nline 2\r\nline 3\r\nline 4\r\n");
    await deliver("alice@example.test", "three", "short\r\n");
  });
  after(async () => server?.close());

  it("STAT, LIST and RETR agree on exact sizes; RETR returns the stored message unstuffed by the client", async () => {
    const c = await Pop3Client.open(pop3);
    assert.match(await c.cmd("USER alice@example.test"), /^\+OK/);
    assert.match(await c.cmd("PASS alice-secret"), /^\+OK/);
    const stat = /^\+OK (\d+) (\d+)/.exec(await c.cmd("STAT"));
    assert.ok(stat);
    assert.equal(Number(stat[1]), 3);
    c.socket.write("LIST\r\n");
    const list = (await c.multi()).split("\r\n").slice(1, -2).map((l) => l.split(" ").map(Number));
    assert.deepEqual(list.map((l) => l[0]), [1, 2, 3]);
    assert.equal(list.reduce((a, l) => a + l[1], 0), Number(stat[2]));
    for (const [n, size] of list) {
      c.socket.write(`RETR ${n}\r\n`);
      const response = await c.multi();
      const status = response.slice(0, response.indexOf("\r\n") + 2);
      assert.match(status, new RegExp(`^\\+OK ${size} octets`));
      const wire = response.slice(status.length, -3); // without the final ".\r\n"
      const message = wire.replace(/^\.\./gm, ".");
      assert.equal(Buffer.byteLength(message, "latin1"), size, `message ${n}: RETR octets equal LIST size`);
      const subject = /^Subject: (\w+)/m.exec(message)![1];
      assert.ok(message.endsWith(sent.get(subject)!.replace(/[\u0080-\uffff]/g, (ch) => Buffer.from(ch, "utf8").toString("latin1"))), `message ${n} body`);
      assert.match(message, /^Return-Path: <a@client\.test>\r\nDelivered-To: alice@example\.test\r\nReceived: /);
    }
    c.socket.write("TOP 2 2\r\n");
    const topText = await c.multi();
    assert.match(topText, /\r\n\r\ncaf.* 8-bit .*\r\nline 2\r\n\.\r\n$/);
    assert.doesNotMatch(topText, /line 3/);
    assert.match(await c.cmd("QUIT"), /^\+OK/);
  });

  it("UIDL ids are stable across sessions and DELE only takes effect at QUIT", async () => {
    const uidls = async (c: Pop3Client) => {
      c.socket.write("UIDL\r\n");
      return (await c.multi()).split("\r\n").slice(1, -2);
    };
    const login = async () => {
      const c = await Pop3Client.open(pop3);
      await c.cmd("USER alice@example.test");
      assert.match(await c.cmd("PASS alice-secret"), /^\+OK/);
      return c;
    };
    const a = await login();
    const before = await uidls(a);
    assert.equal(before.length, 3);
    assert.match(await a.cmd("DELE 1"), /^\+OK/);
    assert.match(await a.cmd("RETR 1"), /^-ERR/);
    assert.match(await a.cmd("RSET"), /^\+OK/);
    assert.match(await a.cmd("DELE 3"), /^\+OK/);
    a.close(); // dropped without QUIT: nothing is deleted
    await a.closed();
    await server.waitForLog((e) => e.msg === "disconnect" && e.protocol === "pop3");
    const b = await login();
    assert.deepEqual(await uidls(b), before);
    assert.match(await b.cmd("DELE 3"), /^\+OK/);
    assert.match(await b.cmd("QUIT"), /^\+OK .*1 messages deleted/);
    const c = await login();
    assert.deepEqual(await uidls(c), before.slice(0, 2), "the same ids for the messages that remain");
    await c.cmd("QUIT");
  });

  it("locks the maildrop: a second session gets [IN-USE] until the first ends", async () => {
    const first = await Pop3Client.open(pop3);
    await first.cmd("USER bob@example.test");
    assert.match(await first.cmd("PASS bob-secret"), /^\+OK/);
    const second = await Pop3Client.open(pop3);
    await second.cmd("USER bob@example.test");
    assert.match(await second.cmd("PASS bob-secret"), /^-ERR \[IN-USE\]/);
    first.close(); // even a dropped session releases it
    await first.closed();
    await server.waitForLog((e) => e.msg === "disconnect" && e.protocol === "pop3" && e.sid !== undefined);
    let reply = "";
    for (let i = 0; i < 50 && !reply.startsWith("+OK"); i++) {
      await second.cmd("USER bob@example.test");
      reply = await second.cmd("PASS bob-secret");
    }
    assert.match(reply, /^\+OK/);
    await second.cmd("QUIT");
  });

  it("refuses passwords before TLS from outside plaintext_networks, and accepts them after STLS", async () => {
    const c = await Pop3Client.open(pop3, "127.0.0.2");
    c.socket.write("CAPA\r\n");
    const capa = await c.multi();
    assert.match(capa, /\r\nSTLS\r\n/);
    assert.doesNotMatch(capa, /\r\nUSER\r\n|SASL/);
    assert.match(await c.cmd("USER carol@example.test"), /^-ERR \[AUTH\]/);
    assert.match(await c.cmd("AUTH PLAIN " + Buffer.from("\0carol@example.test\0carol-secret").toString("base64")), /^-ERR \[AUTH\]/);
    await c.stls();
    c.socket.write("CAPA\r\n");
    const after = await c.multi();
    assert.match(after, /SASL PLAIN LOGIN/);
    assert.doesNotMatch(after, /STLS/);
    assert.match(await c.cmd("AUTH PLAIN " + Buffer.from("\0carol@example.test\0carol-secret").toString("base64")), /^\+OK/);
    await c.cmd("QUIT");
  });

  it("AUTH LOGIN and implicit TLS on pop3s", async () => {
    const c = await Pop3Client.open(pop3s, "127.0.0.3", true);
    assert.match(await c.cmd("AUTH LOGIN"), /^\+ VXNlcm5hbWU6/);
    assert.match(await c.cmd(Buffer.from("carol@example.test").toString("base64")), /^\+ UGFzc3dvcmQ6/);
    assert.match(await c.cmd(Buffer.from("carol-secret").toString("base64")), /^\+OK/);
    assert.match(await c.cmd("STAT"), /^\+OK 0 0/);
    await c.cmd("QUIT");
  });

  it("gives one generic -ERR [AUTH] for wrong user or password, then blocks the address, not the user", async () => {
    const c = await Pop3Client.open(pop3, "127.0.0.4");
    await c.cmd("USER nobody@example.test");
    const unknownUser = await c.cmd("PASS whatever");
    await c.cmd("USER dave@example.test");
    const wrongPassword = await c.cmd("PASS wrong");
    assert.match(unknownUser, /^-ERR \[AUTH\] /);
    assert.equal(unknownUser, wrongPassword, "the reply must not say which half was wrong");
    c.close();
    // More failures from 127.0.0.4, in parallel, until it is blocked.
    const attempts = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const a = await Pop3Client.open(pop3, "127.0.0.4");
        await a.cmd("USER dave@example.test");
        const r = await a.cmd("PASS wrong");
        a.close();
        return r;
      }),
    );
    assert.ok(attempts.some((r) => r.startsWith("-ERR")));
    const blocked = await Pop3Client.open(pop3, "127.0.0.4");
    await blocked.cmd("USER dave@example.test");
    assert.match(await blocked.cmd("PASS dave-secret"), /^-ERR \[SYS\/TEMP\]/, "the right password from a blocked address is refused too");
    blocked.close();
    const other = await Pop3Client.open(pop3, "127.0.0.1");
    await other.cmd("USER dave@example.test");
    assert.match(await other.cmd("PASS dave-secret"), /^\+OK/, "the user logs in at once from another address");
    await other.cmd("QUIT");
  });

  it("answers unknown commands and commands in the wrong state with -ERR and closes after too many", async () => {
    const c = await Pop3Client.open(pop3);
    assert.match(await c.cmd("STAT"), /^-ERR/);
    assert.match(await c.cmd("FROB"), /^-ERR/);
    for (let i = 0; i < 10; i++) c.socket.write("FROB\r\n");
    await c.closed();
  });

  it("survives random and near-valid command sequences (live fuzz)", async () => {
    const verbs = ["USER", "PASS", "STAT", "LIST", "RETR", "DELE", "TOP", "UIDL", "RSET", "NOOP", "CAPA", "AUTH", "APOP", "XYZ"];
    const arg = fc.oneof(fc.nat({ max: 5 }).map(String), fc.integer().map(String), fc.string({ maxLength: 20 }), fc.constant("erin@example.test"), fc.constant("erin-secret"), fc.constant("PLAIN"));
    const line = fc.oneof(
      fc.tuple(fc.constantFrom(...verbs), fc.array(arg, { maxLength: 3 })).map(([v, a]) => [v, ...a].join(" ")),
      fc.string({ unit: "binary", maxLength: 200 }).map((t) => t.replace(/[\r\n]/g, "")),
    );
    const script = fc.array(line, { minLength: 1, maxLength: 12 }).map((lines) => ["USER erin@example.test", "PASS erin-secret", ...lines]);
    await server.cli(["user", "add", "erin@example.test", "--password-stdin"], "erin-secret\n");
    await deliver("erin@example.test", "fuzz", ".dot\r\nbody\r\n");
    const errorsBefore = server.entries.filter((e) => e.msg === "session error").length;
    await fc.assert(
      fc.asyncProperty(script, async (lines) => {
        const c = await Pop3Client.open(pop3, "127.0.0.9"); // failures here block only this address
        c.socket.write(lines.map((l) => `${l}\r\n`).join("") + "QUIT\r\n");
        await c.closed();
        const text = (c as unknown as { buffer: string }).buffer;
        for (const l of text.split("\r\n").filter((x) => /^[+-]/.test(x))) assert.match(l, /^(\+OK|-ERR|\+ |\+$)/);
      }),
      { numRuns: 60 },
    );
    assert.equal(server.entries.filter((e) => e.msg === "session error").length, errorsBefore, "no session crashed");
    const c = await Pop3Client.open(pop3);
    await c.cmd("USER erin@example.test");
    assert.match(await c.cmd("PASS erin-secret"), /^\+OK/);
    await c.cmd("QUIT");
  });

  it("works with Python's poplib over STLS and pop3s", async () => {
    const script = `
import poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3("127.0.0.1", int(sys.argv[1])); p.stls(ctx)
p.user("alice@example.test"); p.pass_("alice-secret")
count, size = p.stat()
sizes = [int(x.split()[1]) for x in p.list()[1]]
got = [sum(len(l) + 2 for l in p.retr(i + 1)[1]) for i in range(count)]
print(count, size, sum(sizes), sizes == got, p.uidl()[1][0].decode())
p.quit()
s = poplib.POP3_SSL("127.0.0.1", int(sys.argv[2]), context=ctx)
s.user("alice@example.test"); s.pass_("alice-secret"); print(s.stat()[0]); s.quit()
`;
    const r = await run("python3", ["-c", script, String(pop3), String(pop3s)]);
    assert.equal(r.code, 0, r.stderr);
    const [line1, line2] = r.stdout.trim().split("\n");
    const [count, size, sum, same, ...uidlParts] = line1.split(" ");
    const uidl = uidlParts.join(" ");
    assert.equal(count, "2");
    assert.equal(size, sum);
    assert.equal(same, "True", "poplib's octet counts equal LIST sizes");
    assert.match(uidl, /^1 \d+\.\d+$/);
    assert.equal(line2, "2");
  });

  it("works with curl pop3:// and pop3s://", async () => {
    const list = await run("curl", ["-s", "--user", "alice@example.test:alice-secret", `pop3://127.0.0.1:${pop3}/`]);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(list.stdout.trim().split(/\r?\n/).length, 2);
    const retr = await run("curl", ["-s", "-k", "--user", "alice@example.test:alice-secret", `pop3s://127.0.0.1:${pop3s}/1`]);
    assert.equal(retr.code, 0, retr.stderr);
    assert.match(retr.stdout, /Subject: one/);
    assert.match(retr.stdout, /\r\n\.leading dot\r\n\.\.two dots\r\n/, "curl undoes the dot-stuffing");
  });
});
