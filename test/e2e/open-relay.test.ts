// Open-relay battery: classic tricks used to make a mail server relay for
// strangers, each tried from an outsider address (127.0.0.2, outside
// relay.networks = 127.0.0.5/32) under several EHLO names (our own name,
// "localhost", an address literal, a local domain, a random name). Every
// recipient must be refused (5xx) or — where RFC 5321 makes the address local
// (source route ending in a local mailbox, catch-all domain, bare Postmaster…)
// — delivered to the existing local user only. Afterwards `petrel queue list
// --json` must hold nothing for another domain, and the logs must show every
// policy refusal and no queued message from the outsider except the local ones.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startPetrel, type PetrelServer } from "../helpers/petrel.js";
import { connectFrom, expectReply as expect } from "../helpers/smtp-client.js";

// ------------------------------------------------------------ raw client from any loopback address

const rawConnect = connectFrom;


// ------------------------------------------------------------ the battery

const OUTSIDER = "127.0.0.2";
const LOCAL_DOMAINS = ["example.test", "catchall.test"];
const ALICE = "alice@example.test";
const HELO_NAMES = ["mx.test", "localhost", "[127.0.0.1]", "example.test", `h${randomBytes(4).toString("hex")}.random.invalid`];

interface Trick {
  name: string;
  /** Upgrade with STARTTLS (and EHLO again) first. */
  tls?: boolean;
  /** Commands after EHLO and before MAIL, each with the reply it must get. */
  pre?: [string, RegExp][];
  /** The MAIL argument; default FROM:<probe@outside.test>. */
  mail?: string;
  /** RCPT arguments, each with the local user it must reach, or null: must be refused (5xx). */
  rcpts: [string, string | null][];
}

const authPlain = (user: string, password: string) => Buffer.from(`\0${user}\0${password}`).toString("base64");
const UTF8 = "FROM:<probe@outside.test> SMTPUTF8";

const TRICKS: Trick[] = [
  { name: "plain remote domain", rcpts: [["TO:<user@remote.test>", null]] },
  { name: "upper-case remote domain", rcpts: [["TO:<USER@REMOTE.TEST>", null]] },
  { name: "percent hack user%remote.test@example.test", rcpts: [["TO:<user%remote.test@example.test>", null]] },
  { name: "double percent hack", rcpts: [["TO:<user%remote.test%other.test@example.test>", null]] },
  { name: "percent hack to a catch-all domain: local", rcpts: [["TO:<user%remote.test@catchall.test>", ALICE]] },
  { name: "bang path remote.test!user@example.test", rcpts: [["TO:<remote.test!user@example.test>", null]] },
  { name: "bang path to a catch-all domain: local", rcpts: [["TO:<remote.test!user@catchall.test>", ALICE]] },
  { name: "bare bang path remote.test!user", rcpts: [["TO:<remote.test!user>", null]] },
  { name: "source route <@example.test:user@remote.test>", rcpts: [["TO:<@example.test:user@remote.test>", null]] },
  { name: "source route with several hops", rcpts: [["TO:<@mx.test,@example.test,@[127.0.0.1]:user@remote.test>", null]] },
  { name: "source route through a stranger to a local mailbox: local", rcpts: [["TO:<@remote.test,@relay.remote.test:alice@example.test>", ALICE]] },
  { name: 'quoted local part "user@remote.test"@example.test', rcpts: [['TO:<"user@remote.test"@example.test>', null]] },
  { name: 'quoted "user%remote.test"@example.test', rcpts: [['TO:<"user%remote.test"@example.test>', null]] },
  { name: 'quoted "user@remote.test" to a catch-all domain: local', rcpts: [['TO:<"user@remote.test"@catchall.test>', ALICE]] },
  { name: 'quoted local part hiding brackets "<user@remote.test>"@example.test', rcpts: [['TO:<"<user@remote.test>"@example.test>', null]] },
  { name: "IP literal user@[127.0.0.1]", rcpts: [["TO:<user@[127.0.0.1]>", null]] },
  { name: "IP literal user@[192.0.2.1]", rcpts: [["TO:<user@[192.0.2.1]>", null]] },
  { name: "IPv6 literal user@[IPv6:::1]", rcpts: [["TO:<user@[IPv6:::1]>", null]] },
  { name: "trailing dot user@remote.test.", rcpts: [["TO:<user@remote.test.>", null]] },
  { name: "local domain with a trailing dot", rcpts: [["TO:<alice@example.test.>", null]] },
  { name: "several @ (remote last)", rcpts: [["TO:<alice@example.test@remote.test>", null]] },
  { name: "several @ (local last)", rcpts: [["TO:<user@remote.test@example.test>", null]] },
  { name: "missing angle brackets, remote", rcpts: [["TO:user@remote.test", null]] },
  { name: "missing angle brackets, local: local", rcpts: [["TO:alice@example.test", ALICE]] },
  { name: "blank after the colon", rcpts: [["TO: <user@remote.test>", null]] },
  { name: "parameters after the address", rcpts: [["TO:<user@remote.test> NOTIFY=NEVER", null], ["TO:<user@remote.test> ORCPT=rfc822;alice@example.test", null], ["TO:<user@remote.test> X-RELAY=yes", null]] },
  { name: "a second address after a local one", rcpts: [["TO:<alice@example.test> <user@remote.test>", null], ["TO:<alice@example.test>,<user@remote.test>", null], ["TO:<alice@example.test>user@remote.test", null]] },
  { name: "unclosed bracket", rcpts: [["TO:<user@remote.test", null]] },
  { name: "stray CR before CRLF", rcpts: [["TO:<user@remote.test>\r", null]] },
  { name: "IDN remote domain with SMTPUTF8", mail: UTF8, rcpts: [["TO:<用户@例子.测试>", null], ["TO:<user@bücher.test>", null]] },
  { name: "IDN remote domain without SMTPUTF8", rcpts: [["TO:<user@bücher.test>", null]] },
  { name: "homoglyph of the local domain (Cyrillic а)", mail: UTF8, rcpts: [["TO:<alice@exаmple.test>", null]] },
  { name: "full-width @ and dot", mail: UTF8, rcpts: [["TO:<user＠remote.test@example.test>", null], ["TO:<user@remote．test>", null], ["TO:<alice@example．test>", null]] },
  { name: "lookalike domain example.test.remote.test", rcpts: [["TO:<alice@example.test.remote.test>", null], ["TO:<alice@remote.example.test>", null], ["TO:<alice@example.testremote.test>", null]] },
  { name: "postmaster@remote.test", rcpts: [["TO:<postmaster@remote.test>", null]] },
  { name: "bare <Postmaster> (RFC 5321 §4.1.1.3): local", rcpts: [["TO:<Postmaster>", ALICE]] },
  { name: "empty local part", rcpts: [["TO:<@remote.test>", null], ['TO:<""@remote.test>', null], ["TO:<>", null]] },
  { name: "sub-address carrying a remote address: local", rcpts: [["TO:<alice+user=remote.test@example.test>", ALICE]] },
  { name: "local and remote recipients in one transaction", rcpts: [["TO:<alice@example.test>", ALICE], ["TO:<user@remote.test>", null], ["TO:<bob@example.test>", "bob@example.test"]] },
  { name: "XCLIENT ADDR=127.0.0.5 (not honoured)", pre: [["XCLIENT ADDR=127.0.0.5 NAME=trusted.remote.test", /^5\d\d /]], rcpts: [["TO:<user@remote.test>", null]] },
  { name: "XFORWARD ADDR=127.0.0.5 (not honoured)", pre: [["XFORWARD ADDR=127.0.0.5 NAME=trusted.remote.test PROTO=ESMTP", /^5\d\d /]], rcpts: [["TO:<user@remote.test>", null]] },
  { name: "MAIL FROM a local address, RCPT remote", mail: "FROM:<alice@example.test>", rcpts: [["TO:<user@remote.test>", null]] },
  { name: "MAIL FROM:<> (a bounce), RCPT remote", mail: "FROM:<>", rcpts: [["TO:<user@remote.test>", null]] },
  { name: "MAIL FROM with AUTH=<local user>, RCPT remote", mail: "FROM:<alice@example.test> AUTH=alice@example.test", rcpts: [] },
  { name: "AUTH with wrong credentials, then RCPT remote", pre: [[`AUTH PLAIN ${authPlain(ALICE, "wrong password")}`, /^535 5\.7\.8 /]], rcpts: [["TO:<user@remote.test>", null]] },
  { name: "AUTH aborted, then RCPT remote", pre: [["AUTH LOGIN", /^334 /], ["*", /^501 /]], rcpts: [["TO:<user@remote.test>", null]] },
  { name: "AUTH with an authzid naming another user", pre: [[`AUTH PLAIN ${Buffer.from(`${ALICE}\0bob@example.test\0wrong`).toString("base64")}`, /^535 5\.7\.8 /]], rcpts: [["TO:<user@remote.test>", null]] },
  { name: "after STARTTLS (TLS is no credential)", tls: true, rcpts: [["TO:<user@remote.test>", null]] },
  { name: "after RSET and a second MAIL", pre: [["MAIL FROM:<a@outside.test>", /^250 /], ["RSET", /^250 /]], rcpts: [["TO:<user@remote.test>", null]] },
];

interface Probe {
  trick: string;
  helo: string;
  rcpt: string;
  reply: string;
}

/** Everything the battery saw, for the checks at the end. */
const probes: Probe[] = [];
const localQids = new Map<string, string[]>();
/** Messages that got past RCPT with a recipient that should have been refused (none, unless Petrel relays). */
const relayedQids = new Set<string>();

let server: PetrelServer;

before(async () => {
  server = await startPetrel({
    listeners: ["smtp"],
    extraToml: `
[relay]
networks = ["127.0.0.5/32"]
[auth]
failure_delay = "10ms"
max_failures = 1000
[smtp]
max_errors = 100
`,
  });
  const ok = async (args: string[], stdin?: string) => {
    const r = await server.cli(args, stdin);
    assert.equal(r.code, 0, `petrel ${args.join(" ")}: ${r.stderr}`);
  };
  for (const d of LOCAL_DOMAINS) await ok(["domain", "add", d]);
  await ok(["user", "add", ALICE, "--password-stdin"], "alice-pw-91c2\n");
  await ok(["user", "add", "bob@example.test", "--password-stdin"], "bob-pw-4d7a\n");
  await ok(["alias", "add", "@catchall.test", ALICE]);
});

after(async () => {
  await server?.close();
});

/** One trick under one EHLO name, in its own connection from the outsider address. */
async function runTrick(trick: Trick, helo: string): Promise<void> {
  const c = await rawConnect(server.listeners.smtp, { from: OUTSIDER });
  const where = `[${trick.name} / EHLO ${helo}]`;
  try {
    assert.match(await c.read(), /^220 /);
    await expect(c, `EHLO ${helo}`, /^250-mx\.test/);
    if (trick.tls) {
      await expect(c, "STARTTLS", /^220 /);
      await c.startTls();
      await expect(c, `EHLO ${helo}`, /^250-mx\.test/);
    }
    for (const [line, pattern] of trick.pre ?? []) await expect(c, line, pattern);
    await c.send(`MAIL ${trick.mail ?? "FROM:<probe@outside.test>"}`);
    const mail = await c.read();
    if (trick.rcpts.length === 0) {
      // A MAIL parameter claiming an identity: refused, or ignored (then RCPT remote is still refused).
      if (/^5\d\d /.test(mail)) return;
      assert.match(mail, /^250 /, where);
      trick = { ...trick, rcpts: [["TO:<user@remote.test>", null]] };
    } else {
      assert.match(mail, /^250 /, `${where} MAIL`);
    }
    const accepted: string[] = [];
    const wrong: string[] = [];
    for (const [arg, local] of trick.rcpts) {
      const mark = server.entries.length;
      await c.send(`RCPT ${arg}`);
      const reply = await c.read();
      probes.push({ trick: trick.name, helo, rcpt: arg, reply });
      if (reply.startsWith("250")) accepted.push(local ?? `(relayed!) ${arg}`);
      if (local === null) {
        if (!/^5\d\d [245]\.\d{1,3}\.\d{1,3} /.test(reply)) wrong.push(`RCPT ${arg} must be refused, got: ${reply}`);
        if (/^55[04] /.test(reply)) {
          // A policy refusal is logged with the client and the code.
          await server.waitForLog((e) => e.msg === "recipient rejected" && e.client === OUTSIDER && e.reply === Number(reply.slice(0, 3)), 5_000, mark);
        }
      } else if (!/^250 2\.1\.5 /.test(reply)) {
        wrong.push(`RCPT ${arg} is local (${local}), got: ${reply}`);
      }
    }
    if (accepted.length > 0) {
      // Something was accepted: send the message, so that anything wrongly accepted also shows in the queue.
      await expect(c, "DATA", /^354 /);
      await c.write(`From: probe@outside.test\r\nTo: undisclosed-recipients:;\r\nSubject: open relay probe: ${trick.name} / ${helo}\r\n\r\nprobe\r\n.\r\n`);
      const done = await c.read();
      const m = /^250 2\.0\.0 Ok: queued as (\S+)/.exec(done);
      assert.ok(m, `${where} DATA: ${done}`);
      const qid = m[1];
      if (wrong.length > 0) relayedQids.add(qid);
      else {
        localQids.set(qid, accepted);
        const wanted = [...new Set(accepted)];
        for (const user of wanted) await server.waitForLog((e) => e.msg === "delivered" && e.qid === qid && e.mailbox === `${user}/INBOX`, 10_000);
        const queued = await server.waitForLog((e) => e.msg === "queued" && e.qid === qid);
        assert.equal(queued.nrcpt, wanted.length, `${where}: one queue recipient per local mailbox`);
      }
    }
    assert.deepEqual(wrong, [], where);
  } finally {
    await c.send("QUIT").catch(() => {});
    c.close();
  }
}

describe(`open-relay battery from ${OUTSIDER} (EHLO ${HELO_NAMES.join(", ")})`, () => {
  test("the battery has at least 20 tricks", () => {
    assert.ok(TRICKS.length >= 20, `${TRICKS.length} tricks`);
  });
  for (const trick of TRICKS) {
    test(trick.name, async () => {
      for (const helo of HELO_NAMES) await runTrick(trick, helo);
    });
  }
});

describe("after the battery", () => {
  test("petrel queue list --json: nothing waits for another domain", async () => {
    assert.ok(probes.length >= TRICKS.length * HELO_NAMES.length, "the battery must have run");
    const r = await server.cli(["queue", "list", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { id: string; recipients: string[]; state: string }[];
    const foreign = rows.flatMap((row) => row.recipients.filter((to) => !LOCAL_DOMAINS.includes(to.slice(to.lastIndexOf("@") + 1).toLowerCase())).map((to) => `${row.id} → ${to} (${row.state})`));
    assert.deepEqual(foreign, [], "queued for a non-local domain");
    const outbound = server.entries.filter((e) => ["sent", "delivery deferred", "delivery failed"].includes(String(e.msg)) && e.relay !== "local");
    assert.deepEqual(outbound, [], "no message may have been handed to outbound delivery");
  });

  test("the logs: every policy refusal logged, and only the local probes were queued, each delivered locally", async () => {
    const refused = probes.filter((p) => /^5\d\d /.test(p.reply));
    const accepted = probes.filter((p) => p.reply.startsWith("250"));
    assert.equal(refused.length + accepted.length, probes.length, "every RCPT was answered 250 or 5xx");
    const policy = refused.filter((p) => /^55[04] /.test(p.reply)).length;
    const logged = server.entries.filter((e) => e.msg === "recipient rejected" && e.client === OUTSIDER);
    assert.equal(logged.length, policy, "one 'recipient rejected' line per 550/554 answer");
    for (const e of logged) assert.ok(e.reply === 550 || e.reply === 554, JSON.stringify(e));
    const queued = server.entries.filter((e) => e.msg === "queued" && (e.origin as { client?: string } | undefined)?.client === OUTSIDER);
    assert.deepEqual([...relayedQids], [], "messages accepted with a recipient that should have been refused");
    assert.deepEqual(queued.map((e) => e.qid).sort(), [...localQids.keys()].sort(), "queued messages from the outsider");
    for (const e of server.entries.filter((x) => x.msg === "delivered" && localQids.has(x.qid as string))) {
      assert.ok(localQids.get(e.qid as string)!.map((u) => `${u}/INBOX`).includes(String(e.mailbox)), JSON.stringify(e));
      assert.equal(e.relay, "local");
    }
    // Tell the reader what was refused how.
    const byCode = new Map<string, number>();
    for (const p of refused) byCode.set(p.reply.slice(0, 9), (byCode.get(p.reply.slice(0, 9)) ?? 0) + 1);
    assert.ok(byCode.size > 0);
  });
});
