// A loopback DNS server for benchmarks, so that no lookup (the PTR of the
// load generator's address included) leaves the machine: answers PTR and A
// for 127.0.0.1 and NXDOMAIN for everything else.
//   node dist/bench/dns-stub.js [PORT]        (default 5399; prints the address)
import { startDnsServer } from "../test/helpers/dns-server.js";

const port = Number(process.argv[2] ?? 5399);
const server = await startDnsServer({ ptr: { "127.0.0.1": "localhost.bench.test" }, a: { "localhost.bench.test": ["127.0.0.1"] } }, "127.0.0.1", port);
process.stdout.write(`dns stub on ${server.address}\n`);
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
