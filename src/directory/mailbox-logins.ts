// "SMTP after POP" memory: successful POP3/IMAP logins per client address in
// the shared counters, so that relay policy can trust a client that just
// proved it owns a mailbox (relay.smtp_after_pop; off by default).
import type { CounterStore } from "../store/interfaces.js";

const popKey = (client: string) => `pop-login:${client}`;

/** Called on every successful POP3/IMAP login. */
export async function recordMailboxLogin(counters: CounterStore, client: string, windowMs: number): Promise<void> {
  if (windowMs > 0) await counters.hit(popKey(client), windowMs);
}

export async function recentMailboxLogin(counters: CounterStore, client: string, windowMs: number): Promise<boolean> {
  return windowMs > 0 && (await counters.count(popKey(client), windowMs)) > 0;
}
