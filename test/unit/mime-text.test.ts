// The text views SEARCH uses: decoded header values and decoded body text.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseMime } from "../../src/mime/structure.js";
import { bodyText, containsFold, foldCase, fullText, headerText, partText } from "../../src/mime/text.js";

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, "\r\n"), "latin1");

const MSG = crlf(`From: =?utf-8?q?J=C3=B6rg?= <j@x>
Subject: =?iso-8859-1?q?R=E9sum=E9?= attached
Subject: second
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 au lait, tr=E8s=
 bon
--b
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

PHA+4oKsIDEwPC9wPg==
--b
Content-Type: image/png
Content-Transfer-Encoding: base64

aW1hZ2VkYXRh
--b
Content-Type: message/rfc822

Subject: =?utf-8?b?aW5uZXIg4pyT?=

inner body
--b
Content-Type: text/plain; charset=x-unknown-charset

na\xefve
--b--
`);

describe("text for SEARCH", () => {
  const root = parseMime(MSG);

  it("decodes header values", () => {
    assert.deepEqual(headerText(root.header, "subject"), ["Résumé attached", "second"]);
    assert.deepEqual(headerText(root.header, "FROM"), ["Jörg <j@x>"]);
    assert.deepEqual(headerText(root.header, "cc"), []);
  });

  it("decodes the text parts from their transfer encoding and charset, skipping other media", () => {
    const text = bodyText(MSG, root);
    assert.ok(text.includes("Café au lait, très bon"), text);
    assert.ok(text.includes("<p>€ 10</p>"));
    assert.ok(!text.includes("imagedata"));
    assert.ok(text.includes("Subject: inner ✓"));
    assert.ok(text.includes("inner body"));
    assert.ok(text.includes("naïve"));
    assert.ok(!text.includes("Résumé"));
  });

  it("puts the decoded headers before the body in fullText", () => {
    const all = fullText(MSG, root);
    assert.ok(all.startsWith("From: Jörg <j@x>\nSubject: Résumé attached\n"));
    assert.ok(all.includes("Café au lait"));
  });

  it("caps the text", () => {
    const big = crlf("Subject: x\n\n" + "abcdefghij".repeat(1000));
    const r = parseMime(big);
    assert.equal(bodyText(big, r, 25).length, 25);
    assert.equal(partText(big, r, 5).slice(0, 5), "abcde");
  });

  it("decodes a one-part message body", () => {
    const one = crlf("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n4pyTIGRvbmU=\n");
    assert.equal(bodyText(one, parseMime(one)), "✓ done\n");
  });

  it("folds case for matching", () => {
    assert.ok(containsFold("Grüße aus KÖLN", "köln"));
    assert.ok(containsFold("Cafe\u0301", "CAFÉ"));
    assert.ok(!containsFold("abc", "abd"));
    assert.equal(foldCase("ÉCOLE"), "école");
  });
});
