// IMAP URLs of CATENATE (RFC 4469 §5, RFC 5092 §3): the relative form
// "/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=spec][/;PARTIAL=offset[.length]]"
// naming a part of a message in one of the user's own mailboxes. Trusted
// with client text: it only ever resolves names in the logged-in user's
// store; anything else (other users, hosts, URLAUTH) is a BADURL.
import { decodeMutf7 } from "./mutf7.js";

export interface ImapUrl {
  mailbox: string;
  uidValidity?: number;
  uid: number;
  section?: { part: number[]; text?: "HEADER" | "TEXT" | "MIME" };
  partial?: { offset: number; length?: number };
}

/** Parses a relative IMAP URL; undefined when it is not one this server resolves. */
export function parseImapUrl(url: string, utf8: boolean): ImapUrl | undefined {
  if (!url.startsWith("/") || url.startsWith("//")) return undefined;
  const pieces = url.slice(1).split("/;");
  if (pieces.length < 2) return undefined;
  const [boxPart, ...params] = pieces;
  const [encoded, validity] = boxPart.split(/;uidvalidity=/i);
  let name: string;
  try {
    name = decodeURIComponent(encoded.replace(/\/$/, ""));
  } catch {
    return undefined;
  }
  if (!utf8) {
    const decoded = decodeMutf7(name);
    if (decoded === undefined) return undefined;
    name = decoded;
  }
  if (name.toUpperCase() === "INBOX") name = "INBOX";
  const result: Partial<ImapUrl> = { mailbox: name };
  if (validity !== undefined) {
    if (!/^\d{1,10}$/.test(validity)) return undefined;
    result.uidValidity = Number(validity);
  }
  for (const param of params) {
    const m = /^([a-z]+)=(.*)$/i.exec(param.replace(/\/$/, ""));
    if (!m) return undefined;
    const value = m[2];
    switch (m[1].toUpperCase()) {
      case "UID":
        if (!/^[1-9]\d{0,9}$/.test(value)) return undefined;
        result.uid = Number(value);
        break;
      case "SECTION": {
        const s = /^((?:[1-9]\d*\.)*[1-9]\d*)?(?:\.?(HEADER|TEXT|MIME))?$/i.exec(value);
        if (!s || value === "") return undefined;
        const text = s[2]?.toUpperCase() as "HEADER" | "TEXT" | "MIME" | undefined;
        const part = s[1] ? s[1].split(".").map(Number) : [];
        if (text === "MIME" && part.length === 0) return undefined;
        result.section = text ? { part, text } : { part };
        break;
      }
      case "PARTIAL": {
        const p = /^(\d{1,10})(?:\.([1-9]\d{0,9}))?$/.exec(value);
        if (!p) return undefined;
        result.partial = p[2] ? { offset: Number(p[1]), length: Number(p[2]) } : { offset: Number(p[1]) };
        break;
      }
      default:
        return undefined; // URLAUTH and the like are not offered
    }
  }
  return result.uid ? (result as ImapUrl) : undefined;
}
