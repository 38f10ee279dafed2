// Queue ids: one per accepted message, logged on every line about it.
// Time-ordered (so `ls` and `queue list` sort by arrival) and unique without
// coordination: milliseconds in base 32 plus 40 random bits.
import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZ";

function base32(value: bigint, width: number): string {
  let out = "";
  for (let i = 0; i < width; i++) {
    out = ALPHABET[Number(value % 31n)] + out;
    value /= 31n;
  }
  return out;
}

export function newQueueId(now = Date.now()): string {
  const random = BigInt(`0x${randomBytes(5).toString("hex")}`);
  return base32(BigInt(now), 9) + base32(random, 8);
}

export const QUEUE_ID_PATTERN = /^[0-9A-Z]{6,40}$/;
