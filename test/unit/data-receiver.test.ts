// The DATA phase parser: end-of-data only at CRLF.CRLF, dot-unstuffing, bare
// LF stored as CRLF, size limit, Received counting, and — as a property —
// the same result however the input is split into TCP chunks.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DataReceiver, type DataResult } from "../../src/smtp/data-receiver.js";

async function run(chunks: Buffer[], maxSize = 1 << 30): Promise<{ stored: Buffer; result: DataResult | undefined }> {
  const out: Buffer[] = [];
  const receiver = new DataReceiver({ maxSize }, (c) => {
    out.push(Buffer.from(c));
  });
  let result: DataResult | undefined;
  for (const chunk of chunks) {
    result = await receiver.push(chunk);
    if (result) break;
  }
  return { stored: Buffer.concat(out), result };
}

const b = (s: string) => Buffer.from(s, "latin1");

/** What a correct client sends for `body` (CRLF lines, dot-stuffed, terminated). */
function encode(lines: string[]): Buffer {
  return b(lines.map((l) => (l.startsWith(".") ? `.${l}` : l) + "\r\n").join("") + ".\r\n");
}

describe("DataReceiver", () => {
  it("ends at CRLF.CRLF and unstuffs dots", async () => {
    const { stored, result } = await run([b("Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n")]);
    assert.equal(stored.toString(), "Subject: x\r\n\r\n.leading dot\r\n");
    assert.equal(result?.rest.toString(), "QUIT\r\n");
  });

  it("does not end at a bare-LF dot line (no SMTP smuggling) and stores bare LF as CRLF", async () => {
    const { stored, result } = await run([b("a\n.\nMAIL FROM:<x@y>\r\nb\r\n.\r\n")]);
    assert.ok(result);
    assert.equal(stored.toString(), "a\r\n\r\nMAIL FROM:<x@y>\r\nb\r\n");
    assert.equal(result.rest.length, 0);
  });

  it("waits for more input when the end marker is split across chunks", async () => {
    const { stored, result } = await run([b("hello\r\n"), b("."), b("\r"), b("\n")]);
    assert.equal(stored.toString(), "hello\r\n");
    assert.ok(result);
  });

  it("reports an oversized message but keeps reading to the end", async () => {
    const { stored, result } = await run([b("x".repeat(100) + "\r\n"), b("y".repeat(100) + "\r\n.\r\n")], 150);
    assert.ok(result?.tooBig);
    assert.ok(stored.length <= 150);
    assert.equal(result.size, 204);
  });

  it("counts Received headers of the header block only", async () => {
    const { result } = await run([b("Received: a\r\nreceived : b\r\nX: y\r\n\r\nReceived: not a header\r\n.\r\n")]);
    assert.equal(result?.receivedHeaders, 2);
  });

  it("measures the longest line", async () => {
    const { result } = await run([b("short\r\n" + "z".repeat(5000) + "\r\n.\r\n")]);
    assert.equal(result?.longestLine, 5002);
  });

  it("gives the same result for every split of the input (property)", async () => {
    const line = fc.tuple(fc.boolean(), fc.stringMatching(/^[ -~]{0,40}$/)).map(([dot, s]) => (dot ? `.${s}` : s));
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 12 }), async (lines, cuts) => {
        const wire = encode(lines);
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((x, y) => x - y);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(wire.subarray(prev, p));
          prev = p;
        }
        chunks.push(wire.subarray(prev));
        const { stored, result } = await run(chunks.filter((c) => c.length > 0));
        assert.ok(result, "end of data not found");
        assert.equal(stored.toString("latin1"), lines.map((l) => `${l}\r\n`).join(""));
      }),
      { numRuns: 300 },
    );
  });
});
