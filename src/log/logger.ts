// Structured logging: one event per line, JSON when stdout is not a terminal,
// a short human line when it is. Message-related events carry the queue id
// (`qid`) and session id (`sid`) so one grep follows a message through Petrel.
import { pino, type Logger, type DestinationStream } from "pino";

export type { Logger };

export function createLogger(level: string = "info", stream: NodeJS.WritableStream = process.stdout): Logger {
  const tty = (stream as NodeJS.WriteStream).isTTY === true;
  const destination: DestinationStream = tty ? humanStream(stream) : (stream as DestinationStream);
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, destination);
}

/** Renders pino's JSON as "time level msg key=value ..." for people at a terminal. */
function humanStream(out: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string) {
      try {
        const { time, level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
        out.write(`${String(time).slice(11, 23)} ${String(level).padEnd(5)} ${msg ?? ""} ${fields.join(" ")}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}

export const silentLogger: Logger = pino({ level: "silent" });
