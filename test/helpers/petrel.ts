// End-to-end harness: starts a real `petrel serve` on ephemeral loopback ports
// with its own test DNS server and temp data dir, reads its JSON log lines,
// runs CLI verbs against the same config, and stops, kills or restarts it.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";
import { startDnsServer, type DnsRecords, type DnsServerHandle } from "./dns-server.js";

export type LogEntry = Record<string, unknown>;

export interface PetrelServer {
  dir: string;
  configFile: string;
  /** Listener name → where it listens; refreshed by restart(). */
  listeners: Record<string, { host: string; port: number }>;
  /** Every stdout/stderr line of every run, in order. */
  logs: string[];
  /** The lines of `logs` that were JSON objects. */
  entries: LogEntry[];
  dns: DnsServerHandle;
  /** Runs `petrel ARGS --config FILE` as a separate process. */
  cli(args: string[], stdin?: string): Promise<CliResult>;
  /** The first log entry (from index `from` of `entries`, default 0) matching pred; waits for one if none yet. */
  waitForLog(pred: (entry: LogEntry) => boolean, timeoutMs?: number, from?: number): Promise<LogEntry>;
  /** SIGTERM, then the exit code (null when it died of a signal). */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
  /** Stops it if running, then starts again with the same config and data dir. */
  restart(): Promise<void>;
  /** Stops it, closes the DNS server and removes the temp dir (kept if PETREL_KEEP_TEST_DIR is set). */
  close(): Promise<void>;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface StartOptions {
  /** TOML merged over the generated config (tables are merged key by key). */
  extraToml?: string;
  /** Listener names to enable on 127.0.0.1:0; default ["smtp"]. */
  listeners?: string[];
  dnsRecords?: DnsRecords;
  env?: Record<string, string>;
}

const READY_TIMEOUT = 20_000;
const STOP_TIMEOUT = 20_000;
const CLI_TIMEOUT = 30_000;
export const projectRoot = findRoot();
const running = new Set<ChildProcess>();
process.on("exit", () => running.forEach((child) => child.kill("SIGKILL")));

export async function startPetrel(opts: StartOptions = {}): Promise<PetrelServer> {
  const dns = await startDnsServer(opts.dnsRecords ?? {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "petrel-e2e-"));
  const configFile = path.join(dir, "petrel.toml");
  fs.writeFileSync(configFile, buildConfig(dir, dns.address, opts));
  const env = opts.env ?? {};
  const logs: string[] = [];
  const entries: LogEntry[] = [];
  const listeners: PetrelServer["listeners"] = {};
  const changed = new Set<() => void>(); // woken on every new line and on exit
  let child: ChildProcess | undefined;
  let exit: Promise<number | null> = Promise.resolve(null);
  let exited = true;

  const onLine = (line: string) => {
    logs.push(line);
    if (process.env.PETREL_TEST_VERBOSE) process.stderr.write(`[petrel] ${line}\n`);
    try {
      const entry: unknown = JSON.parse(line);
      if (entry && typeof entry === "object" && !Array.isArray(entry)) entries.push(entry as LogEntry);
    } catch {
      // not JSON: kept in logs only
    }
    changed.forEach((wake) => wake());
  };

  const waitForLog = (pred: (entry: LogEntry) => boolean, timeoutMs = 10_000, from = 0) =>
    new Promise<LogEntry>((resolve, reject) => {
      let next = from;
      const check = () => {
        for (; next < entries.length; next++) if (pred(entries[next])) return finish(() => resolve(entries[next]));
        if (exited) finish(() => reject(new Error(`petrel exited while waiting for a log line\n${tail(logs)}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no matching log line within ${timeoutMs} ms\n${tail(logs)}`))), timeoutMs);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        changed.delete(check);
        settle();
      };
      changed.add(check);
      check();
    });

  const launch = async () => {
    const from = entries.length;
    const proc = spawn(process.execPath, ["bin/petrel", "serve", "--config", configFile], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    exited = false;
    running.add(proc);
    exit = new Promise((resolve) => {
      proc.on("error", (err) => onLine(`spawn error: ${err.message}`));
      proc.on("close", (code, signal) => {
        running.delete(proc);
        onLine(`[petrel exited: ${signal ? `signal ${signal}` : `code ${code}`}]`);
        exited = true;
        changed.forEach((wake) => wake());
        resolve(code);
      });
    });
    splitLines(proc.stdout!, onLine);
    splitLines(proc.stderr!, onLine);
    await waitForLog((e) => e.msg === "ready", READY_TIMEOUT, from).catch((err: Error) => {
      proc.kill("SIGKILL");
      throw new Error(`petrel serve (config ${configFile}) did not become ready: ${err.message}`);
    });
    for (const key of Object.keys(listeners)) delete listeners[key];
    for (const e of entries.slice(from)) {
      if (e.msg !== "listening" || typeof e.listener !== "string" || typeof e.address !== "string") continue;
      const m = /^\[(.+)\]:(\d+)$/.exec(e.address) ?? /^(.+):(\d+)$/.exec(e.address);
      if (m) listeners[e.listener] = { host: m[1], port: Number(m[2]) };
    }
  };

  const stop = async () => {
    if (!exited) child?.kill("SIGTERM");
    const timer = setTimeout(() => child?.kill("SIGKILL"), STOP_TIMEOUT);
    try {
      return await exit;
    } finally {
      clearTimeout(timer);
    }
  };

  const server: PetrelServer = {
    dir,
    configFile,
    listeners,
    logs,
    entries,
    dns,
    cli: (args, stdin) => runCli([...args, "--config", configFile], stdin, env),
    waitForLog,
    stop,
    async kill9() {
      if (!exited) child?.kill("SIGKILL");
      await exit;
    },
    async restart() {
      await stop();
      await launch();
    },
    async close() {
      await stop();
      await dns.close();
      if (!process.env.PETREL_KEEP_TEST_DIR) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await launch();
  } catch (err) {
    await dns.close();
    throw err;
  }
  return server;
}

/** Runs `node bin/petrel ARGS` from the project root; stdin (if any) is written and closed. */
export function runCli(args: string[], stdin?: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["bin/petrel", ...args], { cwd: projectRoot, env: { ...process.env, ...env }, stdio: "pipe" });
    running.add(proc);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    proc.stdout.on("data", (c: Buffer) => out.push(c));
    proc.stderr.on("data", (c: Buffer) => err.push(c));
    proc.stdin.on("error", () => {}); // it may exit without reading stdin
    proc.stdin.end(stdin ?? "");
    const timer = setTimeout(() => proc.kill("SIGKILL"), CLI_TIMEOUT);
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      clearTimeout(timer);
      running.delete(proc);
      const stderr = Buffer.concat(err).toString() + (signal ? `\n[killed by ${signal}${signal === "SIGKILL" ? `, timeout ${CLI_TIMEOUT} ms?` : ""}]` : "");
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr });
    });
  });
}

function buildConfig(dir: string, dnsAddress: string, opts: StartOptions): string {
  const listen: Record<string, string> = {};
  for (const name of opts.listeners ?? ["smtp"]) listen[name] = "127.0.0.1:0";
  const base: Record<string, unknown> = {
    hostname: "mx.test",
    data_dir: path.join(dir, "data"),
    listen,
    dns: { servers: [dnsAddress] },
  };
  const extra = opts.extraToml ? (parseToml(opts.extraToml) as Record<string, unknown>) : {};
  return stringifyToml(merge(base, extra));
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const old = out[key];
    out[key] = isTable(old) && isTable(value) ? merge(old, value) : value;
  }
  return out;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function splitLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void) {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) onLine(line.replace(/\r$/, ""));
  });
  stream.on("end", () => {
    if (partial) onLine(partial);
    partial = "";
  });
}

function tail(logs: string[], n = 60): string {
  return `--- last ${Math.min(n, logs.length)} of ${logs.length} log lines ---\n${logs.slice(-n).join("\n")}`;
}

/** The directory holding package.json and bin/petrel, found upward from this file (src or dist). */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, "bin", "petrel")) || !fs.existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error("cannot find the project root (bin/petrel) above " + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}
