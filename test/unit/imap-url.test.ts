// Relative IMAP URLs for CATENATE (RFC 4469 §5, RFC 5092): what resolves,
// and what is refused (absolute URLs, URLAUTH, malformed parts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseImapUrl } from "../../src/imap/imap-url.js";

test("mailbox, UIDVALIDITY, UID, SECTION and PARTIAL", () => {
  assert.deepEqual(parseImapUrl("/INBOX/;UID=3", false), { mailbox: "INBOX", uid: 3 });
  assert.deepEqual(parseImapUrl("/inbox;UIDVALIDITY=77/;uid=3/;section=1.2.MIME", false), { mailbox: "INBOX", uidValidity: 77, uid: 3, section: { part: [1, 2], text: "MIME" } });
  assert.deepEqual(parseImapUrl("/Work%2F2025/;UID=9/;SECTION=HEADER/;PARTIAL=10.20", false), {
    mailbox: "Work/2025", uid: 9, section: { part: [], text: "HEADER" }, partial: { offset: 10, length: 20 },
  });
  assert.deepEqual(parseImapUrl("/Gr&APwA3w-e/;UID=1/;SECTION=TEXT", false)?.mailbox, "Grüße");
  assert.deepEqual(parseImapUrl("/Gr%C3%BC%C3%9Fe/;UID=1", true)?.mailbox, "Grüße");
});

test("refused: absolute URLs, no UID, URLAUTH, bad numbers and sections", () => {
  for (const url of ["imap://host/INBOX/;UID=1", "//host/INBOX/;UID=1", "/INBOX", "/INBOX/;UID=0", "/INBOX/;UID=x", "/INBOX;UIDVALIDITY=x/;UID=1",
    "/INBOX/;UID=1/;SECTION=MIME", "/INBOX/;UID=1/;SECTION=1.0", "/INBOX/;UID=1/;URLAUTH=anonymous", "/INBOX/;UID=1/;PARTIAL=1.0", "/%ZZ/;UID=1", "INBOX/;UID=1"]) {
    assert.equal(parseImapUrl(url, false), undefined, url);
  }
});
