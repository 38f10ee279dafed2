// SMTP load generator (run by hand, never part of npm test): N sessions share M
// messages of S bytes, each session sending MAIL/RCPT/DATA/. back to back on one
// connection; reports messages/s and latency percentiles. Pure node:net.
//   node dist/bench/smtp-load.js --host 127.0.0.1 --port 2525 --sessions 10 \
//     --messages 50000 --size 4096 --to user@bench.test [--pipelining] [--json]
import net from "node:net";
import os from "node:os";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { summary } from "./stats.js";

interface Options {
  host: string;
  port: number;
  sessions: number;
  messages: number;
  size: number;
  to: string[];
  from: string;
  pipelining: boolean;
  timeoutMs: number;
  json: boolean;
}

interface Stats {
  ok: number;
  errors: Map<string, number>;
  dataEnd: number[]; // ms from the final "." to its 250
  transaction: number[]; // ms from MAIL FROM to the 250 after "."
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "2525" },
      sessions: { type: "string", default: "10" },
      messages: { type: "string", default: "1000" },
      size: { type: "string", default: "4096" },
      to: { type: "string", multiple: true, default: ["user@bench.test"] },
      from: { type: "string", default: "sender@bench.test" },
      pipelining: { type: "boolean", default: false },
      timeout: { type: "string", default: "600" },
      json: { type: "boolean", default: false },
      "allow-non-loopback": { type: "boolean", default: false },
    },
  });
  const host = values.host;
  if (!values["allow-non-loopback"] && !/^(127\.|::1$|localhost$)/.test(host)) {
    throw new Error(`refusing to load ${host}: not a loopback address (pass --allow-non-loopback to insist)`);
  }
  return {
    host,
    port: Number(values.port),
    sessions: Math.max(1, Number(values.sessions)),
    messages: Math.max(1, Number(values.messages)),
    size: Math.max(256, Number(values.size)),
    to: values.to.flatMap((t) => t.split(",")).filter(Boolean),
    from: values.from,
    pipelining: values.pipelining,
    timeoutMs: Number(values.timeout) * 1000,
    json: values.json,
  };
}

/** Reads SMTP replies off a socket, in order; each resolves to "CODE text". */
class ReplyReader {
  private buffer = "";
  private lines: string[] = [];
  private waiting: { resolve: (r: string) => void; reject: (e: Error) => void }[] = [];
  private closed: Error | undefined;

  constructor(socket: net.Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf("\n")) >= 0) {
        const line = this.buffer.slice(0, nl).replace(/\r$/, "");
        this.buffer = this.buffer.slice(nl + 1);
        this.lines.push(line);
        if (!/^\d{3}-/.test(line)) this.waiting.shift()?.resolve(this.lines.splice(0).join("\n"));
      }
    });
    const fail = (err: Error) => {
      this.closed = err;
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("connection closed")));
  }

  next(): Promise<string> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
}

/** A synthetic RFC 5322 message of about `size` bytes; headers differ per message, the body is shared. */
function messageFactory(size: number, from: string, to: string[]) {
  const line = "The quick brown fox jumps over the lazy dog, again and again and again.\r\n"; // 72 + CRLF
  const header = (n: number) =>
    `From: Bench <${from}>\r\nTo: ${to.join(", ")}\r\nSubject: petrel bench message ${n}\r\n` +
    `Date: ${new Date().toUTCString().replace("GMT", "+0000")}\r\nMessage-ID: <${n}.${process.pid}.${Date.now()}@bench.test>\r\n` +
    `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n`;
  const bodySize = Math.max(0, size - header(0).length);
  const body = line.repeat(Math.floor(bodySize / line.length)) + "x".repeat(Math.max(0, (bodySize % line.length) - 2)) + "\r\n";
  return (n: number) => `${header(n)}${body}.\r\n`;
}

async function session(opts: Options, take: () => number | undefined, stats: Stats, deadline: number) {
  const makeMessage = messageFactory(opts.size, opts.from, opts.to);
  const socket = net.connect({ host: opts.host, port: opts.port });
  socket.setNoDelay(true);
  const replies = new ReplyReader(socket);
  const send = (text: string) => socket.write(text);
  const expect = async (stage: string, ok: RegExp) => {
    const reply = await replies.next();
    if (!ok.test(reply)) throw Object.assign(new Error(`${stage}: ${reply}`), { stage, reply });
    return reply;
  };
  const error = (key: string) => stats.errors.set(key, (stats.errors.get(key) ?? 0) + 1);
  try {
    await expect("greeting", /^220/);
    send(`EHLO ${os.hostname()}\r\n`);
    const ehlo = await expect("EHLO", /^250/);
    if (opts.pipelining && !/^250[- ]PIPELINING/im.test(ehlo)) throw new Error("the server does not offer PIPELINING");
    for (let n = take(); n !== undefined && performance.now() < deadline; n = take()) {
      const start = performance.now();
      const envelope = [`MAIL FROM:<${opts.from}>\r\n`, ...opts.to.map((t) => `RCPT TO:<${t}>\r\n`), "DATA\r\n"];
      try {
        if (opts.pipelining) {
          send(envelope.join(""));
          const answers = await Promise.all(envelope.map(() => replies.next()));
          const stage = (i: number) => envelope[i].split(/[: \r]/)[0];
          answers.slice(0, -1).forEach((a, i) => /^25/.test(a) || error(`${stage(i)} ${a.slice(0, 3)}`));
          const data = answers[answers.length - 1];
          if (!/^354/.test(data)) throw Object.assign(new Error(data), { stage: "DATA", reply: data });
        } else {
          for (const command of envelope) {
            send(command);
            await expect(command.split(/[: \r]/)[0], command.startsWith("DATA") ? /^354/ : /^25/);
          }
        }
        send(makeMessage(n));
        const dataEnd = performance.now();
        await expect("end of DATA", /^250/);
        const end = performance.now();
        stats.dataEnd.push(end - dataEnd);
        stats.transaction.push(end - start);
        stats.ok++;
      } catch (err) {
        const { stage, reply } = err as { stage?: string; reply?: string };
        if (!stage) throw err; // the connection failed
        error(`${stage} ${reply?.slice(0, 3)}`);
        send("RSET\r\n");
        await expect("RSET", /^250/);
      }
    }
    send("QUIT\r\n");
    await replies.next().catch(() => "");
  } catch (err) {
    error(`session: ${(err as Error).message.slice(0, 120)}`);
  } finally {
    socket.destroy();
  }
}


async function main() {
  const opts = options();
  const stats: Stats = { ok: 0, errors: new Map(), dataEnd: [], transaction: [] };
  let next = 0;
  const take = () => (next < opts.messages ? next++ : undefined);
  const started = performance.now();
  const deadline = started + opts.timeoutMs;
  await Promise.all(Array.from({ length: opts.sessions }, () => session(opts, take, stats, deadline)));
  const seconds = (performance.now() - started) / 1000;
  const result = {
    target: `${opts.host}:${opts.port}`,
    sessions: opts.sessions,
    messages: opts.messages,
    size: opts.size,
    recipients: opts.to.length,
    pipelining: opts.pipelining,
    accepted: stats.ok,
    errors: Object.fromEntries(stats.errors),
    seconds: Math.round(seconds * 1000) / 1000,
    messagesPerSecond: Math.round((stats.ok / seconds) * 10) / 10,
    dataEndTo250Ms: summary(stats.dataEnd),
    transactionMs: summary(stats.transaction),
  };
  if (opts.json) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`target ${result.target}: ${opts.sessions} sessions, ${opts.messages} messages of ${opts.size} bytes, ${opts.to.length} recipient(s)${opts.pipelining ? ", PIPELINING" : ""}`);
    console.log(`accepted ${stats.ok} in ${result.seconds} s = ${result.messagesPerSecond} messages/s`);
    console.log(`"." -> 250       p50 ${result.dataEndTo250Ms.p50} ms  p99 ${result.dataEndTo250Ms.p99} ms  max ${result.dataEndTo250Ms.max} ms`);
    console.log(`whole transaction p50 ${result.transactionMs.p50} ms  p99 ${result.transactionMs.p99} ms  max ${result.transactionMs.max} ms`);
    console.log(`errors: ${stats.errors.size ? JSON.stringify(result.errors) : "none"}`);
  }
  process.exitCode = stats.ok === opts.messages ? 0 : 1;
}

main().catch((err: Error) => {
  console.error(`smtp-load: ${err.message}`);
  process.exitCode = 2;
});
