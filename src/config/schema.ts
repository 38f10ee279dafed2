// The petrel.toml schema (shared/OPERATOR.md is the contract): every key with
// its type, default and a doc string. Unknown keys and wrong types are errors,
// so a typo can never silently switch a protection off.
import net from "node:net";
import os from "node:os";
import { z } from "zod";
import { parseDuration, parseSize } from "./units.js";

const size = (doc: string) =>
  z.string().describe(doc).transform((text, ctx) => {
    const bytes = parseSize(text);
    if (bytes === undefined) {
      ctx.addIssue({ code: "custom", message: `"${text}" is not a size (like "25M" or "2G")` });
      return z.NEVER;
    }
    return bytes;
  });

const duration = (doc: string) =>
  z.string().describe(doc).transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `"${text}" is not a duration (like "30s", "10m" or "5d")` });
      return z.NEVER;
    }
    return ms;
  });

const hostPort = (doc: string) =>
  z.string().describe(doc).refine((s) => splitHostPort(s) !== undefined, {
    message: 'must be "address:port" (IPv6 as "[::1]:port")',
  });

/** "192.0.2.0/24", "2001:db8::/32" or a single address. */
function isNetwork(text: string): boolean {
  const [address, prefix, ...rest] = text.split("/");
  const family = net.isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

const cidr = z.string().refine(isNetwork, { message: 'must be a network like "192.0.2.0/24" or "2001:db8::/32"' });

/** "127.0.0.1:2525" or "[::1]:2525" → host and port; undefined when malformed. */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:\s\[\]]+):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 0 || port > 65535) return undefined;
  return { host: m[1], port };
}

const listen = z
  .strictObject({
    smtp: hostPort("mail from the world for local users (production: 0.0.0.0:25)").optional(),
    submission: hostPort("STARTTLS, then AUTH (production: 587)").optional(),
    submissions: hostPort("implicit TLS, then AUTH (production: 465)").optional(),
    imap: hostPort("STARTTLS (production: 143)").optional(),
    imaps: hostPort("implicit TLS (production: 993)").optional(),
    pop3: hostPort("STLS (production: 110)").optional(),
    pop3s: hostPort("implicit TLS (production: 995)").optional(),
  })
  .describe('"address:port" each; a missing key disables that listener');

export const DEFAULT_LISTEN = {
  smtp: "127.0.0.1:2525",
  submission: "127.0.0.1:2587",
  submissions: "127.0.0.1:2465",
  imap: "127.0.0.1:2143",
  imaps: "127.0.0.1:2993",
  pop3: "127.0.0.1:2110",
  pop3s: "127.0.0.1:2995",
};

export const configSchema = z.strictObject({
  hostname: z.string().min(1).describe("banner, EHLO and Received lines").default(() => os.hostname()),
  data_dir: z.string().min(1).describe("everything Petrel keeps; created at first start").default("./data"),
  listen: listen.default(DEFAULT_LISTEN),
  tls: z
    .strictObject({
      cert: z.string().describe("PEM certificate chain"),
      key: z.string().describe("PEM private key"),
    })
    .optional()
    .describe("absent: a self-signed certificate for `hostname` is made in data_dir"),
  smtp: z
    .strictObject({
      max_message_size: size("largest message accepted (SIZE, RFC 1870)").prefault("25M"),
      max_recipients: z.number().int().min(1).max(100000).describe("RCPT commands per transaction").default(100),
      max_line_length: z.number().int().min(1000).max(1_000_000).describe("longest command line, CRLF included (RFC 5321 §4.5.3.1.4 allows 512; extensions need more)").default(1000),
      max_data_line_length: z.number().int().min(1000).max(100_000_000).describe("longest line inside a message; real mail breaks RFC 5321's 1000, so the default is generous").default(65536),
      command_timeout: duration("idle time allowed between commands (RFC 5321 §4.5.3.2: 5m)").prefault("5m"),
      data_timeout: duration("idle time allowed inside DATA (RFC 5321 §4.5.3.2: 3m per block)").prefault("3m"),
      max_connections: z.number().int().min(1).describe("SMTP connections at once, all clients").default(500),
      max_connections_per_ip: z.number().int().min(1).describe("SMTP connections at once from one client address").default(20),
      max_errors: z.number().int().min(1).describe("failed commands in one session before it is disconnected").default(10),
      max_received_headers: z.number().int().min(1).describe("more Received headers than this is a mail loop and is refused").default(50),
    })
    .prefault({})
    .describe("mail from the world (and, later, submission)"),
  submission: z
    .strictObject({
      max_messages_per_hour: z.number().int().min(1).describe("messages one authenticated user may send per hour").default(500),
      max_recipients_per_hour: z.number().int().min(1).describe("recipients one authenticated user may send to per hour").default(2000),
    })
    .prefault({})
    .describe("mail from authenticated users (submission, submissions, and AUTH on smtp)"),
  pop3: z
    .strictObject({
      idle_timeout: duration("idle time before a session is closed (RFC 1939 §3: at least 10 minutes)").prefault("10m"),
      max_connections: z.number().int().min(1).describe("POP3 sessions at once, all clients").default(500),
      max_connections_per_ip: z.number().int().min(1).describe("POP3 sessions at once from one client address").default(20),
      max_errors: z.number().int().min(1).describe("failed or unknown commands in one session before it is closed").default(10),
    })
    .prefault({})
    .describe("the POP3 and POP3S listeners (RFC 1939, RFC 2449)"),
  imap: z
    .strictObject({
      idle_timeout: duration("idle time before a session is logged out (RFC 9051 §5.4: at least 30 minutes; IDLE included)").prefault("30m"),
      max_connections: z.number().int().min(1).describe("IMAP sessions at once, all clients").default(1000),
      max_connections_per_ip: z.number().int().min(1).describe("IMAP sessions at once from one client address").default(50),
      max_connections_per_user: z.number().int().min(1).describe("IMAP sessions at once of one user").default(20),
      max_line_length: size("longest command line, literals excluded").prefault("64K"),
      max_message_size: size("largest message APPEND accepts (APPENDLIMIT, RFC 7889)").prefault("25M"),
      max_errors: z.number().int().min(1).describe("bad commands in one session before it is closed").default(20),
    })
    .prefault({})
    .describe("the IMAP and IMAPS listeners (RFC 3501, RFC 9051)"),
  auth: z
    .strictObject({
      plaintext_networks: z.array(cidr).describe("clients that may send passwords without TLS (loopback by default, for local tools)").default(["127.0.0.0/8", "::1/128"]),
      failure_delay: duration("pause before a failed login is answered").prefault("1s"),
      max_failures: z.number().int().min(1).describe("failed logins from one address within failure_window before it is blocked").default(10),
      failure_window: duration("how long failed logins count, and how long a block lasts").prefault("15m"),
      cache_ttl: duration('how long a successful password check is remembered (an HMAC, never the password; "0s": off)').prefault("5m"),
    })
    .prefault({})
    .describe("password logins of every protocol, and the login throttle they share"),
  relay: z
    .strictObject({
      networks: z.array(cidr).describe("clients that may relay without AUTH (CIDR, v4 and v6)").default(["127.0.0.0/8", "::1/128"]),
      domains: z.array(z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$/, "must be a domain name like partner.example"))
        .describe("domains Petrel is a backup MX for (accept, hold, forward)").default([]),
      recipients: z.array(z.string().regex(/^[^@\s]*@[^@\s]+$/, 'must be an address or "@domain"'))
        .describe('valid recipients in relay.domains ("user@partner.example", or "@partner.example" for all); a relay domain with entries here refuses other recipients with 550, one without accepts all')
        .default([]),
      smarthost: hostPort('all non-local mail goes through this host ("name:port"; its A/AAAA records are used, not MX)').optional(),
      smarthost_tls: z.enum(["starttls", "implicit", "opportunistic"])
        .describe('TLS toward the smarthost: "starttls" (required, certificate verified), "implicit" (TLS from the start, as on port 465), "opportunistic" (STARTTLS when offered, not verified); default: implicit on port 465, else starttls')
        .optional(),
      smarthost_username: z.string().min(1).describe("AUTH user name at the smarthost (sent only over TLS)").optional(),
      smarthost_password_file: z.string().min(1).describe("file whose first line is the AUTH password for the smarthost").optional(),
      smarthost_ca_file: z.string().min(1).describe("PEM file of the CAs that may sign the smarthost's certificate (default: the system's)").optional(),
      smtp_after_pop: duration('a client that logged in over POP3 or IMAP this recently may relay from that address ("0s": off)').prefault("0s"),
    })
    .refine((r) => (r.smarthost_username === undefined) === (r.smarthost_password_file === undefined), {
      message: "smarthost_username and smarthost_password_file go together",
    })
    .prefault({})
    .describe("who may send mail through Petrel to other domains"),
  dns: z
    .strictObject({
      servers: z.array(z.string()).describe('resolvers as "host:port" instead of the system\'s').optional(),
      timeout: duration("time to wait for one DNS answer").prefault("5s"),
    })
    .prefault({})
    .describe("how Petrel looks up names: MX, A/AAAA, PTR"),
  delivery: z
    .strictObject({
      remote_port: z.number().int().min(1).max(65535).describe("the port used to reach an MX; only tests change it").default(25),
      source_address: z.string().refine((s) => net.isIP(s) !== 0, { message: "must be an IP address" })
        .describe("local address outgoing connections come from (default: the system's choice)").optional(),
      address_preference: z.enum(["any", "ipv4", "ipv6"]).describe("which addresses of an MX host are tried first (any: a random family per host)").default("any"),
      connect_timeout: duration("time allowed to connect to a remote server").prefault("30s"),
      max_connections: z.number().int().min(1).max(10000).describe("outgoing SMTP connections at once, all destinations").default(100),
      max_connections_per_destination: z.number().int().min(1).max(1000).describe("outgoing SMTP connections at once to one destination (domain or smarthost)").default(20),
      max_messages_per_connection: z.number().int().min(1).describe("messages sent over one connection before it is closed").default(1000),
    })
    .prefault({})
    .describe("handing mail to other servers"),
  queue: z
    .strictObject({
      retry_schedule: z.array(duration("a wait")).min(1)
        .describe("waits before the 1st, 2nd, ... retry of a deferred recipient; the last one repeats")
        .prefault(["5m", "10m", "30m", "1h", "2h", "4h"]),
      max_age: duration("how long a recipient may stay deferred before it bounces").prefault("5d"),
      delay_warning: duration('send the sender a "delayed" notice once a recipient has waited this long ("0s": never)').prefault("0s"),
      bounce_size_limit: size("a bounce returns the whole original message up to this size, else only its header").prefault("50K"),
      max_active: z.number().int().min(1).describe("recipients in delivery at once (the rest wait, so a deferred backlog cannot starve fresh mail)").default(2000),
    })
    .prefault({})
    .describe("the queue: retries, bounces (DSN, RFC 3464) and how much is in flight"),
  log: z
    .strictObject({
      level: z.enum(["debug", "info", "warn", "error"]).describe("lowest level written").default("info"),
    })
    .prefault({})
    .describe("structured logs on stdout: JSON lines, or short human lines on a terminal"),
});

export type Config = z.output<typeof configSchema>;
