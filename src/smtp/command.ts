// SMTP command lines: splits one line into verb and argument, and checks the
// EHLO/HELO name. Trusted with raw client text (attacker-controlled): never
// throws, does no I/O. Implements RFC 5321 §4.1.1 (command syntax: verb, one
// space, argument), §4.1.1.1 and §4.1.3 (EHLO/HELO domain or address literal).
// MAIL/RCPT arguments are parsed in address.ts.
import { parseDomain } from "./address.js";

export interface SmtpCommand {
  /** upper-cased, e.g. "MAIL", "EHLO", "STARTTLS" */
  verb: string;
  /** the text after the verb and one separating space, trailing whitespace trimmed */
  arg: string;
}

export const MAX_VERB_LENGTH = 20;
/** RFC 5321 §4.5.3.1.2: a domain is at most 255 octets; an address literal is shorter. */
const MAX_HELO_OCTETS = 255;

const isLetter = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isBlank = (c: number): boolean => c === 0x20 || c === 0x09;

/**
 * Splits one command line (without CRLF). Returns undefined for an empty line
 * or a verb that is not 1-20 ASCII letters. Leading blanks are skipped and SP
 * or HTAB separates the verb (lenient, like Postfix); only trailing SP/HTAB is
 * trimmed, so a stray CR stays visible to the caller.
 */
export function parseCommandLine(line: string): SmtpCommand | undefined {
  let start = 0;
  while (start < line.length && isBlank(line.charCodeAt(start))) start++;
  let end = start;
  while (end < line.length && end - start <= MAX_VERB_LENGTH && isLetter(line.charCodeAt(end))) end++;
  const length = end - start;
  if (length === 0 || length > MAX_VERB_LENGTH) return undefined;
  if (end < line.length && !isBlank(line.charCodeAt(end))) return undefined;
  const verb = line.slice(start, end).toUpperCase();
  return { verb, arg: line.slice(end + 1).replace(/[ \t]+$/, "") };
}

/** Controls (C0, DEL, C1), lone surrogates, and any kind of space. */
const BAD_HELO = /[\p{Cc}\p{Cs}\p{Z}]/u;

/**
 * Validates an EHLO/HELO argument. Lenient like Postfix: any non-empty token
 * without spaces or control characters is accepted (surrounding blanks are
 * removed); use isStrictHeloName for the RFC 5321 syntax check.
 */
export function parseHeloName(arg: string): { ok: true; name: string } | { ok: false; message: string } {
  const name = arg.replace(/^[ \t]+|[ \t]+$/g, "");
  if (name === "") return { ok: false, message: "Syntax: EHLO hostname" };
  if (BAD_HELO.test(name)) return { ok: false, message: "Invalid EHLO hostname (spaces or control characters)" };
  if (Buffer.byteLength(name, "utf8") > MAX_HELO_OCTETS) return { ok: false, message: "EHLO hostname too long" };
  return { ok: true, name };
}

/**
 * True when the name is an RFC 5321 Domain (LDH labels, or U-labels) or an
 * address literal [IPv4] / [IPv6:...] — what Postfix's
 * reject_invalid_helo_hostname checks. The session decides whether to enforce it.
 */
export function isStrictHeloName(name: string): boolean {
  return parseDomain(name).ok;
}
