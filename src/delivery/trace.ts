// Trace headers (RFC 5321 §4.4, RFC 5322 §3.6.7): the Received line written
// when a message is accepted, and the Return-Path and Delivered-To lines
// added at final delivery. Protocol names per RFC 3848 and RFC 6531.
import { formatRfc5322Date } from "../mime/date.js";

export interface ReceivedInfo {
  /** EHLO/HELO argument as the client gave it. */
  helo?: string;
  clientAddress?: string;
  /** Verified reverse-DNS name of the client, when it has one. */
  clientName?: string;
  protocol: string;
  tls?: { version: string; cipher: string };
  /** Authenticated user, when any (stays out of the header unless configured; logged). */
  hostname: string;
  queueId: string;
  /** The one envelope recipient, for a "for" clause; omitted for several (privacy). */
  recipient?: string;
  /** Local submission: the uid of the program that ran `petrel sendmail`. */
  localUid?: number;
  date: Date;
}

/** RFC 3848 / RFC 6531 protocol keyword: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA, UTF8SMTPS... */
export function protocolName(opts: { extended: boolean; tls: boolean; auth: boolean; utf8: boolean }): string {
  if (!opts.extended) return "SMTP";
  return `${opts.utf8 ? "UTF8SMTP" : "ESMTP"}${opts.tls ? "S" : ""}${opts.auth ? "A" : ""}`;
}

export function receivedHeader(info: ReceivedInfo): string {
  const parts: string[] = [];
  if (info.localUid !== undefined) {
    parts.push(`by ${info.hostname} (Petrel, from userid ${info.localUid})`);
  } else {
    const client = [info.clientName ?? "unknown", `[${info.clientAddress ?? "unknown"}]`].join(" ");
    parts.push(`from ${sanitize(info.helo ?? "unknown")} (${client})`);
    parts.push(`by ${info.hostname} (Petrel) with ${info.protocol}`);
    if (info.tls) parts.push(`(version=${info.tls.version} cipher=${info.tls.cipher})`);
  }
  parts.push(`id ${info.queueId}`);
  if (info.recipient) parts.push(`for <${sanitize(info.recipient)}>`);
  return `Received: ${parts.join("\r\n\t")};\r\n\t${formatRfc5322Date(info.date)}\r\n`;
}

/** Return-Path and Delivered-To, prepended per recipient at final delivery. */
export function deliveryHeaders(sender: string, recipient: string): string {
  return `Return-Path: <${sanitize(sender)}>\r\nDelivered-To: ${sanitize(recipient)}\r\n`;
}

/** Client-supplied text may not break the header: no CR, LF, NUL, or other controls. */
function sanitize(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, "?").slice(0, 255);
}
