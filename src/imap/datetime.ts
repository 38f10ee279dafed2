// IMAP dates: the date of SEARCH keys (BEFORE, ON, SINCE, SENT*) and the
// date-time of APPEND and INTERNALDATE.
//
// SECURITY: parses client text (attacker-controlled); never throws, checks
// every field's range (day within its month, leap years, hours, minutes,
// seconds 00-60, zone hours 00-23 and minutes 00-59).
//
// Implements RFC 9051 §9 / RFC 3501 §9:
//   date      = date-text / DQUOTE date-text DQUOTE   (the caller unquotes)
//   date-text = date-day "-" date-month "-" date-year; date-day = 1*2DIGIT
//   date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
//   date-day-fixed = (SP DIGIT) / 2DIGIT; time = 2DIGIT ":" 2DIGIT ":" 2DIGIT
//   zone = ("+" / "-") 4DIGIT; date-month = "Jan" / ... / "Dec" (any case, §9 note 1)
// A date-time with a one-digit day and no leading space ("1-Jul-...") is
// accepted too (lenient, as several clients send it); output always has the
// fixed form.

export type Result<T> = { ok: true; value: T } | { ok: false; error: string; code?: string };

/** A calendar date; m is 1-12. */
export interface ImapDate {
  y: number;
  m: number;
  d: number;
}

export interface ImapDateTime {
  date: Date;
  /** The zone the client gave, in minutes east of UTC. */
  offsetMinutes: number;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTH_INDEX = new Map(MONTHS.map((m, i) => [m.toUpperCase(), i + 1]));

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function checkDate(d: number, monthName: string, y: number): ImapDate | undefined {
  const m = MONTH_INDEX.get(monthName.toUpperCase());
  if (m === undefined || d < 1 || d > daysInMonth(y, m)) return undefined;
  return { y, m, d };
}

/** Parses date-text ("1-Feb-1994"). */
export function parseDate(text: string): Result<ImapDate> {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  const date = m ? checkDate(Number(m[1]), m[2]!, Number(m[3])) : undefined;
  return date ? { ok: true, value: date } : { ok: false, error: `Invalid date "${text.slice(0, 40)}" (expected e.g. 1-Feb-1994)` };
}

/** Parses date-time without its DQUOTEs ("17-Jul-1996 02:44:25 -0700"). */
export function parseDateTime(text: string): Result<ImapDateTime> {
  const bad: Result<ImapDateTime> = { ok: false, error: `Invalid date-time "${text.slice(0, 40)}" (expected e.g. 17-Jul-1996 02:44:25 -0700)` };
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (!m) return bad;
  const date = checkDate(Number(m[1]), m[2]!, Number(m[3]));
  const [hh, mm, ss, zh, zm] = [m[4], m[5], m[6], m[8], m[9]].map(Number) as [number, number, number, number, number];
  if (!date || hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59) return bad;
  const offsetMinutes = (m[7] === "-" ? -1 : 1) * (zh * 60 + zm);
  const local = new Date(0);
  local.setUTCFullYear(date.y, date.m - 1, date.d); // not Date.UTC: it maps years 0-99 to 19xx
  local.setUTCHours(hh, mm, ss, 0);
  return { ok: true, value: { date: new Date(local.getTime() - offsetMinutes * 60_000), offsetMinutes } };
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** date-time content for INTERNALDATE, without DQUOTEs: " 7-Jul-1996 02:44:25 -0700"
 * (date-day-fixed keeps a leading space). offsetMinutes: the zone to show, default +0000. */
export function formatDateTime(date: Date, offsetMinutes = 0): string {
  const ms = Number.isFinite(date.getTime()) ? date.getTime() : 0;
  const off = Number.isInteger(offsetMinutes) && Math.abs(offsetMinutes) < 24 * 60 ? offsetMinutes : 0;
  const t = new Date(ms + off * 60_000);
  const day = t.getUTCDate();
  const abs = Math.abs(off);
  return (
    `${day < 10 ? " " : ""}${day}-${MONTHS[t.getUTCMonth()]}-${String(t.getUTCFullYear()).padStart(4, "0")} ` +
    `${pad2(t.getUTCHours())}:${pad2(t.getUTCMinutes())}:${pad2(t.getUTCSeconds())} ${off < 0 ? "-" : "+"}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}`
  );
}

/** date-text: "1-Feb-1994". */
export function formatDate(date: ImapDate): string {
  return `${date.d}-${MONTHS[date.m - 1] ?? "Jan"}-${String(date.y).padStart(4, "0")}`;
}

/** Milliseconds of 00:00:00 on that date in the zone offsetMinutes east of UTC (SEARCH compares
 * INTERNALDATE in the server's zone, RFC 9051 §6.4.4, and Date: headers in their own zone). */
export function dateStartMs(date: ImapDate, offsetMinutes = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(date.y, date.m - 1, date.d);
  return d.getTime() - offsetMinutes * 60_000;
}

/** The calendar date of an instant, seen in the zone offsetMinutes east of UTC. */
export function dateOf(ms: number, offsetMinutes = 0): ImapDate {
  const t = new Date(ms + offsetMinutes * 60_000);
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

/** Negative, zero or positive as a is before, on or after b. */
export function compareDates(a: ImapDate, b: ImapDate): number {
  return a.y - b.y || a.m - b.m || a.d - b.d;
}
