// The operator verbs (shared/OPERATOR.md) against a running `petrel serve`
// on the same data_dir: domain, user, alias and queue management taking
// effect without a restart (checked over SMTP and in the delivery log),
// --json output, the error contract (non-zero exit, exactly one line on
// stderr), passwords only on stdin, `petrel config check` and `petrel serve`
// refusing a configuration with an unknown key or a wrong type. Tests run
// concurrently, each on its own domain.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { runCli, startPetrel, type CliResult, type PetrelServer } from "../helpers/petrel.js";
import { connect } from "../helpers/smtp-client.js";

function ok(r: CliResult, what = "command"): string {
  assert.equal(r.code, 0, `${what} exited ${r.code}: ${r.stderr}`);
  assert.equal(r.stderr, "", `${what} wrote to stderr`);
  return r.stdout;
}

/** The error contract: non-zero exit, exactly one non-empty line on stderr. */
function fails(r: CliResult, pattern?: RegExp, what = "command"): void {
  assert.notEqual(r.code, 0, `${what} succeeded: ${r.stdout}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `${what}: expected one line on stderr, got ${JSON.stringify(r.stderr)}`);
  assert.notEqual(lines[0].trim(), "", `${what}: empty stderr`);
  if (pattern) assert.match(r.stderr, pattern, what);
}

function json<T>(r: CliResult, what = "command"): T {
  const out = ok(r, what);
  try {
    return JSON.parse(out) as T;
  } catch (err) {
    assert.fail(`${what} --json printed something that is not JSON (${(err as Error).message}): ${out}`);
  }
}

interface UserRow { address: string; quota: string; usage: string; created: string }
interface AliasRow { source: string; targets: string[] }
interface QueueRow { id: string; age: string; size: string; sender: string; recipients: string[]; state: string; last_error: string | null }

describe("operator CLI while the server runs", { concurrency: true }, () => {
  let server: PetrelServer;
  let tmp: string;

  before(async () => {
    // remote-queue.test's only MX refuses connections: its mail waits, deferred.
    server = await startPetrel({
      dnsRecords: { mx: { "remote-queue.test": [{ preference: 10, exchange: "down.remote-queue.test" }] }, a: { "down.remote-queue.test": ["127.0.0.250"] } },
      extraToml: "[delivery]\nremote_port = 9\n",
    });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "petrel-cli-"));
  });
  after(async () => {
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const cli = (args: string[], stdin?: string) => server.cli(args, stdin);
  const addUser = async (address: string, password = "a long password", extra: string[] = []) =>
    ok(await cli(["user", "add", address, "--password-stdin", ...extra], `${password}\n`), `user add ${address}`);

  /** One SMTP transaction; returns the RCPT reply and, when a recipient was accepted, the end-of-data reply. */
  async function smtp(rcpt: string, data = "Subject: test\r\n\r\nhello\r\n", from = "sender@client.test"): Promise<{ rcpt: string; end?: string; qid?: string }> {
    const { host, port } = server.listeners.smtp;
    const c = await connect(host, port);
    try {
      assert.match(await c.read(), /^220/);
      await c.send("EHLO client.test");
      assert.match(await c.read(), /^250/);
      await c.send(`MAIL FROM:<${from}>`);
      assert.match(await c.read(), /^250/);
      await c.send(`RCPT TO:<${rcpt}>`);
      const rcptReply = await c.read();
      if (!rcptReply.startsWith("250")) return { rcpt: rcptReply };
      await c.send("DATA");
      assert.match(await c.read(), /^354/);
      await c.write(`${data}.\r\n`);
      const end = await c.read();
      await c.send("QUIT");
      return { rcpt: rcptReply, end, qid: /queued as (\S+)/.exec(end)?.[1] };
    } finally {
      c.close();
    }
  }

  function db<T>(fn: (db: Database.Database) => T): T {
    const handle = new Database(path.join(server.dir, "data", "petrel.db"), { readonly: true, fileMustExist: true });
    try {
      return fn(handle);
    } finally {
      handle.close();
    }
  }

  const domainsInDb = () => db((d) => (d.prepare("SELECT name FROM domains").all() as { name: string }[]).map((r) => r.name));
  const usersInDb = (domain: string) =>
    db((d) => (d.prepare("SELECT address FROM users WHERE address LIKE ? ORDER BY address").all(`%@${domain}`) as { address: string }[]).map((r) => r.address));

  it("domain add / list / remove; remove is refused while users exist", async () => {
    assert.match(ok(await cli(["domain", "add", "dom.test"])), /dom\.test/);
    ok(await cli(["domain", "add", "Other-Dom.TEST"]));
    const listed = ok(await cli(["domain", "list"])).split("\n");
    assert.ok(listed.includes("dom.test") && listed.includes("other-dom.test"), `domain list: ${listed.join("|")}`);
    const domains = json<string[]>(await cli(["domain", "list", "--json"]));
    assert.ok(Array.isArray(domains) && domains.includes("dom.test") && domains.includes("other-dom.test"));
    fails(await cli(["domain", "add", "not a domain!"]), /not a domain!/);

    await addUser("someone@dom.test");
    fails(await cli(["domain", "remove", "dom.test"]), /1 user/);
    assert.ok(domainsInDb().includes("dom.test"), "refused remove still removed the domain");
    // The server still takes mail for it.
    assert.match((await smtp("someone@dom.test")).end ?? "", /^250/);

    ok(await cli(["domain", "remove", "other-dom.test"]));
    assert.ok(!domainsInDb().includes("other-dom.test"));
    fails(await cli(["domain", "remove", "other-dom.test"]), /not a local domain/);
  });

  it("user add / list / passwd / quota; errors are one line", async () => {
    ok(await cli(["domain", "add", "users.test"]));
    const [a, b] = await Promise.all([
      cli(["user", "add", "ann@users.test", "--password-stdin"], "first password\n"),
      cli(["user", "add", "ben@users.test", "--password-stdin", "--quota", "500M"], "second password\n"),
    ]);
    assert.match(ok(a), /ann@users\.test/);
    assert.match(ok(b), /quota 500M/);
    const [dup, noDomain, badQuota, badAddress] = await Promise.all([
      cli(["user", "add", "ann@users.test", "--password-stdin"], "x\n"),
      cli(["user", "add", "x@unknown-domain.test", "--password-stdin"], "x\n"),
      cli(["user", "add", "cid@users.test", "--password-stdin", "--quota", "lots"], "x\n"),
      cli(["user", "add", "no-at-sign", "--password-stdin"], "x\n"),
    ]);
    fails(dup, /exists/);
    fails(noDomain, /unknown-domain\.test.*domain add/);
    fails(badQuota, /lots/);
    fails(badAddress, /no-at-sign/);

    const users = json<UserRow[]>(await cli(["user", "list", "users.test", "--json"]));
    assert.deepEqual(users.map((u) => u.address).sort(), ["ann@users.test", "ben@users.test"], "failed adds left users behind");
    assert.equal(users.find((u) => u.address === "ann@users.test")!.quota, "none");
    assert.equal(users.find((u) => u.address === "ben@users.test")!.quota, "500M");
    const table = ok(await cli(["user", "list", "users.test"]));
    assert.match(table, /^ADDRESS\s+QUOTA\s+USAGE\s+SEND_AS\s+CREATED\n/);
    assert.match(table, /\nben@users\.test\s+500M\s/);

    const hash = () => db((d) => (d.prepare("SELECT password_hash AS h FROM users WHERE address = ?").get("ann@users.test") as { h: string }).h);
    const before = hash();
    assert.ok(!before.includes("first password"), "the password is stored in clear");
    ok(await cli(["user", "passwd", "ann@users.test", "--password-stdin"], "changed password\n"));
    const afterwards = hash();
    assert.notEqual(afterwards, before, "passwd did not change the hash");
    assert.ok(!afterwards.includes("changed password"));
    fails(await cli(["user", "passwd", "nobody@users.test", "--password-stdin"], "x\n"), /nobody@users\.test/);
    assert.equal(hash(), afterwards, "a refused passwd changed the hash");

    assert.match(ok(await cli(["user", "quota", "ben@users.test", "--quota", "2G"])), /2G/);
    const quota = () => db((d) => (d.prepare("SELECT quota FROM users WHERE address = ?").get("ben@users.test") as { quota: number }).quota);
    assert.equal(quota(), 2 * 1024 ** 3);
    fails(await cli(["user", "quota", "ben@users.test", "--quota", "much"]), /much/);
    assert.equal(quota(), 2 * 1024 ** 3);
  });

  it("a password never goes through argv: --password is refused, and without --password-stdin a non-TTY stdin fails", async () => {
    ok(await cli(["domain", "add", "pw.test"]));
    const [withArg, noStdinFlag, empty] = await Promise.all([
      cli(["user", "add", "pat@pw.test", "--password", "secret"]),
      cli(["user", "add", "pat@pw.test"], "secret\n"), // stdin is a pipe here, not a terminal
      cli(["user", "add", "pat@pw.test", "--password-stdin"], ""),
    ]);
    fails(withArg, /--password/);
    fails(noStdinFlag, /--password-stdin/);
    fails(empty, /empty/);
    assert.deepEqual(usersInDb("pw.test"), [], "a refused user add created the user");
    await addUser("pat@pw.test", "the real one");
    const hash = () => db((d) => (d.prepare("SELECT password_hash AS h FROM users WHERE address = ?").get("pat@pw.test") as { h: string }).h);
    const before = hash();
    fails(await cli(["user", "passwd", "pat@pw.test"], "new one\n"), /--password-stdin/);
    assert.equal(hash(), before, "passwd without --password-stdin changed the password");
  });

  it("a full mailbox defers delivery (user quota), and delivers after the quota is lifted and the queue flushed", async () => {
    ok(await cli(["domain", "add", "quota.test"]));
    await addUser("quinn@quota.test", "pw", ["--quota", "1K"]);
    const from = server.entries.length;
    const sent = await smtp("quinn@quota.test", `Subject: big\r\n\r\n${"x".repeat(3000)}\r\n`);
    assert.ok(sent.qid, sent.end);
    const deferred = await server.waitForLog((e) => e.msg === "delivery deferred" && e.qid === sent.qid, 10_000, from);
    assert.match(String(deferred.error), /^4\.2\.2 /);
    const row = json<QueueRow[]>(await cli(["queue", "list", "--json"])).find((q) => q.id === sent.qid);
    assert.equal(row?.state, "deferred");
    assert.match(row?.last_error ?? "", /4\.2\.2/);

    ok(await cli(["user", "quota", "quinn@quota.test", "--quota", "0"]));
    assert.match(ok(await cli(["queue", "flush", sent.qid])), /^1 recipient/);
    const delivered = await server.waitForLog((e) => e.msg === "delivered" && e.qid === sent.qid, 10_000, from);
    assert.equal(delivered.mailbox, "quinn@quota.test/INBOX");
  });

  it("user remove takes the mail with it, and mail to the removed user is then refused with 550", async () => {
    ok(await cli(["domain", "add", "gone.test"]));
    await Promise.all([addUser("rex@gone.test"), addUser("stay@gone.test")]);
    const from = server.entries.length;
    const sent = await smtp("rex@gone.test");
    assert.ok(sent.qid, sent.end);
    await server.waitForLog((e) => e.msg === "delivered" && e.qid === sent.qid, 10_000, from);
    const blobId = db((d) => (d.prepare("SELECT m.blob_id AS id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id JOIN users u ON u.id = b.user_id WHERE u.address = ?").get("rex@gone.test") as { id: string }).id);

    assert.match(ok(await cli(["user", "remove", "rex@gone.test"])), /rex@gone\.test/);
    assert.deepEqual(usersInDb("gone.test"), ["stay@gone.test"]);
    const left = db((d) => ({
      users: (d.prepare("SELECT count(*) AS n FROM users WHERE address = ?").get("rex@gone.test") as { n: number }).n,
      messages: (d.prepare("SELECT count(*) AS n FROM messages WHERE blob_id = ?").get(blobId) as { n: number }).n,
    }));
    assert.deepEqual(left, { users: 0, messages: 0 });
    const blobsRoot = path.join(server.dir, "data", "blobs");
    assert.ok(!fs.readdirSync(blobsRoot).some((dir) => fs.existsSync(path.join(blobsRoot, dir, blobId))), "the removed user's message file is still there");

    const after = await smtp("rex@gone.test");
    assert.match(after.rcpt, /^550 5\.1\.1 /);
    assert.match((await smtp("stay@gone.test")).end ?? "", /^250/);
    fails(await cli(["user", "remove", "rex@gone.test"]), /rex@gone\.test/);
  });

  it("alias add / list / remove, including a catch-all, take effect in the running server", async () => {
    ok(await cli(["domain", "add", "alias.test"]));
    await addUser("dora@alias.test");
    assert.match(ok(await cli(["alias", "add", "info@alias.test", "dora@alias.test"])), /info@alias\.test -> dora@alias\.test/);
    ok(await cli(["alias", "add", "info@alias.test", "ext@remote.test"])); // targets merge
    ok(await cli(["alias", "add", "@alias.test", "dora@alias.test"]));
    const aliases = json<AliasRow[]>(await cli(["alias", "list", "--json"])).filter((a) => a.source.endsWith("alias.test"));
    assert.deepEqual(
      aliases.sort((x, y) => x.source.localeCompare(y.source)),
      [
        { source: "@alias.test", targets: ["dora@alias.test"] },
        { source: "info@alias.test", targets: ["dora@alias.test", "ext@remote.test"] },
      ],
    );
    assert.deepEqual(json<AliasRow[]>(await cli(["alias", "list", "@alias.test", "--json"])), [{ source: "@alias.test", targets: ["dora@alias.test"] }]);
    assert.match(ok(await cli(["alias", "list"])), /^SOURCE\s+TARGETS\n/);

    const [isUser, notLocal] = await Promise.all([
      cli(["alias", "add", "dora@alias.test", "x@alias.test"]),
      cli(["alias", "add", "a@not-local.test", "dora@alias.test"]),
    ]);
    fails(isUser, /is a user/);
    fails(notLocal, /not a local domain/);

    // The catch-all: any address at the domain reaches dora.
    const from = server.entries.length;
    const caught = await smtp("anything-at-all@alias.test");
    assert.ok(caught.qid, caught.end);
    const delivered = await server.waitForLog((e) => e.msg === "delivered" && e.qid === caught.qid, 10_000, from);
    assert.equal(delivered.mailbox, "dora@alias.test/INBOX");

    ok(await cli(["alias", "remove", "@alias.test"]));
    assert.match((await smtp("anything-else@alias.test")).rcpt, /^550/);
    ok(await cli(["alias", "remove", "info@alias.test"]));
    assert.deepEqual(db((d) => d.prepare("SELECT source FROM aliases WHERE source LIKE '%alias.test'").all()), []);
    fails(await cli(["alias", "remove", "info@alias.test"]), /no alias/);
    assert.match((await smtp("info@alias.test")).rcpt, /^550/);
  });

  it("queue list / show / hold / release / flush / delete on a message waiting for a remote domain", async () => {
    const from = server.entries.length;
    const sent = await smtp("someone@remote-queue.test", "Subject: queued remote\r\n\r\nwaiting body\r\n", "queuer@client.test");
    assert.ok(sent.qid, sent.end);
    const qid = sent.qid;
    await server.waitForLog((e) => e.msg === "delivery deferred" && e.qid === qid, 10_000, from);

    const table = ok(await cli(["queue", "list"]));
    assert.match(table, /^ID\s+AGE\s+SIZE\s+SENDER\s+RECIPIENTS\s+STATE\s+LAST_ERROR\n/);
    const line = table.split("\n").find((l) => l.startsWith(qid));
    assert.ok(line, `queue list lacks ${qid}:\n${table}`);
    assert.match(line, /queuer@client\.test\s+someone@remote-queue\.test\s+deferred\s+4\.4\.1 down\.remote-queue\.test\[127\.0\.0\.250\]:9 connect/);
    const list = async () => json<QueueRow[]>(await cli(["queue", "list", "--json"])).find((q) => q.id === qid);
    const entry = await list();
    assert.ok(entry, "queue list --json lacks the message");
    assert.equal(entry.sender, "queuer@client.test");
    assert.deepEqual(entry.recipients, ["someone@remote-queue.test"]);
    assert.equal(entry.state, "deferred");
    assert.match(entry.last_error ?? "", /^4\.4\.1 /);
    assert.match(entry.age, /^\d+[smhd]$/);

    const shown = ok(await cli(["queue", "show", qid]));
    assert.match(shown, new RegExp(`^id:\\s+${qid}\n`));
    assert.match(shown, /\nrecipient: someone@remote-queue\.test deferred attempts=\d+ next \S+ \(4\.4\.1 /);
    assert.match(shown, /\nReceived: from client\.test /);
    assert.match(shown, /\nSubject: queued remote\n\nwaiting body\n/);
    const shownJson = json<{ id: string; sender: string; recipients: { address: string; state: string }[] }>(await cli(["queue", "show", qid, "--json"]));
    assert.equal(shownJson.id, qid);
    assert.equal(shownJson.sender, "queuer@client.test");
    assert.deepEqual(shownJson.recipients.map((r) => [r.address, r.state]), [["someone@remote-queue.test", "deferred"]]);

    assert.match(ok(await cli(["queue", "hold", qid])), /1 recipient\(s\) on hold/);
    const state = () => db((d) => (d.prepare("SELECT state FROM queue_recipients WHERE message_id = ?").all(qid) as { state: string }[]).map((r) => r.state));
    assert.deepEqual(state(), ["hold"]);
    // A held message is not made due by flush.
    assert.match(ok(await cli(["queue", "flush", qid])), /^0 recipient/);

    let mark = server.entries.length;
    assert.match(ok(await cli(["queue", "release", qid])), /1 recipient\(s\) released/);
    // Released: due now; the scheduler tries again and puts it back to wait.
    await server.waitForLog((e) => e.msg === "delivery deferred" && e.qid === qid, 10_000, mark);
    assert.deepEqual(state(), ["deferred"]);

    mark = server.entries.length;
    assert.match(ok(await cli(["queue", "flush", qid])), /^1 recipient\(s\) made due now/);
    await server.waitForLog((e) => e.msg === "delivery deferred" && e.qid === qid, 10_000, mark);

    assert.match(ok(await cli(["queue", "delete", qid])), new RegExp(`${qid}: deleted`));
    assert.deepEqual(state(), [], "deleted message still queued");
    fails(await cli(["queue", "show", qid]), new RegExp(qid));
    fails(await cli(["queue", "delete", "not-a-queue-id!"]), /usage/);
  });

  it("usage errors: non-zero exit and exactly one line on stderr", async () => {
    const cases = [
      ["frobnicate"],
      ["domain", "add"],
      ["domain", "explode", "x.test"],
      ["user", "add"],
      ["user", "list", "--no-such-option"],
      ["queue", "frobnicate"],
      ["domain", "list", "--config"],
    ];
    const results = await Promise.all(cases.map((args) => runCli([...args, ...(args.includes("--config") ? [] : ["--config", server.configFile])])));
    results.forEach((r, i) => fails(r, undefined, cases[i].join(" ")));
  });

  it("`petrel` without a verb exits non-zero with one line on stderr", async () => {
    fails(await runCli([]), /usage|verb/);
  });

  it("`petrel config check` names the unknown key, the wrongly typed key and the file", async () => {
    const write = (name: string, text: string) => {
      const file = path.join(tmp, name);
      fs.writeFileSync(file, text);
      return file;
    };
    const typo = write("typo.toml", `data_dir = "${path.join(tmp, "data-typo")}"\n[smtp]\nmax_recipents = 5\n`);
    const type = write("type.toml", `data_dir = "${path.join(tmp, "data-type")}"\n[smtp]\nmax_recipients = "many"\n`);
    const top = write("top.toml", `hostnme = "mx.test"\n`);
    const syntax = write("syntax.toml", `[smtp\nmax_recipients = 5\n`);
    const [r1, r2, r3, r4, r5, good] = await Promise.all([
      runCli(["config", "check", "--config", typo]),
      runCli(["config", "check", "--config", type]),
      runCli(["config", "check", "--config", top]),
      runCli(["config", "check", "--config", syntax]),
      runCli(["config", "check", "--config", path.join(tmp, "missing.toml")]),
      runCli(["config", "check", "--config", server.configFile]),
    ]);
    fails(r1, /smtp\.max_recipents/);
    assert.ok(r1.stderr.includes(typo), `the file is not named: ${r1.stderr}`);
    fails(r2, /smtp\.max_recipients/);
    assert.ok(r2.stderr.includes(type));
    fails(r3, /hostnme/);
    assert.ok(r3.stderr.includes(top));
    fails(r4, /TOML/);
    assert.ok(r4.stderr.includes(syntax));
    fails(r5, /missing\.toml/);
    assert.equal(ok(good), `${server.configFile}: ok\n`);
  });

  it("`petrel serve` with an unknown key exits non-zero at start, naming the key and the file", async () => {
    const dataDir = path.join(tmp, "data-serve");
    const file = path.join(tmp, "serve-typo.toml");
    fs.writeFileSync(file, `data_dir = "${dataDir}"\n[listen]\nsmtp = "127.0.0.1:0"\n[relay]\nnetwork = ["127.0.0.0/8"]\n`);
    const r = await runCli(["serve", "--config", file]);
    fails(r, /relay\.network\b/);
    assert.ok(r.stderr.includes(file), `the file is not named: ${r.stderr}`);
    assert.equal(r.stdout.split("\n").filter((l) => l.includes('"ready"') || l.includes('"listening"')).length, 0, "it started listening");
  });
});
