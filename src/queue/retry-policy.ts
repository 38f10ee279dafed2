// What the queue does with the result of one delivery attempt: done, retry
// later (the configured schedule, never past the maximum age), or fail — and
// which delivery status notification the sender is owed for it (RFC 3461
// §4.1 NOTIFY: FAILURE by default, DELAY after queue.delay_warning,
// SUCCESS only when asked; never any notice to the null sender, RFC 5321
// §4.5.5). Pure functions: the scheduler records what they decide.
import type { DsnAction, QueuedMessage, QueuedRecipient, RecipientOutcome } from "../store/interfaces.js";

/** One delivery attempt, as the MDA or the SMTP client saw it. */
export type AttemptResult = AttemptContext & (
  | { status: "sent"; reply?: string; local?: boolean; /** the next hop takes over DSN duties (it offered DSN) */ notifyPassedOn?: boolean }
  | { status: "deferred"; error: string }
  | { status: "bounced"; error: string });

/** Where the attempt went: for the log line and the DSN's Remote-MTA. */
export interface AttemptContext {
  /** The remote server's name. */
  remoteMta?: string;
  /** "host[address]:port". */
  relay?: string;
  /** "TLSv1.3 TLS_AES_256_GCM_SHA384" when the connection was encrypted. */
  tls?: string;
}

export interface RetryPolicy {
  /** Waits before retry 1, 2, ...; the last repeats. */
  schedule: number[];
  maxAge: number;
  /** 0: no delay notices. */
  delayWarning: number;
}

/** The wait before the retry that follows attempt number `attempts` (1-based). */
export function backoff(policy: RetryPolicy, attempts: number): number {
  return policy.schedule[Math.min(Math.max(attempts, 1), policy.schedule.length) - 1];
}

/** RFC 3461 §4.1: NOTIFY absent means FAILURE (and DELAY, as Postfix reads it). */
function wants(recipient: QueuedRecipient, what: "SUCCESS" | "FAILURE" | "DELAY"): boolean {
  if (!recipient.notify) return what !== "SUCCESS";
  return recipient.notify.toUpperCase().split(",").includes(what);
}

export function decideOutcome(
  policy: RetryPolicy, message: QueuedMessage, recipient: QueuedRecipient, result: AttemptResult, now: number,
): RecipientOutcome {
  const notice = (action: DsnAction, what: "SUCCESS" | "FAILURE" | "DELAY"): DsnAction | null =>
    message.sender !== "" && wants(recipient, what) ? action : null;
  const base = { id: recipient.id, at: now, remoteMta: result.remoteMta ?? null };
  switch (result.status) {
    case "sent":
      return {
        ...base, state: "done", error: result.reply ?? null,
        notice: result.notifyPassedOn ? null : notice(result.local ? "delivered" : "relayed", "SUCCESS"),
      };
    case "bounced":
      return { ...base, state: "failed", error: result.error, notice: notice("failed", "FAILURE") };
    case "deferred": {
      const expires = message.receivedAt + policy.maxAge;
      if (now >= expires) {
        return { ...base, state: "failed", error: `${result.error} (gave up: in the queue longer than the maximum age)`, notice: notice("failed", "FAILURE") };
      }
      const warn = policy.delayWarning > 0 && !recipient.warned && now - message.receivedAt >= policy.delayWarning;
      return {
        ...base, state: "deferred", error: result.error,
        nextAttempt: Math.min(now + backoff(policy, recipient.attempts), expires),
        notice: warn ? notice("delayed", "DELAY") : null,
      };
    }
  }
}

/** "5.1.1" from "550 5.1.1 no such user" or "4.4.3 DNS failure"; from the reply code alone otherwise. */
export function statusOf(text: string | null, fallbackClass: "2" | "4" | "5"): string {
  const enhanced = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(text ?? "");
  if (enhanced) return enhanced[1];
  const code = /^([245])\d\d\b/.exec(text ?? "");
  return `${code ? code[1] : fallbackClass}.0.0`;
}
