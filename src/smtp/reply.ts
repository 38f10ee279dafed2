// SMTP replies (RFC 5321 §4.2): a three-digit code, an RFC 3463 enhanced
// status code (RFC 2034) and text, several lines joined with "-".
export interface Reply {
  code: number;
  enhanced?: string;
  text: string | string[];
}

export function formatReply(reply: Reply): string {
  const lines = Array.isArray(reply.text) ? reply.text : [reply.text];
  const prefix = reply.enhanced ? `${reply.enhanced} ` : "";
  return lines
    .map((line, i) => `${reply.code}${i === lines.length - 1 ? " " : "-"}${i === 0 || reply.enhanced ? prefix : ""}${line.replace(/[\r\n]/g, " ")}\r\n`)
    .join("");
}

export const reply = (code: number, enhanced: string | undefined, text: string | string[]): Reply => ({ code, enhanced, text });
