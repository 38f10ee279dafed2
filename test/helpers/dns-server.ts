// A small authoritative DNS server for tests: answers MX, A, AAAA, PTR and TXT
// from an in-memory table on a loopback UDP port (and TCP on the same port), so
// Petrel can be pointed at it with dns.servers and never touch the real resolver.
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";
import type { Answer, DecodedPacket, Question } from "dns-packet";

export interface DnsRecords {
  mx?: Record<string, { preference: number; exchange: string }[]>;
  a?: Record<string, string[]>;
  aaaa?: Record<string, string[]>;
  /** key: an IP address like "127.0.0.2" or "::1"; value: the host name. */
  ptr?: Record<string, string>;
  txt?: Record<string, string[]>;
  nxdomain?: string[];
  servfail?: string[];
}

export interface DnsServerHandle {
  /** "127.0.0.1:PORT" ("[::1]:PORT" for IPv6), ready for petrel's dns.servers. */
  address: string;
  port: number;
  /** Replaces the whole record table. */
  set(records: DnsRecords): void;
  close(): Promise<void>;
  /** Every question asked, in order: name in lower case without the final dot. */
  queries: { name: string; type: string }[];
}

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
const TTL = 60;

export async function startDnsServer(records: DnsRecords, host = "127.0.0.1", fixedPort = 0): Promise<DnsServerHandle> {
  if (!(host.startsWith("127.") || host === "::1")) throw new Error(`DNS test server must bind a loopback address, not ${host}`);
  let table = buildTable(records);
  const queries: { name: string; type: string }[] = [];
  const answer = (query: DecodedPacket, limit: number) => respond(query, table, queries, limit);
  const { udp, tcp, port } = await bindBoth(host, answer, fixedPort);
  return {
    address: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`,
    port,
    queries,
    set(next) {
      table = buildTable(next);
    },
    async close() {
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => {
          tcp.close(() => resolve());
          for (const socket of openSockets.get(tcp) ?? []) socket.destroy();
        }),
      ]);
    },
  };
}

type Responder = (query: DecodedPacket, limit: number) => Buffer;
const openSockets = new WeakMap<net.Server, Set<net.Socket>>();

/** Binds UDP on an ephemeral port, then TCP on the same number (retrying on a clash). */
async function bindBoth(host: string, answer: Responder, fixedPort = 0) {
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(fixedPort, host, () => {
        udp.off("error", reject);
        resolve();
      });
    });
    const port = udp.address().port;
    const tcp = net.createServer((socket) => serveTcp(socket, tcp, answer));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(port, host, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      if (fixedPort === 0 && attempt < 10 && (err as NodeJS.ErrnoException).code === "EADDRINUSE") continue;
      throw err;
    }
    udp.on("message", (msg, rinfo) => {
      let query: DecodedPacket;
      try {
        query = dnsPacket.decode(msg);
      } catch {
        return; // not DNS: ignore, as a real server would
      }
      const opt = query.additionals?.find((a) => a.type === "OPT");
      const limit = opt && "udpPayloadSize" in opt ? Math.max(512, opt.udpPayloadSize) : 512;
      udp.send(answer(query, limit), rinfo.port, rinfo.address);
    });
    udp.on("error", () => {});
    return { udp, tcp, port };
  }
}

/** DNS over TCP: each message is preceded by its 2-byte length (RFC 1035 §4.2.2). */
function serveTcp(socket: net.Socket, server: net.Server, answer: Responder) {
  const open = openSockets.get(server) ?? new Set<net.Socket>();
  openSockets.set(server, open);
  open.add(socket);
  socket.on("close", () => open.delete(socket));
  socket.on("error", () => {});
  let buffered = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
      const size = buffered.readUInt16BE(0);
      const message = buffered.subarray(2, 2 + size);
      buffered = buffered.subarray(2 + size);
      try {
        const reply = answer(dnsPacket.decode(message), 65535);
        const length = Buffer.alloc(2);
        length.writeUInt16BE(reply.length);
        socket.write(Buffer.concat([length, reply]));
      } catch {
        socket.destroy();
        return;
      }
    }
  });
}

interface Table {
  mx: Map<string, { preference: number; exchange: string }[]>;
  a: Map<string, string[]>;
  aaaa: Map<string, string[]>;
  ptr: Map<string, string>; // key: reverse name, e.g. "2.0.0.127.in-addr.arpa"
  txt: Map<string, string[]>;
  nxdomain: Set<string>;
  servfail: Set<string>;
}

function buildTable(records: DnsRecords): Table {
  const map = <T>(rec: Record<string, T> | undefined) => new Map(Object.entries(rec ?? {}).map(([k, v]) => [norm(k), v]));
  // An IP in nxdomain/servfail stands for its reverse name.
  const names = (list: string[] | undefined) => new Set((list ?? []).map((n) => (net.isIP(n) ? reverseName(n) : norm(n))));
  return {
    mx: map(records.mx),
    a: map(records.a),
    aaaa: map(records.aaaa),
    ptr: new Map(Object.entries(records.ptr ?? {}).map(([ip, name]) => [reverseName(ip), name])),
    txt: map(records.txt),
    nxdomain: names(records.nxdomain),
    servfail: names(records.servfail),
  };
}

function respond(query: DecodedPacket, table: Table, log: { name: string; type: string }[], limit: number): Buffer {
  const questions: Question[] = query.questions ?? [];
  const answers: Answer[] = [];
  let rcode: number = questions.length === 1 ? RCODE.NOERROR : RCODE.NOTIMP;
  for (const q of questions) {
    const name = norm(q.name);
    log.push({ name, type: q.type });
    if (table.servfail.has(name)) rcode = RCODE.SERVFAIL;
    else if (table.nxdomain.has(name) || !exists(table, name)) rcode = RCODE.NXDOMAIN;
    else answers.push(...lookup(table, name, q));
  }
  const flags = dnsPacket.AUTHORITATIVE_ANSWER | (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | rcode;
  const reply = { type: "response" as const, id: query.id, flags, questions, answers };
  const encoded = dnsPacket.encode(reply);
  if (encoded.length <= limit) return encoded;
  // Too big for UDP: truncated, so the client asks again over TCP.
  return dnsPacket.encode({ ...reply, answers: [], flags: flags | dnsPacket.TRUNCATED_RESPONSE });
}

function exists(t: Table, name: string): boolean {
  return t.mx.has(name) || t.a.has(name) || t.aaaa.has(name) || t.ptr.has(name) || t.txt.has(name);
}

function lookup(t: Table, name: string, q: Question): Answer[] {
  const base = { name: q.name, ttl: TTL, class: "IN" as const };
  switch (q.type) {
    case "A":
      return (t.a.get(name) ?? []).map((ip) => ({ ...base, type: "A" as const, data: ip }));
    case "AAAA":
      return (t.aaaa.get(name) ?? []).map((ip) => ({ ...base, type: "AAAA" as const, data: ip }));
    case "MX":
      return (t.mx.get(name) ?? []).map((mx) => ({ ...base, type: "MX" as const, data: { preference: mx.preference, exchange: mx.exchange } }));
    case "TXT":
      return (t.txt.get(name) ?? []).map((text) => ({ ...base, type: "TXT" as const, data: chunks(text) }));
    case "PTR": {
      const target = t.ptr.get(name);
      return target === undefined ? [] : [{ ...base, type: "PTR" as const, data: target }];
    }
    default:
      return [];
  }
}

/** A TXT string longer than 255 bytes is sent as several character-strings. */
function chunks(text: string): Buffer[] {
  const bytes = Buffer.from(text, "utf8");
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) out.push(bytes.subarray(i, i + 255));
  return out.length ? out : [Buffer.alloc(0)];
}

function norm(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** "127.0.0.2" → "2.0.0.127.in-addr.arpa"; "::1" → "1.0.0.…0.ip6.arpa". */
export function reverseName(ip: string): string {
  if (net.isIPv4(ip)) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  if (!net.isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  return `${expandIPv6(ip).replace(/:/g, "").split("").reverse().join(".")}.ip6.arpa`;
}

function expandIPv6(ip: string): string {
  let text = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text); // "::ffff:1.2.3.4"
  if (v4) {
    const [a, b, c, d] = v4[1].split(".").map(Number);
    text = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = tail !== undefined && tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill("0");
  return [...left, ...fill, ...right].map((g) => g.padStart(4, "0")).join(":");
}
