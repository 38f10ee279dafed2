// How much memory an idle IMAP client costs the server: opens N connections
// to an IMAP listener on loopback, each logs in (users spread over
// user1..userU), SELECTs INBOX and enters IDLE, then reads the server's
// resident memory (VmRSS of --pid) and prints one JSON line: connections in
// IDLE, RSS before and after, and the difference per connection. Works
// against any IMAP server (Petrel, Dovecot); run by hand, never in npm test.
//   node dist/bench/imap-idle.js --port 2143 --pid PID --connections 10000 --users 100 --user-format 'user%d@bench.test' --password bench
// A server of many processes (Dovecot: one `imap` process per connection):
// --pids-command CMD instead of --pid, a shell command printing the pids to
// add up, run before and after (e.g. 'cat run/master.pid; pgrep -P "$(cat
// run/master.pid)"'). RSS counts shared pages (libraries, the binary) once per
// process; the proportional set size (Pss, /proc/PID/smaps_rollup) shares them
// out, so the "pss" fields are the fairer sum for many processes.
// --settle SECONDS: wait before the second reading (default 3; longer for
// Dovecot's imap_hibernate_timeout).
// Neither RSS nor Pss counts what the kernel keeps per process: "kernel" is the
// growth of the machine's page tables and kernel stacks (/proc/meminfo
// PageTables + KernelStack) meanwhile, whoever caused it.
import net from "node:net";
import fs from "node:fs";
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    pid: { type: "string" },
    connections: { type: "string", default: "10000" },
    users: { type: "string", default: "100" },
    "user-format": { type: "string", default: "user%d@bench.test" },
    password: { type: "string", default: "bench" },
    parallel: { type: "string", default: "50" },
    "pids-command": { type: "string" },
    settle: { type: "string", default: "3" },
  },
});
if (!values.port || (!values.pid && !values["pids-command"])) throw new Error("--port and --pid (or --pids-command) are required");
if (!values.host!.startsWith("127.")) throw new Error("loopback only");
const port = Number(values.port);
const total = Number(values.connections);
const users = Number(values.users);
const parallel = Number(values.parallel);

function rssKb(pid: string): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
}

function pssKb(pid: string): number {
  const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
}

/** PageTables + KernelStack of the whole machine, kB. */
function kernelKb(): number {
  const info = fs.readFileSync("/proc/meminfo", "utf8");
  return ["PageTables", "KernelStack"].reduce((sum, key) => sum + Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(info)?.[1] ?? 0), 0);
}

/** RSS and Pss of --pid, or summed over the pids --pids-command prints (a process gone meanwhile counts 0). */
function memory(): { processes: number; rss: number; pss: number; kernel: number } {
  const pids = values["pids-command"]
    ? [...new Set(execFileSync("sh", ["-c", values["pids-command"]], { encoding: "utf8" }).split(/\s+/).filter((p) => /^\d+$/.test(p)))]
    : [values.pid!];
  let rss = 0, pss = 0, processes = 0;
  for (const pid of pids) {
    try {
      const r = rssKb(pid), p = pssKb(pid);
      rss += r; pss += p; processes++;
    } catch { /* exited between listing and reading */ }
  }
  return { processes, rss, pss, kernel: kernelKb() };
}

/** One client: LOGIN, SELECT INBOX, IDLE; resolves when the server says "+ idling" (any continuation). */
function idleClient(index: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: values.host, port });
    let buffer = "";
    let step = 0;
    const user = values["user-format"]!.replace("%d", String((index % users) + 1));
    socket.setEncoding("latin1");
    socket.on("error", reject);
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      for (;;) {
        const nl = buffer.indexOf("\r\n");
        if (nl === -1) return;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (step === 0 && line.startsWith("* OK")) {
          socket.write(`a LOGIN "${user}" "${values.password}"\r\n`);
          step = 1;
        } else if (step === 1 && line.startsWith("a ")) {
          if (!line.startsWith("a OK")) return reject(new Error(`login ${user}: ${line}`));
          socket.write("b SELECT INBOX\r\n");
          step = 2;
        } else if (step === 2 && line.startsWith("b ")) {
          if (!line.startsWith("b OK")) return reject(new Error(`select: ${line}`));
          socket.write("c IDLE\r\n");
          step = 3;
        } else if (step === 3 && line.startsWith("+")) {
          step = 4;
          resolve(socket);
        }
      }
    });
  });
}

const before = memory();
const sockets: net.Socket[] = [];
const started = Date.now();
for (let i = 0; i < total; i += parallel) {
  const batch = await Promise.all(Array.from({ length: Math.min(parallel, total - i) }, (_, k) => idleClient(i + k)));
  sockets.push(...batch);
}
const setupSeconds = (Date.now() - started) / 1000;
await new Promise((r) => setTimeout(r, Number(values.settle) * 1000)); // let the server settle (GC, hibernation) before reading memory
const after = memory();
const mb = (kb: number) => +(kb / 1024).toFixed(1);
console.log(JSON.stringify({
  connections: sockets.length, setupSeconds, rssBeforeMb: mb(before.rss), rssAfterMb: mb(after.rss),
  perConnectionKb: +((after.rss - before.rss) / sockets.length).toFixed(1),
  pssBeforeMb: mb(before.pss), pssAfterMb: mb(after.pss), pssPerConnectionKb: +((after.pss - before.pss) / sockets.length).toFixed(1),
  processesBefore: before.processes, processesAfter: after.processes,
  kernelPerConnectionKb: +((after.kernel - before.kernel) / sockets.length).toFixed(1),
}));
for (const s of sockets) s.destroy();
