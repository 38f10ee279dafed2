// Crash safety of outbound delivery, end to end: a real `petrel serve` with a
// few hundred messages queued for a host that is down is killed with SIGKILL,
// started again, the host comes up, and every message must arrive exactly
// once. Then the harder case: SIGKILL while deliveries hang mid-transaction
// (the message data sent, the final reply never read). A message the remote
// never acknowledged with 2xx was not accepted, so it must be sent again; a
// message must never be sent twice to a server that accepted it, and never
// dropped. Duplicates are counted per Message-ID among accepted transactions.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startPetrel, type LogEntry, type PetrelServer } from "../helpers/petrel.js";
import { startSink, type SinkHandle, type SinkTransaction } from "../helpers/smtp-sink.js";
import { sendMessages } from "../helpers/submit.js";

/**
 * Sends `count` messages, to user0@DOMAIN and on, each with its own
 * Message-ID, over `sessions` parallel sessions of several messages each;
 * checks each got its own queue id and returns the Message-IDs and queue ids.
 */
async function sendNumbered(server: PetrelServer, domain: string, count: number, sessions: number): Promise<{ messageIds: string[]; qids: string[] }> {
  const messages = Array.from({ length: count }, (_, i) => ({
    from: "sender@client.test",
    to: [`user${i}@${domain}`],
    subject: "crash test",
    messageId: `${i}-${process.pid}@${domain}`,
  }));
  const per = Math.ceil(count / sessions);
  const batches: (typeof messages)[] = [];
  for (let i = 0; i < count; i += per) batches.push(messages.slice(i, i + per));
  const sent = await Promise.all(batches.map((batch) => sendMessages(server, batch, { queueTimeoutMs: 30_000 })));
  const qids = sent.flat().map((m) => m.qid);
  assert.equal(new Set(qids).size, count);
  return { messageIds: messages.map((m) => m.messageId), qids };
}

/** Petrel whose only MX for `domain` is mx.DOMAIN at address:port; a deferred message is retried after an hour. */
function startWithMx(domain: string, address: string, port: number): Promise<PetrelServer> {
  return startPetrel({
    dnsRecords: { mx: { [domain]: [{ preference: 10, exchange: `mx.${domain}` }] }, a: { [`mx.${domain}`]: [address] } },
    extraToml: `[delivery]\nremote_port = ${port}\nconnect_timeout = "5s"\n[queue]\nretry_schedule = ["1h"]\n`,
  });
}

/** Waits until log entries (from index `from`) with message `msg` name at least n distinct queue ids; returns those ids. */
async function waitForDistinct(server: PetrelServer, msg: string, n: number, timeoutMs: number, from = 0): Promise<Set<string>> {
  const seen = new Set<string>();
  await server.waitForLog((e: LogEntry) => {
    if (e.msg === msg && typeof e.qid === "string") seen.add(e.qid);
    return seen.size >= n;
  }, timeoutMs, from);
  return seen;
}

const messageIdOf = (data: Buffer): string | undefined => /^Message-ID: <([^>\r\n]+)>/im.exec(data.toString("latin1"))?.[1];

/** Message-ID → how many accepted (2xx) transactions carried it. */
function tally(transactions: SinkTransaction[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const tx of transactions) {
    const id = messageIdOf(tx.data) ?? "(no Message-ID)";
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Checks that every expected Message-ID was accepted exactly once and nothing else arrived. */
function assertExactlyOnce(transactions: SinkTransaction[], expected: string[]): void {
  const counts = tally(transactions);
  const missing = expected.filter((id) => !counts.has(id));
  const duplicates = [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id} x${n}`);
  const unexpected = [...counts.keys()].filter((id) => !expected.includes(id));
  assert.deepEqual({ missing, duplicates, unexpected }, { missing: [], duplicates: [], unexpected: [] });
  assert.equal(transactions.length, expected.length);
}

async function queueList(server: PetrelServer): Promise<{ id: string; state: string }[]> {
  const r = await server.cli(["queue", "list", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { id: string; state: string }[];
}

/** A free port on `host`, found by binding port 0 and closing again. */
async function reservePort(host: string): Promise<number> {
  const probe = await startSink({ host });
  const port = probe.port;
  await probe.close();
  return port;
}

describe("crash: a few hundred messages for a host that is down, kill -9, restart, host up", () => {
  const COUNT = 300;
  const MX_ADDRESS = "127.0.0.10";
  let server: PetrelServer;
  let sink: SinkHandle | undefined;
  let port: number;

  before(async () => {
    port = await reservePort(MX_ADDRESS);
    server = await startWithMx("crash.test", MX_ADDRESS, port);
  });
  after(async () => {
    await server?.close();
    await sink?.close();
  });

  it("every message is delivered exactly once", async (t) => {
    const { messageIds, qids } = await sendNumbered(server, "crash.test", COUNT, 10);

    // Nothing listens at mx.crash.test yet: every message is tried and deferred for an hour.
    const deferred = await waitForDistinct(server, "delivery deferred", COUNT, 60_000);
    assert.deepEqual([...deferred].sort(), [...qids].sort());
    assert.equal(server.entries.some((e) => e.msg === "sent" || e.msg === "delivery failed"), false);
    const sample = server.entries.find((e) => e.msg === "delivery deferred");
    assert.match(String(sample?.error), /^4\.4\.1 mx\.crash\.test\[127\.0\.0\.10\]/);

    await server.kill9();
    // On disk after the crash: all 300 still queued, deferred.
    const crashed = await queueList(server);
    assert.equal(crashed.length, COUNT);
    assert.deepEqual([...new Set(crashed.map((m) => m.state))], ["deferred"]);

    sink = await startSink({ host: MX_ADDRESS, port });
    const mark = server.entries.length;
    await server.restart();
    const flush = await server.cli(["queue", "flush"]);
    assert.equal(flush.code, 0, flush.stderr);
    assert.match(flush.stdout, new RegExp(`^${COUNT} recipient`));

    await sink.waitFor(COUNT, 60_000);
    const sent = await waitForDistinct(server, "sent", COUNT, 60_000, mark);
    assert.deepEqual([...sent].sort(), [...qids].sort());

    const counts = tally(sink.transactions);
    const duplicates = [...counts.values()].filter((n) => n > 1).length;
    t.diagnostic(`${sink.transactions.length} transactions, ${counts.size} distinct Message-IDs, ${duplicates} duplicated, over ${sink.connections} connections`);
    assertExactlyOnce(sink.transactions, messageIds);
    assert.equal(server.entries.slice(mark).some((e) => e.msg === "delivery failed" || e.msg === "sender notified"), false);
    assert.deepEqual(await queueList(server), []);
  });
});

/**
 * An SMTP server that takes one message per connection (no PIPELINING) and
 * never answers its final "." — the worst moment for a crash: the data is
 * all there, but the sender cannot know whether it was accepted. It counts
 * the messages it received in full (never acknowledged).
 */
async function startHangingServer(host: string, port = 0) {
  const sockets = new Set<net.Socket>();
  const unacknowledged: string[] = [];
  const waiters = new Set<() => void>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buf = "";
    let mode: "command" | "data" | "hung" = "command";
    socket.write("220 hang.test ESMTP\r\n");
    socket.on("data", (chunk: Buffer) => {
      if (mode === "hung") return;
      buf += chunk.toString("latin1");
      for (;;) {
        if (mode === "data") {
          const end = buf.indexOf("\r\n.\r\n");
          if (end === -1) return;
          const id = /^Message-ID: <([^>\r\n]+)>/im.exec(buf.slice(0, end))?.[1] ?? "(no Message-ID)";
          unacknowledged.push(id);
          waiters.forEach((w) => w());
          mode = "hung"; // the reply to "." never comes
          return;
        }
        const nl = buf.indexOf("\r\n");
        if (nl === -1) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.split(" ")[0].toUpperCase();
        if (verb === "DATA") {
          mode = "data";
          socket.write("354 go ahead\r\n");
        } else if (verb === "QUIT") {
          socket.end("221 bye\r\n");
          return;
        } else if (verb === "EHLO" || verb === "HELO") socket.write("250 hang.test\r\n");
        else socket.write("250 ok\r\n");
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    unacknowledged,
    waitForUnacknowledged(n: number, timeoutMs = 20_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (unacknowledged.length < n) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`hanging server: ${unacknowledged.length} of ${n} messages received`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close(): Promise<void> {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe("crash: kill -9 while deliveries hang after the data was sent", () => {
  const COUNT = 40;
  const MX_ADDRESS = "127.0.0.13";
  let server: PetrelServer;
  let hanging: Awaited<ReturnType<typeof startHangingServer>> | undefined;
  let sink: SinkHandle | undefined;
  let port: number;

  before(async () => {
    hanging = await startHangingServer(MX_ADDRESS);
    port = hanging.port;
    server = await startWithMx("hang.test", MX_ADDRESS, port);
  });
  after(async () => {
    await server?.close();
    await hanging?.close();
    await sink?.close();
  });

  it("messages in flight are sent again after the restart, each accepted exactly once", async (t) => {
    const { messageIds, qids } = await sendNumbered(server, "hang.test", COUNT, 4);

    // At least one delivery is stuck waiting for the reply to its final ".".
    await hanging!.waitForUnacknowledged(1);
    await server.kill9();
    const inFlight = [...hanging!.unacknowledged];
    assert.equal(new Set(inFlight).size, inFlight.length, "the hanging server got one message twice before the crash");
    assert.equal(server.entries.some((e) => e.msg === "sent" || e.msg === "delivery failed" || e.msg === "delivery deferred"), false);

    // Nothing was acknowledged, so nothing may have left the queue.
    const crashed = await queueList(server);
    assert.deepEqual(crashed.map((m) => m.id).sort(), [...qids].sort());
    assert.ok(crashed.every((m) => m.state === "active" || m.state === "incoming"), JSON.stringify(crashed.map((m) => m.state)));

    await hanging!.close();
    hanging = undefined;
    sink = await startSink({ host: MX_ADDRESS, port });
    const mark = server.entries.length;
    await server.restart();
    const recovered = await server.waitForLog((e) => e.msg === "recovered deliveries interrupted by a crash", 10_000, mark);
    assert.ok(Number(recovered.recipients) >= inFlight.length, JSON.stringify(recovered));
    const flush = await server.cli(["queue", "flush"]);
    assert.equal(flush.code, 0, flush.stderr);

    await sink.waitFor(COUNT, 30_000);
    const sent = await waitForDistinct(server, "sent", COUNT, 30_000, mark);
    assert.deepEqual([...sent].sort(), [...qids].sort());

    // The messages the hanging server had in full are the legitimate duplicate
    // candidates (a receiver that did take them would now have them twice);
    // it never said 2xx, so among accepted transactions each is there once.
    const counts = tally(sink.transactions);
    t.diagnostic(`${inFlight.length} message(s) received in full but unacknowledged before the crash (resent: ${inFlight.filter((id) => counts.has(id)).length}); ${sink.transactions.length} accepted transactions, ${[...counts.values()].filter((n) => n > 1).length} duplicated`);
    assertExactlyOnce(sink.transactions, messageIds);
    assert.equal(server.entries.slice(mark).some((e) => e.msg === "delivery failed" || e.msg === "sender notified"), false);
    assert.deepEqual(await queueList(server), []);
  });
});
