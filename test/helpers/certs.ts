// Certificates for tests that need TLS: a self-signed EC certificate for one
// DNS name, valid for a day, fit for a server (STARTTLS or implicit TLS) and,
// being self-signed, also the CA that verifies it.
import { generate } from "selfsigned";

export interface TestCertificate {
  /** PEM certificate (also usable as the CA file) */
  cert: string;
  /** PEM private key */
  key: string;
}

/** A server certificate for `name` (common name and subjectAltName). */
export async function selfSignedCertificate(name: string): Promise<TestCertificate> {
  const pems = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [{ type: 2, value: name }] },
    ],
  } as Parameters<typeof generate>[1]);
  return { cert: pems.cert, key: pems.private };
}
