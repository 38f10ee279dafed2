// TLS contexts for every listener. With [tls] cert/key configured those are
// used; without, a self-signed certificate for `hostname` is made once in
// data_dir/tls/ (private key mode 0600) so STARTTLS works from the first start.
// Trusted with the private key. TLS 1.2 is the floor.
import fs from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { generate } from "selfsigned";
import type { Config } from "../config/schema.js";

export interface TlsMaterial {
  cert: string;
  key: string;
  /** Where it came from, for the start-up log. */
  source: string;
}

export async function loadTlsMaterial(config: Config): Promise<TlsMaterial> {
  if (config.tls) {
    return { cert: fs.readFileSync(config.tls.cert, "utf8"), key: fs.readFileSync(config.tls.key, "utf8"), source: config.tls.cert };
  }
  const dir = path.join(config.data_dir, "tls");
  const certFile = path.join(dir, "selfsigned-cert.pem");
  const keyFile = path.join(dir, "selfsigned-key.pem");
  if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pems = await generate([{ name: "commonName", value: config.hostname }], {
      keyType: "ec",
      algorithm: "sha256",
      notAfterDate: new Date(Date.now() + 10 * 365 * 86_400_000),
      extensions: [
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
        { name: "extKeyUsage", serverAuth: true },
        { name: "subjectAltName", altNames: [{ type: 2, value: config.hostname }] },
      ],
    } as Parameters<typeof generate>[1]);
    fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
    fs.writeFileSync(certFile, pems.cert, { mode: 0o644 });
  }
  return { cert: fs.readFileSync(certFile, "utf8"), key: fs.readFileSync(keyFile, "utf8"), source: `self-signed ${certFile}` };
}

export function tlsOptions(material: TlsMaterial): tls.SecureContextOptions {
  return { cert: material.cert, key: material.key, minVersion: "TLSv1.2" };
}

export function createSecureContext(material: TlsMaterial): tls.SecureContext {
  return tls.createSecureContext(tlsOptions(material));
}

/** "TLSv1.3" and "TLS_AES_256_GCM_SHA384" for Received lines and logs. */
export function describeTls(socket: tls.TLSSocket): { version: string; cipher: string } {
  const cipher = socket.getCipher();
  return { version: socket.getProtocol() ?? "unknown", cipher: cipher?.standardName ?? cipher?.name ?? "unknown" };
}

/**
 * STARTTLS / STLS: detaches a plain socket from its session (listeners,
 * idle timer) and wraps it in a server-side TLS socket, corked until the
 * session is ready to answer. The caller discards any input it had
 * buffered: bytes sent before the handshake must never count as commands.
 */
export function upgradeToTls(plain: import("node:net").Socket, secureContext: tls.SecureContext): tls.TLSSocket {
  plain.removeAllListeners("data");
  plain.removeAllListeners("close");
  plain.setTimeout(0);
  plain.uncork();
  const secure = new tls.TLSSocket(plain, { isServer: true, secureContext });
  secure.cork();
  return secure;
}
