// Arguments of the session commands: ENABLE, ID, LOGIN, AUTHENTICATE, and
// the commands that take no arguments (CAPABILITY, NOOP, LOGOUT, IDLE, ...).
//
// SECURITY: every token is client data (attacker-controlled); the parsers
// never throw and return the Result of args.ts. Limits: ID (RFC 2971 §3.3)
// 30 pairs, field 30 and value 1024 octets.
//
// Implements (ABNF of RFC 9051 §9 unless noted): enable, id (RFC 2971 §4),
// login, authenticate (RFC 4959 SASL-IR), and the commands without
// arguments.
import type { Token } from "./reader.js";
import { astring, fail, keyword, listArg, noMore, ok, type Result } from "./args.js";

/** Commands without arguments: CAPABILITY, NOOP, LOGOUT, STARTTLS, NAMESPACE, CHECK, CLOSE, UNSELECT, EXPUNGE, IDLE. */
export function parseNoArgs(args: readonly Token[], command: string): Result<true> {
  return args.length > 0 ? fail(`${command} takes no arguments`) : ok(true);
}

// ---------------------------------------------------------------- ENABLE

/** ENABLE capability *(SP capability): upper-cased. */
export function parseEnable(args: readonly Token[]): Result<string[]> {
  if (args.length === 0) return fail("ENABLE needs at least one capability");
  const out: string[] = [];
  for (const t of args) {
    const k = keyword(t, "capability");
    if (!k.ok) return k;
    out.push(k.value);
  }
  return ok(out);
}

// ---------------------------------------------------------------- ID, LOGIN, AUTHENTICATE

export const ID_MAX_PAIRS = 30;
export const ID_MAX_FIELD = 30;
export const ID_MAX_VALUE = 1024;

/** ID ("(" *(string SP nstring) ")" / NIL), RFC 2971 §3.3 limits; null for NIL. Field names must
 * be unique (any case). Atoms are tolerated where the RFC says string. */
export function parseId(args: readonly Token[]): Result<Array<[string, string | null]> | null> {
  const more = noMore(args, 1, "ID (fields) or ID NIL");
  if (!more.ok) return more;
  if (args[0]?.t === "nil") return ok(null);
  const list = listArg(args[0], "ID parameters");
  if (!list.ok) return list;
  if (list.value.length % 2 !== 0) return fail("ID parameters must be field/value pairs");
  if (list.value.length / 2 > ID_MAX_PAIRS) return fail(`More than ${ID_MAX_PAIRS} ID pairs`);
  const out: Array<[string, string | null]> = [];
  const seen = new Set<string>();
  for (let k = 0; k < list.value.length; k += 2) {
    const field = astring(list.value[k], "ID field");
    if (!field.ok) return field;
    const v = list.value[k + 1];
    const value = v?.t === "nil" ? ok(null) : astring(v, "ID value");
    if (!value.ok) return value;
    if (Buffer.byteLength(field.value) > ID_MAX_FIELD) return fail(`ID field longer than ${ID_MAX_FIELD} octets`);
    if (value.value !== null && Buffer.byteLength(value.value) > ID_MAX_VALUE) return fail(`ID value longer than ${ID_MAX_VALUE} octets`);
    const key = field.value.toLowerCase();
    if (seen.has(key)) return fail(`Duplicate ID field ${field.value}`);
    seen.add(key);
    out.push([field.value, value.value]);
  }
  return ok(out);
}

/** LOGIN userid password (astrings, UTF-8). */
export function parseLogin(args: readonly Token[]): Result<{ user: string; password: string }> {
  const user = astring(args[0], "user name");
  if (!user.ok) return user;
  const password = astring(args[1], "password");
  if (!password.ok) return password;
  const more = noMore(args, 2, "LOGIN user password");
  return more.ok ? ok({ user: user.value, password: password.value }) : more;
}

/** AUTHENTICATE mechanism [initial-response] (RFC 4959: base64 or "=" for empty). */
export function parseAuthenticate(args: readonly Token[]): Result<{ mechanism: string; initialResponse?: string }> {
  const mechanism = keyword(args[0], "SASL mechanism");
  if (!mechanism.ok) return mechanism;
  const more = noMore(args, 2, "AUTHENTICATE mechanism [initial-response]");
  if (!more.ok) return more;
  if (args.length === 1) return ok({ mechanism: mechanism.value });
  const ir = args[1]!;
  if (ir.t !== "atom" || !/^(=|[A-Za-z0-9+/]+={0,2})$/.test(ir.v)) return fail("Invalid SASL initial response (expected base64 or =)");
  return ok({ mechanism: mechanism.value, initialResponse: ir.v });
}
