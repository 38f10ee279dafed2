// Password hashing with scrypt (node:crypto, memory-hard; RFC 7914), stored as
// "$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>". Trusted with plaintext
// passwords only for the length of one call; comparisons are constant-time.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from "node:crypto";

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );

const DEFAULT_LOG_N = 15;
const KEY_LENGTH = 32;

export async function hashPassword(password: string, logN = DEFAULT_LOG_N): Promise<string> {
  const salt = randomBytes(16);
  const params = { N: 2 ** logN, r: 8, p: 1, maxmem: 256 * 2 ** logN * 8 };
  const key = await scrypt(password.normalize("NFC"), salt, KEY_LENGTH, params);
  return `$scrypt$ln=${logN},r=8,p=1$${salt.toString("base64")}$${key.toString("base64")}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return false;
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (logN < 10 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const expected = Buffer.from(m[5], "base64");
  const key = await scrypt(password.normalize("NFC"), Buffer.from(m[4], "base64"), expected.length, {
    N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r * 2,
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
