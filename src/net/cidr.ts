// Address-in-network tests for relay.networks and similar lists (CIDR,
// IPv4 and IPv6; IPv4-mapped IPv6 client addresses match IPv4 networks).
import net from "node:net";

export class NetworkList {
  private readonly list = new net.BlockList();

  constructor(readonly networks: string[]) {
    for (const entry of networks) {
      const [address, prefix] = entry.split("/");
      const family = net.isIPv6(address) ? "ipv6" : "ipv4";
      if (!net.isIP(address)) throw new Error(`"${entry}" is not an IP network`);
      const bits = prefix === undefined ? (family === "ipv6" ? 128 : 32) : Number(prefix);
      if (!Number.isInteger(bits) || bits < 0 || bits > (family === "ipv6" ? 128 : 32)) throw new Error(`"${entry}" has a bad prefix length`);
      this.list.addSubnet(address, bits, family);
    }
  }

  contains(address: string): boolean {
    const plain = unmapIPv4(address);
    return this.list.check(plain, net.isIPv6(plain) ? "ipv6" : "ipv4");
  }
}

/** "::ffff:127.0.0.1" → "127.0.0.1"; other addresses unchanged. */
export function unmapIPv4(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address;
}
