// Rules for authenticated senders (submission, RFC 6409 §4.3, §8): the
// envelope sender and the From: addresses must be the user's own address, a
// sub-address of it, or an alias that delivers to the user (553 5.7.1
// otherwise), and each user may send only so many messages and recipients
// per hour (451 4.7.1).
import type { CounterStore, DirectoryStore, UserRecord } from "../store/interfaces.js";
import { normalizeAddress, splitAddress } from "../directory/address.js";

const HOUR = 3_600_000;

/** True when `address` is one the user may send as. */
export async function ownsAddress(directory: DirectoryStore, user: UserRecord, address: string): Promise<boolean> {
  const normalized = normalizeAddress(address);
  if (!normalized) return false;
  if (normalized === user.address || user.sendAs === "any") return true;
  const { local, domain } = splitAddress(normalized);
  const plus = local.indexOf("+");
  if (plus > 0 && `${local.slice(0, plus)}@${domain}` === user.address) return true;
  const targets = await directory.getAlias(normalized);
  return targets?.includes(user.address) ?? false;
}

export interface SendingLimits {
  messagesPerHour: number;
  recipientsPerHour: number;
}

/** Counts one message with `recipients` recipients; false when the user is over a limit (nothing is counted then). */
export async function takeSendingAllowance(counters: CounterStore, user: UserRecord, recipients: number, limits: SendingLimits): Promise<boolean> {
  const messagesKey = `sent-messages:${user.id}`;
  const recipientsKey = `sent-recipients:${user.id}`;
  if ((await counters.count(messagesKey, HOUR)) + 1 > limits.messagesPerHour) return false;
  if ((await counters.count(recipientsKey, HOUR)) + recipients > limits.recipientsPerHour) return false;
  await counters.hit(messagesKey, HOUR);
  for (let i = 0; i < recipients; i++) await counters.hit(recipientsKey, HOUR);
  return true;
}
