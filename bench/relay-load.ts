// Outbound relay benchmark (run by hand, never part of npm test), two modes:
//
//   node dist/bench/relay-load.js --port 2529 --sink-counter FILE --messages 10000 \
//     [--sessions 10] [--size 4096] [--to user@sink.test] [--timeout 900] [--settle 3] [--json]
//       Runs bench/smtp-load.ts against a relaying server (the load: --sessions
//       sessions sharing --messages messages, recipient --to) while watching the
//       running counter of Postfix's smtp-sink (its `-c` output, redirected to
//       FILE), and reports: messages accepted and the acceptance rate (smtp-load's
//       figures), and the time from the start of the load until the sink had
//       received them all, i.e. the end-to-end relay rate. After that it waits
//       --settle seconds and reads the counter again, so duplicates show up. It also
//       reports the CPU time the whole machine was busy meanwhile (/proc/stat).
//
//   node dist/bench/relay-load.js dns [PORT]   (default 5397)
//       A loopback DNS stub for the relaying Petrel: MX of sink.test -> mx.sink.test,
//       A of mx.sink.test -> 127.0.0.9 (where smtp-sink listens), and the PTR
//       of 127.0.0.1 as bench/dns-stub.ts answers it. Everything else: NXDOMAIN.
import fs from "node:fs";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import { startDnsServer } from "../test/helpers/dns-server.js";

const SINK_ADDRESS = "127.0.0.9";

/** The last "mesg=N" in smtp-sink's -c output (counters separated by \r), 0 while it is empty. */
function sinkCount(file: string): number {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, "r");
    const size = fs.fstatSync(fd).size;
    const tail = Buffer.alloc(Math.min(size, 256));
    fs.readSync(fd, tail, 0, tail.length, size - tail.length);
    const all = [...tail.toString("latin1").matchAll(/mesg=(\d+)/g)];
    return all.length ? Number(all[all.length - 1][1]) : 0;
  } catch {
    return 0;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Busy and total CPU time of the whole machine so far, in seconds (from /proc/stat; zeros elsewhere). */
function machineCpu(): { busy: number; total: number } {
  try {
    const fields = fs.readFileSync("/proc/stat", "latin1").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = fields[3] + fields[4]; // idle + iowait
    return { busy: (total - idle) / 100, total: total / 100 }; // USER_HZ is 100 on Linux
  } catch {
    return { busy: 0, total: 0 };
  }
}

async function dnsStub(port: number) {
  const server = await startDnsServer(
    {
      mx: { "sink.test": [{ preference: 10, exchange: "mx.sink.test" }] },
      a: { "mx.sink.test": [SINK_ADDRESS], "localhost.bench.test": ["127.0.0.1"] },
      ptr: { "127.0.0.1": "localhost.bench.test" },
    },
    "127.0.0.1",
    port,
  );
  process.stdout.write(`relay dns stub on ${server.address}: MX sink.test -> mx.sink.test -> ${SINK_ADDRESS}\n`);
  process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
}

async function measure() {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
      sessions: { type: "string", default: "10" },
      messages: { type: "string", default: "10000" },
      size: { type: "string", default: "4096" },
      to: { type: "string", default: "user@sink.test" },
      "sink-counter": { type: "string" },
      timeout: { type: "string", default: "900" },
      settle: { type: "string", default: "3" },
      json: { type: "boolean", default: false },
    },
  });
  if (!values.port || !values["sink-counter"]) throw new Error("--port and --sink-counter are required");
  const counter = values["sink-counter"];
  const messages = Number(values.messages);
  const base = sinkCount(counter);
  const cpuBefore = machineCpu();
  const started = performance.now();
  const deadline = started + Number(values.timeout) * 1000;

  // The load, as a child process: smtp-load's own figures (accepted, messages/s, latencies) in JSON.
  const load = spawn(
    process.execPath,
    [fileURLToPath(new URL("./smtp-load.js", import.meta.url)), "--host", values.host, "--port", values.port,
      "--sessions", values.sessions, "--messages", values.messages, "--size", values.size, "--to", values.to, "--json"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  load.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  let loadEnded: number | undefined;
  let atSinkWhenLoadEnded = 0;
  const loadDone = new Promise<void>((resolve) => load.on("close", () => {
    loadEnded = performance.now();
    atSinkWhenLoadEnded = sinkCount(counter) - base;
    resolve();
  }));

  // The sink's counter, every 20 ms, until all the messages are there (or the time is up).
  let firstAtSink: number | undefined;
  let lastAtSink: number | undefined;
  let cpuAtEnd: { busy: number; total: number } | undefined;
  for (;;) {
    const n = sinkCount(counter) - base;
    const now = performance.now();
    if (n > 0 && firstAtSink === undefined) firstAtSink = now;
    if (n >= messages) {
      lastAtSink = now;
      cpuAtEnd = machineCpu();
      break;
    }
    if (now > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await loadDone;
  await new Promise((resolve) => setTimeout(resolve, Number(values.settle) * 1000));
  const atSink = sinkCount(counter) - base;

  const loaded = JSON.parse(out.trim().split("\n").pop() || "{}") as { accepted?: number; seconds?: number; messagesPerSecond?: number; errors?: object; dataEndTo250Ms?: object };
  // Times count from the start of the load as smtp-load saw it (its run time back from its exit),
  // so the child's start-up is not in them and both rates share one origin.
  const origin = loaded.seconds !== undefined && loadEnded !== undefined ? loadEnded - loaded.seconds * 1000 : started;
  const s = (t: number | undefined) => (t === undefined ? null : Math.round(Math.max(0, t - origin) / 10) / 100);
  const relaySeconds = s(lastAtSink);
  const result = {
    target: `${values.host}:${values.port}`,
    messages,
    accepted: loaded.accepted ?? 0,
    acceptSeconds: loaded.seconds ?? s(loadEnded),
    acceptedPerSecond: loaded.messagesPerSecond ?? null,
    dataEndTo250Ms: loaded.dataEndTo250Ms ?? null,
    loadErrors: loaded.errors ?? null,
    firstAtSinkSeconds: s(firstAtSink),
    atSinkWhenLoadEnded,
    relaySeconds,
    relayedPerSecond: relaySeconds ? Math.round((messages / relaySeconds) * 10) / 10 : null,
    atSink,
    // CPU time the whole machine spent (load tool, server, sink, kernel) until the last message was at the sink.
    machineCpuSeconds: cpuAtEnd ? Math.round((cpuAtEnd.busy - cpuBefore.busy) * 10) / 10 : null,
    machineCpuPercent: cpuAtEnd && cpuAtEnd.total > cpuBefore.total
      ? Math.round((1000 * (cpuAtEnd.busy - cpuBefore.busy)) / (cpuAtEnd.total - cpuBefore.total)) / 10 : null,
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(`target ${result.target}: ${values.sessions} sessions, ${messages} messages of ${values.size} bytes to ${values.to}`);
    console.log(`accepted ${result.accepted} in ${result.acceptSeconds} s = ${result.acceptedPerSecond} messages/s (errors: ${JSON.stringify(result.loadErrors)})`);
    console.log(`at the sink: first after ${result.firstAtSinkSeconds} s, ${atSinkWhenLoadEnded} when the load ended, all ${messages} after ${relaySeconds ?? "(never)"} s = ${result.relayedPerSecond} messages/s end to end`);
    console.log(`at the sink ${values.settle} s later: ${atSink}`);
    console.log(`machine CPU until then: ${result.machineCpuSeconds} s busy (${result.machineCpuPercent} % of all cores), load tool and sink included`);
  }
  process.exitCode = result.accepted === messages && atSink === messages ? 0 : 1;
}

const main = process.argv[2] === "dns" ? dnsStub(Number(process.argv[3] ?? 5397)) : measure();
main.catch((err: Error) => {
  console.error(`relay-load: ${err.message}`);
  process.exitCode = 2;
});
