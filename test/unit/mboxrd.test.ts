import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { encodeMboxrdMessage, formatFromLine, readMbox, type MboxMessage } from "../../src/mbox/mboxrd.js";

const DATE = new Date(Date.UTC(2024, 0, 3, 4, 5, 6));
const SYSTEM_FLAGS = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"];

async function* chunks(data: Buffer, cuts: number[] = []): AsyncGenerator<Buffer> {
  let start = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)) {
    yield data.subarray(start, cut);
    start = cut;
  }
  yield data.subarray(start);
}

async function readAll(data: Buffer | string, opts?: { maxMessageSize?: number }, cuts?: number[]): Promise<MboxMessage[]> {
  const out: MboxMessage[] = [];
  for await (const m of readMbox(chunks(Buffer.from(data), cuts), opts)) out.push(m);
  return out;
}

/** What a message should look like after export and import: CRLF line ends, a final CRLF. */
function normalise(message: Buffer): string {
  const s = message.toString("latin1").replace(/\r?\n/g, "\r\n");
  return s === "" || s.endsWith("\r\n") ? s : s + "\r\n";
}

const enc = (s: string, flags: string[] = [], sender = "a@example.com"): string =>
  encodeMboxrdMessage(Buffer.from(s), sender, DATE, flags).toString();

test("formatFromLine uses asctime layout in UTC", () => {
  assert.equal(formatFromLine("a@b", DATE), "From a@b Wed Jan  3 04:05:06 2024\n");
  assert.equal(formatFromLine("a@b", new Date(Date.UTC(2026, 10, 27, 20, 40))), "From a@b Fri Nov 27 20:40:00 2026\n");
  assert.equal(formatFromLine("", DATE), "From MAILER-DAEMON Wed Jan  3 04:05:06 2024\n");
  assert.equal(formatFromLine("a b\r\nFrom evil", DATE), "From a_b__From_evil Wed Jan  3 04:05:06 2024\n");
  assert.equal(formatFromLine("x", new Date(NaN)), "From x Thu Jan  1 00:00:00 1970\n");
});

test("encode quotes From lines, converts to LF and ends with a blank line", () => {
  assert.equal(
    enc("Subject: x\r\n\r\nFrom here\r\n>From there\r\n>>From far\r\nFrom\r\n"),
    "From a@example.com Wed Jan  3 04:05:06 2024\nSubject: x\n\n>From here\n>>From there\n>>>From far\nFrom\n\n",
  );
  assert.equal(enc("Subject: x\r\n\r\nno newline"), "From a@example.com Wed Jan  3 04:05:06 2024\nSubject: x\n\nno newline\n\n");
  assert.equal(enc(""), "From a@example.com Wed Jan  3 04:05:06 2024\n\n");
  assert.equal(enc("From: x\r\n").split("\n")[1], "From: x"); // "From:" is not "From "
});

test("encode puts Status/X-Status/X-Keywords at the end of the header block", () => {
  const head = "From a@example.com Wed Jan  3 04:05:06 2024\n";
  assert.equal(enc("A: 1\r\nB: 2\r\n\r\nbody\r\n", ["\\Seen"]), head + "A: 1\nB: 2\nStatus: RO\n\nbody\n\n");
  assert.equal(
    enc("A: 1\r\n\r\nbody\r\n", ["\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent", "$Junk", "bad kw"]),
    head + "A: 1\nStatus: O\nX-Status: AFDT\nX-Keywords: $Junk\n\nbody\n\n",
  );
  assert.equal(enc("A: 1\r\n", ["\\seen"]), head + "A: 1\nStatus: RO\n\n");
  assert.equal(enc("", ["\\Seen"]), head + "Status: RO\n\n");
  assert.equal(enc("A: 1\r\n\r\nbody\r\n", ["\\Recent"]), head + "A: 1\n\nbody\n\n");
});

test("encode drops metadata headers already in the message, not in the body", () => {
  const out = enc("A: 1\r\nContent-Length: 5\r\nStatus: RO\r\nX-UID: 4\r\n  7\r\nB: 2\r\n\r\nStatus: RO\r\n");
  assert.equal(out, "From a@example.com Wed Jan  3 04:05:06 2024\nA: 1\nB: 2\n\nStatus: RO\n\n");
});

test("readMbox splits, unquotes, strips separators and converts to CRLF", async () => {
  const file =
    "From a@b Wed Jan  3 04:05:06 2024\nSubject: 1\nStatus: RO\nX-Status: AF\nX-Keywords: $Junk, work\n\n>From x\n>>From y\n\n" +
    "From MAILER-DAEMON Thu Feb 29 23:59:59 2024\r\nSubject: 2\r\n\r\nline\r\n\r\n\r\n" +
    "From c@d Fri Mar  1 00:00:00 2024 +0100\nSubject: 3\nFrom inside, no blank before\n";
  const msgs = await readAll(file);
  assert.equal(msgs.length, 3);
  assert.deepEqual(msgs.map((m) => m.sender), ["a@b", "MAILER-DAEMON", "c@d"]);
  assert.deepEqual(msgs.map((m) => m.date?.toISOString()), [
    "2024-01-03T04:05:06.000Z", "2024-02-29T23:59:59.000Z", "2024-02-29T23:00:00.000Z",
  ]);
  assert.deepEqual(msgs[0]!.flags, ["\\Seen", "\\Answered", "\\Flagged", "$Junk", "work"]);
  assert.equal(msgs[0]!.data.toString(), "Subject: 1\r\n\r\nFrom x\r\n>From y\r\n");
  assert.equal(msgs[1]!.data.toString(), "Subject: 2\r\n\r\nline\r\n\r\n");
  assert.deepEqual(msgs[1]!.flags, []);
  assert.equal(msgs[2]!.data.toString(), "Subject: 3\r\nFrom inside, no blank before\r\n");
});

test("readMbox accepts a dated From_ line without a blank line before it", async () => {
  const msgs = await readAll("From a Mon Jan  1 00:00:00 2024\nA: 1\n\nx\nFrom b Tue Jan  2 10:00 2024\nB: 2\n");
  assert.deepEqual(msgs.map((m) => [m.sender, m.data.toString()]), [["a", "A: 1\r\n\r\nx\r\n"], ["b", "B: 2\r\n"]]);
  // After a blank line any "From " line starts a message (mboxo/mboxrd rule); the date may be missing.
  const loose = await readAll("From a\n\nbody\n\nFrom b@c whatever\nx\n");
  assert.deepEqual(loose.map((m) => [m.sender, m.date, m.data.toString()]), [["a", undefined, "\r\nbody\r\n"], ["b@c", undefined, "x\r\n"]]);
});

test("readMbox strips metadata only in the header block, with continuation lines", async () => {
  const [m] = await readAll("From a Mon Jan  1 00:00:00 2024\nX-UID: 1\n 2\nA: 1\nContent-Length: 3\n\nStatus: RO\nX-Status: F\n");
  assert.equal(m!.data.toString(), "A: 1\r\n\r\nStatus: RO\r\nX-Status: F\r\n");
  assert.deepEqual(m!.flags, []);
});

test("readMbox: empty input, leading blank lines, junk, size limits", async () => {
  assert.deepEqual(await readAll(""), []);
  assert.equal((await readAll("\n\nFrom a Mon Jan  1 00:00:00 2024\nx\n")).length, 1);
  await assert.rejects(readAll("Subject: not an mbox\n"), /not an mbox file: line 1/);
  const big = "From a Mon Jan  1 00:00:00 2024\nA: 1\n\n" + "From b Mon Jan  1 00:00:00 2024\n" + "x".repeat(50) + "\n";
  await assert.rejects(readAll(big, { maxMessageSize: 20 }), /mbox message 2 is larger than/);
  await assert.rejects(readAll("From b Mon Jan  1 00:00:00 2024\n" + "y".repeat(1000), { maxMessageSize: 100 }, [40, 80, 500]), /message 1/);
  await assert.rejects(readAll("From a Mon Jan  1 00:00:00 2024\nX-Keywords: a\n" + " b\n".repeat(100), { maxMessageSize: 50 }), /message 1/);
  // Exactly at the limit is fine (the separator line does not count).
  const [m] = await readAll("From a Mon Jan  1 00:00:00 2024\n12345678\n\n", { maxMessageSize: 10 });
  assert.equal(m!.data.toString(), "12345678\r\n");
});

test("readMbox gives the same result however the input is chunked", async () => {
  const file = Buffer.from(
    enc("Subject: x\r\n\r\nFrom a\r\n>From b\r\n\r\n", ["\\Seen"]) + enc("A: 1\r\n\r\nFrom \r\nend", ["\\Draft"]) +
      "From c Mon Jan  1 00:00:00 2024\r\nA: 2\r\n\r\n>From c\r\n\r\n",
  );
  const whole = await readAll(file);
  assert.equal(whole.length, 3);
  for (let cut = 0; cut <= file.length; cut++) assert.deepEqual(await readAll(file, {}, [cut]), whole);
  assert.deepEqual(await readAll(file, {}, Array.from(file.keys())), whole);
});

// ------------------------------------------------------------ properties

const lineArb = fc.oneof(
  fc.constantFrom("", "From ", "From x", "From a@b Mon Jan  1 00:00:00 2024", ">From y", ">>From z", ">", "From", "Subject: hi",
    " folded", "Status: RO", "X-Status: AF", "Content-Length: 3", "X-UID: 9", "a\rb", "\u00e9t\u00e9"),
  fc.string({ unit: "binary", maxLength: 30 }).map((s) => s.replace(/\n/g, " ").replace(/\r+$/, "")),
);
const messageArb = fc
  .tuple(fc.array(fc.tuple(lineArb, fc.constantFrom("\r\n", "\n")), { maxLength: 12 }), fc.boolean())
  .map(([lines, terminated]) => {
    const text = lines.map(([l, eol], i) => l + (i < lines.length - 1 || terminated ? eol : "")).join("");
    return Buffer.from(text, "utf8");
  });
const flagsArb = fc.subarray([...SYSTEM_FLAGS, "$Junk", "$Forwarded", "work"]);
const entryArb = fc.record({
  message: messageArb,
  flags: flagsArb,
  sender: fc.oneof(fc.constant(""), fc.emailAddress()),
  date: fc.date({ min: new Date("1970-01-01T00:00:00Z"), max: new Date("2199-12-31T23:59:59Z"), noInvalidDate: true }),
});

/** The reader's contract: metadata header lines (and their continuations) of the header block are gone. */
function withoutMetadata(normalised: string): string {
  const lines = normalised.split(/(?<=\r\n)/);
  const end = lines.findIndex((l) => l === "\r\n");
  let inMeta = false;
  return lines
    .filter((l, i) => {
      if (end >= 0 && i >= end) return true;
      inMeta = (inMeta && /^[ \t]/.test(l)) || /^(status|x-status|x-keywords|x-uid|content-length)[ \t]*:/i.test(l);
      return !inMeta;
    })
    .join("");
}

const sorted = (flags: string[]): string[] => [...flags].sort();

test("property: readMbox(encode(messages)) round-trips data, flags, sender and date", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(entryArb, { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), async (entries, cuts) => {
      const file = Buffer.concat(entries.map((e) => encodeMboxrdMessage(e.message, e.sender, e.date, e.flags)));
      const got = await readAll(file, {}, cuts);
      assert.equal(got.length, entries.length);
      entries.forEach((e, i) => {
        assert.equal(got[i]!.data.toString("latin1"), withoutMetadata(normalise(e.message)));
        assert.deepEqual(sorted(got[i]!.flags), sorted(e.flags));
        assert.equal(got[i]!.sender, e.sender || "MAILER-DAEMON");
        assert.equal(got[i]!.date!.getTime(), Math.floor(e.date.getTime() / 1000) * 1000);
      });
    }),
    { numRuns: 300 },
  );
});

test("property: messages without metadata headers come back byte for byte (after CRLF normalisation)", async () => {
  const bodyLines = fc.array(lineArb.filter((l) => !/^(status|x-status|content-length|x-uid|x-keywords)/i.test(l)), { maxLength: 10 });
  await fc.assert(
    fc.asyncProperty(bodyLines, fc.boolean(), async (lines, terminated) => {
      const message = Buffer.from(lines.join("\r\n") + (terminated ? "\r\n" : ""), "utf8");
      const [got] = await readAll(encodeMboxrdMessage(message, "x@y", DATE, []));
      assert.equal(got!.data.toString("latin1"), normalise(message));
    }),
    { numRuns: 300 },
  );
});

test("property: readMbox never fails on arbitrary bytes after a From_ line", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 4 }), async (bytes, cuts) => {
      const file = Buffer.concat([Buffer.from("From a Mon Jan  1 00:00:00 2024\n"), bytes]);
      const got = await readAll(file, {}, cuts);
      assert.ok(got.length >= 1);
      for (const m of got) assert.ok(!/(^|[^\r])\n/.test(m.data.toString("latin1")), "only CRLF line ends");
    }),
    { numRuns: 300 },
  );
});

// ------------------------------------------------------------ corpus

function emlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? emlFiles(p) : e.name.endsWith(".eml") ? [p] : [];
  });
}

test("corpus: every .eml survives export and import", async () => {
  const files = emlFiles(path.resolve(process.cwd(), "../shared/corpus"));
  assert.ok(files.length >= 100, `found ${files.length} corpus files`);
  const originals = files.map((f) => readFileSync(f));
  const flags = (i: number): string[] => SYSTEM_FLAGS.filter((_, j) => (i >> j) & 1);
  const file = Buffer.concat(originals.map((m, i) => encodeMboxrdMessage(m, `s${i}@example.com`, DATE, flags(i))));
  const got = await readAll(file, {}, [65_536, 131_072, 200_000]);
  assert.equal(got.length, files.length);
  let identical = 0;
  got.forEach((m, i) => {
    const expected = normalise(originals[i]!);
    // Only mbox metadata headers (Content-Length, X-UID, Status in 4 files) may go.
    assert.equal(m.data.toString("latin1"), withoutMetadata(expected), files[i]);
    if (m.data.toString("latin1") === expected) identical++;
    assert.deepEqual(m.flags, flags(i), files[i]);
    assert.equal(m.sender, `s${i}@example.com`);
  });
  assert.ok(identical >= files.length - 4, `${identical} of ${files.length} identical`);
});
