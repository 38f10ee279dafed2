// Listening sockets with connection limits: in total and per client address,
// so one client cannot take every slot. Plain TCP or implicit TLS. Over a
// limit, the protocol's own "go away" line is written and the socket closed.
import net from "node:net";
import tls from "node:tls";
import { splitHostPort } from "../config/schema.js";
import { unmapIPv4 } from "./cidr.js";

export interface ListenerOptions {
  name: string;
  address: string;
  /** Certificate and key for implicit TLS from the first byte (465, 993, 995). */
  implicitTls?: tls.TlsOptions;
  maxConnections: number;
  maxPerAddress: number;
  /** Written to a refused client, e.g. "421 4.7.0 too many connections\r\n". */
  tooMany: (perAddress: boolean) => string;
  onConnection: (socket: net.Socket, done: () => void) => void;
}

export interface Listener {
  name: string;
  /** "host:port" actually bound (port 0 in the config becomes a real port). */
  bound: string;
  connections(): number;
  close(): Promise<void>;
}

export async function listen(options: ListenerOptions): Promise<Listener> {
  const hp = splitHostPort(options.address);
  if (!hp) throw new Error(`listen.${options.name}: "${options.address}" is not host:port`);
  const perAddress = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  let total = 0;
  const handle = (socket: net.Socket) => {
    const client = unmapIPv4(socket.remoteAddress ?? "");
    const count = perAddress.get(client) ?? 0;
    if (total >= options.maxConnections || count >= options.maxPerAddress) {
      socket.on("error", () => {});
      socket.end(options.tooMany(total < options.maxConnections));
      return;
    }
    total++;
    perAddress.set(client, count + 1);
    sockets.add(socket);
    let released = false;
    const done = () => {
      if (released) return;
      released = true;
      total--;
      sockets.delete(socket);
      const left = (perAddress.get(client) ?? 1) - 1;
      if (left <= 0) perAddress.delete(client);
      else perAddress.set(client, left);
    };
    socket.once("close", done);
    options.onConnection(socket, done);
  };
  const server = options.implicitTls
    ? tls.createServer(options.implicitTls, handle)
    : net.createServer(handle);
  server.on("tlsClientError", () => {});
  // Counts connections still in their TLS handshake too (implicit TLS runs `handle` only after it).
  server.maxConnections = options.maxConnections + Math.min(options.maxConnections, 100);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: hp.host, port: hp.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  return {
    name: options.name,
    bound: addr.family === "IPv6" ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`,
    connections: () => total,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.end();
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 2000).unref();
      }),
  };
}
