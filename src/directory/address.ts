// Address normalisation for the directory: domains compare
// case-insensitively (RFC 5321 §2.4) and as A-labels (IDNA), and local parts
// compare case-insensitively too, as users expect (a documented choice; RFC
// 5321 §2.4 leaves it to the receiving host).
import { domainToASCII } from "node:url";

/** "Alice@Example.TEST" → "alice@example.test"; undefined when it is no address. */
export function normalizeAddress(text: string): string | undefined {
  const at = text.lastIndexOf("@");
  if (at <= 0 || at === text.length - 1) return undefined;
  const local = text.slice(0, at);
  const domain = normalizeDomain(text.slice(at + 1));
  if (!domain || /[\s<>(),;:\\\x00-\x1f\x7f]/.test(local.replace(/^".*"$/, ""))) return undefined;
  return `${local.toLowerCase()}@${domain}`;
}

/** Lower-case A-label form of a domain; undefined when it is not a valid domain name. */
export function normalizeDomain(text: string): string | undefined {
  if (text.startsWith("[") && text.endsWith("]")) return text.toLowerCase();
  const ascii = domainToASCII(text.trim());
  if (!ascii || ascii.length > 253 || ascii.endsWith(".")) return undefined;
  if (!ascii.split(".").every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label))) return undefined;
  return ascii;
}

export function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf("@");
  return at < 0 ? { local: address, domain: "" } : { local: address.slice(0, at), domain: address.slice(at + 1) };
}
