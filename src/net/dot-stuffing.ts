// Dot-stuffing for the two protocols that end data with a lone ".": POP3
// multi-line responses (RFC 1939 §3) and SMTP DATA sent by the outbound
// client (RFC 5321 §4.5.2). Every line that starts with "." gets one more,
// and the data ends with CRLF "." CRLF. Works chunk by chunk, so a large
// message streams out without being held in memory. Pure, no I/O.
const DOT = 0x2e;
const LF = 0x0a;

export class DotStuffer {
  private atLineStart = true;
  private lastTwo: Buffer = Buffer.from("\r\n");

  /** The chunk with dots stuffed. */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const parts: Buffer[] = [];
    let start = 0;
    if (this.atLineStart && chunk[0] === DOT) parts.push(Buffer.from("."));
    let nl = chunk.indexOf(LF);
    while (nl !== -1 && nl + 1 < chunk.length) {
      if (chunk[nl + 1] === DOT) {
        parts.push(chunk.subarray(start, nl + 1), Buffer.from("."));
        start = nl + 1;
      }
      nl = chunk.indexOf(LF, nl + 1);
    }
    parts.push(start === 0 ? chunk : chunk.subarray(start));
    this.atLineStart = chunk[chunk.length - 1] === LF;
    this.lastTwo = chunk.length >= 2 ? chunk.subarray(chunk.length - 2) : Buffer.concat([this.lastTwo, chunk]).subarray(-2);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** The terminating line, with a CRLF first if the data did not end with one. */
  end(): Buffer {
    return Buffer.from(this.lastTwo.toString("latin1") === "\r\n" ? ".\r\n" : "\r\n.\r\n");
  }
}
