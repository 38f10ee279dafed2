// The quota rule of every path that adds mail to a user's store (SMTP RCPT,
// local delivery, IMAP APPEND and COPY): a user with a quota (bytes; 0 is
// none) may not go over it. Usage is kept by the store.
import type { UserRecord } from "../store/interfaces.js";

export function exceedsQuota(user: Pick<UserRecord, "quota" | "usage">, adding: number): boolean {
  return user.quota > 0 && user.usage + adding > user.quota;
}
