// literal8 APPENDs (RFC 3516 §4.3): parts holding NUL are stored base64 with
// a matching Content-Transfer-Encoding; BINARY[] of them gives the original
// bytes back; everything else stays byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeBinaryParts } from "../../src/mime/binary.js";
import { parseMime } from "../../src/mime/structure.js";
import { binaryBytes, sectionBytes } from "../../src/mime/sections.js";

const raw = Buffer.from([0x20, 0x2d, 0x00, 0xe4, 0x0d, 0x0a, 0x0d, 0x0a]);

test("a single-part binary message becomes base64; BINARY[1] decodes to the bytes sent", () => {
  const message = Buffer.concat([Buffer.from("From: a@b.test\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"), raw]);
  const stored = encodeBinaryParts(message);
  assert.equal(stored.includes(0), false);
  assert.match(stored.toString("latin1"), /^From: a@b\.test\r\nContent-Type: application\/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nIC0A5A0KDQo=\r\n$/);
  const root = parseMime(stored);
  assert.deepEqual(binaryBytes(stored, root, [1]), raw);
});

test("in a multipart, only the part with NUL changes; text parts and boundaries stay as sent", () => {
  const text = "--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
  const message = Buffer.concat([
    Buffer.from(`Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${text}--b\r\nContent-Type: application/octet-stream\r\n\r\n`),
    raw, Buffer.from("\r\n--b--\r\n"),
  ]);
  const stored = encodeBinaryParts(message);
  assert.equal(stored.includes(0), false);
  assert.ok(stored.toString("latin1").includes(text));
  const root = parseMime(stored);
  assert.equal(sectionBytes(stored, root, { part: [1] })?.toString(), "hello");
  assert.deepEqual(binaryBytes(stored, root, [2]), raw);
  assert.match(stored.toString("latin1"), /\r\n--b--\r\n$/);
});

test("a message without NUL is returned as it is", () => {
  const message = Buffer.from("Subject: plain\r\n\r\n8-bit \xe4 but no NUL\r\n", "latin1");
  assert.equal(encodeBinaryParts(message), message);
});
