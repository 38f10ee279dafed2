// How much memory an idle IMAP client costs the server: opens N connections
// to an IMAP listener on loopback, each logs in (users spread over
// user1..userU), SELECTs INBOX and enters IDLE, then reads the server's
// resident memory (VmRSS of --pid) and prints one JSON line: connections in
// IDLE, RSS before and after, and the difference per connection. Works
// against any IMAP server (Petrel, Dovecot); run by hand, never in npm test.
//   node dist/bench/imap-idle.js --port 2143 --pid PID --connections 10000 --users 100 --user-format 'user%d@bench.test' --password bench
import net from "node:net";
import fs from "node:fs";
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
  },
});
if (!values.port || !values.pid) throw new Error("--port and --pid are required");
if (!values.host!.startsWith("127.")) throw new Error("loopback only");
const port = Number(values.port);
const total = Number(values.connections);
const users = Number(values.users);
const parallel = Number(values.parallel);

function rssKb(pid: string): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
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

const before = rssKb(values.pid);
const sockets: net.Socket[] = [];
const started = Date.now();
for (let i = 0; i < total; i += parallel) {
  const batch = await Promise.all(Array.from({ length: Math.min(parallel, total - i) }, (_, k) => idleClient(i + k)));
  sockets.push(...batch);
}
const setupSeconds = (Date.now() - started) / 1000;
await new Promise((r) => setTimeout(r, 3000)); // let the server settle (GC) before reading memory
const after = rssKb(values.pid);
console.log(JSON.stringify({
  connections: sockets.length, setupSeconds, rssBeforeMb: +(before / 1024).toFixed(1), rssAfterMb: +(after / 1024).toFixed(1),
  perConnectionKb: +((after - before) / sockets.length).toFixed(1),
}));
for (const s of sockets) s.destroy();
