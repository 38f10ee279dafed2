// fetchmail (the Debian package) really retrieving from Petrel's POP3: mail
// delivered over SMTP (a line starting with ".", 8-bit text) is fetched into a
// local file through an MDA and must arrive byte for byte as RETR gives it
// (dots unstuffed; fetchmail hands its MDA LF line ends). --nokeep deletes at
// QUIT (STAT 0 afterwards); --keep over implicit TLS (pop3s, self-signed,
// sslcertck off) leaves the maildrop alone. Private rc file (0600), HOME and
// FETCHMAILHOME in a temp dir, no syslog. Skipped when fetchmail is missing.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { connect as smtpConnect } from "../helpers/smtp-client.js";

const FETCHMAIL_TIMEOUT = 60_000;
const haveFetchmail = !spawnSync("fetchmail", ["--version"], { stdio: "ignore", timeout: 10_000 }).error;

/** A raw POP3 client over bytes: login, STAT, RETR (unstuffed), QUIT. */
async function pop3Session(port: number, user: string, password: string) {
  const socket = net.connect({ host: "127.0.0.1", port });
  let buffer = Buffer.alloc(0);
  let closed = false;
  let wake: (() => void) | undefined;
  socket.on("data", (d: Buffer) => {
    buffer = Buffer.concat([buffer, d]);
    wake?.();
  });
  socket.on("close", () => {
    closed = true;
    wake?.();
  });
  socket.on("error", () => {});
  const take = async (find: () => number): Promise<Buffer> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const end = find();
      if (end >= 0) {
        const out = buffer.subarray(0, end);
        buffer = buffer.subarray(end);
        return out;
      }
      if (closed) throw new Error(`POP3 connection closed; unread: ${JSON.stringify(buffer.toString("latin1"))}`);
      if (Date.now() > deadline) throw new Error(`POP3 timeout; unread: ${JSON.stringify(buffer.toString("latin1").slice(0, 200))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  const line = async () => (await take(() => { const i = buffer.indexOf("\r\n"); return i === -1 ? -1 : i + 2; })).toString("latin1");
  const cmd = async (text: string) => {
    socket.write(`${text}\r\n`);
    const reply = await line();
    assert.match(reply, /^\+OK/, `${text.split(" ")[0]}: ${reply}`);
    return reply;
  };
  await line();
  await cmd(`USER ${user}`);
  await cmd(`PASS ${password}`);
  return {
    async stat(): Promise<number> {
      return Number(/^\+OK (\d+)/.exec(await cmd("STAT"))![1]);
    },
    /** Message n as stored: the multi-line response with its dot-stuffing undone. */
    async retr(n: number): Promise<Buffer> {
      await cmd(`RETR ${n}`);
      const body = await take(() => {
        if (buffer.subarray(0, 3).toString() === ".\r\n") return 3;
        const i = buffer.indexOf("\r\n.\r\n");
        return i === -1 ? -1 : i + 5;
      });
      return Buffer.from(body.subarray(0, body.length - 3).toString("latin1").replace(/^\./gm, ""), "latin1");
    },
    async quit(): Promise<void> {
      await cmd("QUIT");
      socket.destroy();
    },
  };
}

describe("fetchmail against Petrel's POP3", { skip: haveFetchmail ? false : "fetchmail is not installed (Debian package fetchmail; .ci/run installs it)" }, () => {
  let server: PetrelServer;
  let home: string;
  const bodies = {
    dots: "first line\r\n.leading dot\r\n..two dots\r\n.\r\nlast\r\n",
    eightBit: "caf\u00e9 8-bit \u00fc \u2603\r\nline 2\r\n",
    short: "short\r\n",
  };

  async function deliver(to: string, subject: string, body: string): Promise<void> {
    const c = await smtpConnect("127.0.0.1", server.listeners.smtp.port);
    await c.read();
    await c.send("EHLO client.test");
    await c.read();
    const message = `Subject: ${subject}\r\nFrom: a@client.test\r\nTo: ${to}\r\n\r\n${body}`;
    await c.write(`MAIL FROM:<a@client.test>\r\nRCPT TO:<${to}>\r\nDATA\r\n`);
    for (let i = 0; i < 3; i++) await c.read();
    await c.write(Buffer.from(`${message.replace(/^\./gm, "..")}.\r\n`, "utf8"));
    const reply = await c.read();
    const qid = /queued as (\S+)/.exec(reply)?.[1];
    assert.ok(qid, reply);
    await c.send("QUIT");
    c.close();
    await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid, 20_000);
  }

  /** Runs fetchmail with a private rc file; returns the messages its MDA appended to the output file, in order. */
  async function fetchmail(name: string, lines: string[], flags: string[]): Promise<Buffer[]> {
    const dir = fs.mkdtempSync(path.join(home, `${name}-`));
    const out = path.join(dir, "mail.out");
    const rc = path.join(dir, "fetchmailrc");
    const rcText = [
      "set no syslog",
      "set invisible", // no Received: line of fetchmail's own, so what arrives is exactly what RETR gave
      ...lines,
      `  mda "/bin/sh -c '{ echo ==BEGIN==; cat; echo ==END==; } >> ${out}'"`,
      "",
    ].join("\n");
    fs.writeFileSync(rc, rcText, { mode: 0o600 });
    fs.chmodSync(rc, 0o600);
    const result = await new Promise<{ code: number | string; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "fetchmail",
        ["-f", rc, "--nosyslog", "-v", ...flags],
        { env: { ...process.env, HOME: dir, FETCHMAILHOME: dir, LC_ALL: "C" }, timeout: FETCHMAIL_TIMEOUT, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as NodeJS.ErrnoException).code ?? (err as { signal?: string }).signal ?? 1) : 0, stdout, stderr }),
      );
    });
    assert.equal(result.code, 0, `fetchmail exit ${result.code} (0 = mail retrieved)\n${result.stdout}\n${result.stderr}`);
    const text = fs.readFileSync(out).toString("latin1");
    const messages = [...text.matchAll(/==BEGIN==\n([\s\S]*?)==END==\n/g)].map((m) => Buffer.from(m[1], "latin1"));
    assert.equal(text.split("==BEGIN==\n").length - 1, messages.length, "every message framed");
    return messages;
  }

  /** The user's messages as RETR gives them, with CRLF turned into LF (what fetchmail hands an MDA). */
  async function storedAsLf(user: string, password: string): Promise<Buffer[]> {
    const s = await pop3Session(server.listeners.pop3.port, user, password);
    const n = await s.stat();
    const out: Buffer[] = [];
    for (let i = 1; i <= n; i++) out.push(Buffer.from((await s.retr(i)).toString("latin1").replace(/\r\n/g, "\n"), "latin1"));
    await s.quit();
    return out;
  }

  async function stat(user: string, password: string): Promise<number> {
    const s = await pop3Session(server.listeners.pop3.port, user, password);
    const n = await s.stat();
    await s.quit();
    return n;
  }

  const lf = (text: string) => Buffer.from(text.replace(/\r\n/g, "\n"), "utf8");

  function assertSent(got: Buffer[], to: string) {
    const sent = [
      `Subject: dots\r\nFrom: a@client.test\r\nTo: ${to}\r\n\r\n${bodies.dots}`,
      `Subject: eight-bit\r\nFrom: a@client.test\r\nTo: ${to}\r\n\r\n${bodies.eightBit}`,
      `Subject: short\r\nFrom: a@client.test\r\nTo: ${to}\r\n\r\n${bodies.short}`,
    ];
    assert.equal(got.length, 3);
    sent.forEach((message, i) => {
      const tail = lf(message);
      assert.ok(
        got[i].subarray(got[i].length - tail.length).equals(tail),
        `message ${i + 1} ends with what was sent (dots unstuffed, 8-bit intact):\n${JSON.stringify(got[i].toString("latin1"))}`,
      );
    });
    assert.match(got[0].toString("latin1"), /\n\.leading dot\n\.\.two dots\n\.\nlast\n$/);
    assert.ok(got[1].includes(Buffer.from("caf\u00e9 8-bit \u00fc \u2603\n", "utf8")), "8-bit UTF-8 bytes untouched");
  }

  before(async () => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "petrel-fetchmail-"));
    server = await startPetrel({ listeners: ["smtp", "pop3", "pop3s"], extraToml: `[auth]\nplaintext_networks = ["127.0.0.0/8"]\n` });
    assert.equal((await server.cli(["domain", "add", "example.test"])).code, 0);
    for (const u of ["fred", "gina"]) {
      assert.equal((await server.cli(["user", "add", `${u}@example.test`, "--password-stdin"], `${u}-pw secret\n`)).code, 0);
    }
  });
  after(async () => {
    await server?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it("--nokeep over POP3: the file holds the 3 messages exactly, and QUIT deleted them", async () => {
    const user = "fred@example.test";
    const password = "fred-pw secret"; // a space: PASS takes the rest of the line
    await deliver(user, "dots", bodies.dots);
    await deliver(user, "eight-bit", bodies.eightBit);
    await deliver(user, "short", bodies.short);
    const expected = await storedAsLf(user, password);
    assert.equal(expected.length, 3);
    const got = await fetchmail(
      "nokeep",
      [
        `poll 127.0.0.1 protocol pop3 port ${server.listeners.pop3.port} auth password timeout 20`,
        // sslproto '' keeps fetchmail from taking the offered STLS (its certificate check would refuse ours)
        `  user "${user}" there with password "${password}" is "${os.userInfo().username}" here`,
        "  options fetchall no rewrite sslproto ''",
      ],
      ["--nokeep"],
    );
    assert.deepEqual(got.map((m) => m.toString("latin1")), expected.map((m) => m.toString("latin1")), "fetched exactly what RETR gives");
    assertSent(got, user);
    assert.equal(await stat(user, password), 0, "deleted on QUIT");
  });

  it("--keep over implicit TLS (pop3s, sslcertck off): fetched, and still on the server", async () => {
    const user = "gina@example.test";
    const password = "gina-pw secret";
    await deliver(user, "dots", bodies.dots);
    await deliver(user, "eight-bit", bodies.eightBit);
    await deliver(user, "short", bodies.short);
    const expected = await storedAsLf(user, password);
    const got = await fetchmail(
      "keep",
      [
        `poll 127.0.0.1 protocol pop3 port ${server.listeners.pop3s.port} auth password timeout 20`,
        `  user "${user}" there with password "${password}" is "${os.userInfo().username}" here`,
        "  options fetchall no rewrite ssl no sslcertck",
      ],
      ["--keep"],
    );
    assert.deepEqual(got.map((m) => m.toString("latin1")), expected.map((m) => m.toString("latin1")), "fetched exactly what RETR gives");
    assertSent(got, user);
    assert.equal(await stat(user, password), 3, "kept on the server");
  });
});
