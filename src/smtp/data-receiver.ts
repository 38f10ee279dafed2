// The DATA phase of RFC 5321 §4.1.1.4 as a streaming transform: finds the
// end of data (only CRLF "." CRLF counts, so bare-LF tricks cannot smuggle a
// second message, the "SMTP smuggling" of 2023), removes dot-stuffing
// (§4.5.2), stores line ends as CRLF, and counts what the limits need —
// size (RFC 1870), line length (§4.5.3.1.6) and the Received headers of the
// header block (loop detection, §6.3) — without ever holding the message.
import { isAscii } from "node:buffer";

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from("\r\n");
const MAX_HEADER_SCAN = 256 * 1024;

export interface DataLimits {
  maxSize: number;
}

export interface DataResult {
  size: number;
  tooBig: boolean;
  longestLine: number;
  receivedHeaders: number;
  /** The header block (bounded), latin1, for policy checks such as From: ownership. */
  header: string;
  /** False when the header block was longer than the scan limit (so `header` is cut short). */
  headerComplete: boolean;
  /** Some byte of the message is not ASCII (8BITMIME or SMTPUTF8 needed to relay it, RFC 6152 §3). */
  eightBit: boolean;
  /** Bytes received after the terminating "." line (pipelined commands). */
  rest: Buffer;
}

export class DataReceiver {
  private carry: Buffer | undefined;
  private atLineStart = true;
  private lastWasCR = false;
  private prevLineCRLF = true;
  private lineLength = 0;
  private size = 0;
  private tooBig = false;
  private longestLine = 0;
  private header: Buffer[] = [];
  private headerBytes = 0;
  private headerDone = false;
  private receivedHeaders = 0;
  private headerText = "";
  private headerComplete = true;
  private eightBit = false;

  constructor(private readonly limits: DataLimits, private readonly sink: (chunk: Buffer) => Promise<void> | void) {}

  /** Feeds bytes from the socket; resolves to a result once the end of data was seen. */
  async push(input: Buffer): Promise<DataResult | undefined> {
    const buf = this.carry ? Buffer.concat([this.carry, input]) : input;
    this.carry = undefined;
    let pos = 0;
    const out: Buffer[] = [];
    while (pos < buf.length) {
      if (this.atLineStart && buf[pos] === DOT) {
        const nl = buf.indexOf(LF, pos);
        if (nl === -1 && buf.length - pos < 3) {
          this.carry = buf.subarray(pos);
          break;
        }
        if (nl === pos + 2 && buf[pos + 1] === CR && this.prevLineCRLF) {
          await this.emit(out);
          this.finishHeader();
          return {
            size: this.size, tooBig: this.tooBig, longestLine: this.longestLine, receivedHeaders: this.receivedHeaders,
            header: this.headerText, headerComplete: this.headerComplete, eightBit: this.eightBit, rest: buf.subarray(nl + 1),
          };
        }
        pos += 1; // dot-stuffing: the first dot of a line is not data
        this.lineLength = 1;
      }
      this.atLineStart = false;
      const nl = buf.indexOf(LF, pos);
      if (nl === -1) {
        const tail = buf.subarray(pos);
        out.push(tail);
        this.lineLength += tail.length;
        this.lastWasCR = tail[tail.length - 1] === CR;
        break;
      }
      const crBefore = nl > pos ? buf[nl - 1] === CR : this.lastWasCR;
      if (crBefore) {
        out.push(buf.subarray(pos, nl + 1));
      } else {
        out.push(buf.subarray(pos, nl), CRLF); // a bare LF is stored as CRLF
      }
      this.prevLineCRLF = crBefore;
      this.lineLength += nl + 1 - pos + (crBefore ? 0 : 1);
      if (this.lineLength > this.longestLine) this.longestLine = this.lineLength;
      this.lineLength = 0;
      this.lastWasCR = false;
      this.atLineStart = true;
      pos = nl + 1;
    }
    if (this.lineLength > this.longestLine) this.longestLine = this.lineLength;
    await this.emit(out);
    return undefined;
  }

  private async emit(chunks: Buffer[]): Promise<void> {
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      this.size += chunk.length;
      if (!this.eightBit && !isAscii(chunk)) this.eightBit = true;
      if (!this.headerDone) this.scanHeader(chunk);
      if (this.size > this.limits.maxSize) {
        this.tooBig = true;
        continue;
      }
      await this.sink(chunk);
    }
  }

  /**
   * Keeps the header block (bounded) to count Received lines when it ends.
   * Only the new bytes (and the three before them) are searched for the
   * blank line, so a long header costs linear time.
   */
  private scanHeader(chunk: Buffer): void {
    const before = this.headerBytes;
    this.header.push(chunk);
    this.headerBytes += chunk.length;
    const tail = this.headerTail(before, chunk);
    const found = before === 0 && chunk.subarray(0, 2).equals(CRLF) ? 0 : tail.buffer.indexOf("\r\n\r\n");
    if (found !== -1) {
      const end = before === 0 && found === 0 && chunk.subarray(0, 2).equals(CRLF) ? 0 : tail.offset + found + 2;
      this.header = [Buffer.concat(this.header).subarray(0, end)];
      this.finishHeader();
    } else if (this.headerBytes > MAX_HEADER_SCAN) {
      this.headerComplete = false;
      this.finishHeader();
    }
  }

  /** The new chunk with up to three bytes before it, and where that starts in the header. */
  private headerTail(before: number, chunk: Buffer): { buffer: Buffer; offset: number } {
    const back = Math.min(3, before);
    if (back === 0) return { buffer: chunk, offset: 0 };
    const previous = Buffer.concat(this.header.slice(-4, -1)).subarray(-back);
    return { buffer: Buffer.concat([previous, chunk]), offset: before - previous.length };
  }

  private finishHeader(): void {
    if (this.headerDone) return;
    this.headerDone = true;
    const text = Buffer.concat(this.header).toString("latin1");
    this.headerText = text;
    this.receivedHeaders = (text.match(/^Received[ \t]*:/gim) ?? []).length;
    this.header = [];
  }
}
