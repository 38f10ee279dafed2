// What one attempt's result means for a recipient: the retry schedule, the
// maximum age, and which notice (RFC 3461 NOTIFY) the sender is owed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { backoff, decideOutcome, statusOf, type RetryPolicy } from "../../src/queue/retry-policy.js";
import type { QueuedMessage, QueuedRecipient } from "../../src/store/interfaces.js";

const M = 60_000;
const policy: RetryPolicy = { schedule: [5 * M, 10 * M, 30 * M], maxAge: 24 * 60 * M, delayWarning: 60 * M };
const T0 = 1_700_000_000_000;
const message = (extra: Partial<QueuedMessage> = {}): QueuedMessage => ({
  id: "Q1", sender: "alice@local.test", blobId: "Q1", size: 10, receivedAt: T0, trace: "", origin: "{}", envId: null, ret: null, recipients: [], ...extra,
});
const recipient = (extra: Partial<QueuedRecipient> = {}): QueuedRecipient => ({
  id: 7, messageId: "Q1", address: "bob@remote.test", orcpt: null, notify: null, state: "active", attempts: 1, nextAttempt: 0,
  lastError: null, notice: null, remoteMta: null, warned: false, lastAttempt: 0, ...extra,
});

test("the schedule's last wait repeats", () => {
  assert.deepEqual([1, 2, 3, 4, 9].map((n) => backoff(policy, n) / M), [5, 10, 30, 30, 30]);
});

test("deferred: next attempt from the schedule, never later than the maximum age", () => {
  const o = decideOutcome(policy, message(), recipient({ attempts: 2 }), { status: "deferred", error: "451 4.3.0 busy" }, T0 + M);
  assert.deepEqual([o.state, o.nextAttempt, o.notice], ["deferred", T0 + 11 * M, null]);
  const late = decideOutcome(policy, message(), recipient({ attempts: 3 }), { status: "deferred", error: "451 busy" }, T0 + 24 * 60 * M - M);
  assert.equal(late.nextAttempt, T0 + 24 * 60 * M);
});

test("deferred past the maximum age fails with a notice", () => {
  const o = decideOutcome(policy, message(), recipient(), { status: "deferred", error: "4.4.1 no answer" }, T0 + 24 * 60 * M);
  assert.equal(o.state, "failed");
  assert.equal(o.notice, "failed");
  assert.match(o.error ?? "", /^4\.4\.1 no answer .*maximum age/);
});

test("a delay notice once, after delay_warning, unless NOTIFY excludes DELAY", () => {
  const late = T0 + 61 * M;
  assert.equal(decideOutcome(policy, message(), recipient(), { status: "deferred", error: "451" }, late).notice, "delayed");
  assert.equal(decideOutcome(policy, message(), recipient({ warned: true }), { status: "deferred", error: "451" }, late).notice, null);
  assert.equal(decideOutcome(policy, message(), recipient({ notify: "FAILURE" }), { status: "deferred", error: "451" }, late).notice, null);
  assert.equal(decideOutcome({ ...policy, delayWarning: 0 }, message(), recipient(), { status: "deferred", error: "451" }, late).notice, null);
});

test("failures notify unless NOTIFY=NEVER; success only with NOTIFY=SUCCESS; never to <>", () => {
  const bounced = { status: "bounced" as const, error: "550 5.1.1 no" };
  assert.equal(decideOutcome(policy, message(), recipient(), bounced, T0).notice, "failed");
  assert.equal(decideOutcome(policy, message(), recipient({ notify: "NEVER" }), bounced, T0).notice, null);
  assert.equal(decideOutcome(policy, message({ sender: "" }), recipient(), bounced, T0).notice, null);
  assert.equal(decideOutcome(policy, message(), recipient(), { status: "sent" }, T0).notice, null);
  assert.equal(decideOutcome(policy, message(), recipient({ notify: "SUCCESS" }), { status: "sent" }, T0).notice, "relayed");
  assert.equal(decideOutcome(policy, message(), recipient({ notify: "SUCCESS" }), { status: "sent", notifyPassedOn: true }, T0).notice, null);
});

test("status codes from replies and our own texts", () => {
  assert.equal(statusOf("550 5.1.1 <x@y>: no such user", "5"), "5.1.1");
  assert.equal(statusOf("4.4.3 DNS lookup failed", "4"), "4.4.3");
  assert.equal(statusOf("554 rejected", "5"), "5.0.0");
  assert.equal(statusOf(null, "4"), "4.0.0");
});
