// The message corpus (../shared/corpus: real-world and deliberately broken
// e-mail, read in place) for the tests that run every file through a part of
// Petrel: the file listing and the CRLF form a message has once it is stored.
import fs from "node:fs";
import path from "node:path";
import { projectRoot } from "./petrel.js";

/** Where the corpus lives: next to the project, shared between checkouts. */
export const CORPUS = path.resolve(projectRoot, "../shared/corpus");

/** Every message file below `dir` (README.md and LICENSE left out), sorted; [] when there is no corpus. */
export function corpusFiles(dir = CORPUS): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? corpusFiles(path.join(dir, e.name)) : e.isFile() && e.name !== "README.md" && e.name !== "LICENSE" ? [path.join(dir, e.name)] : []))
    .sort();
}

/** A file as SMTP carries it and the store keeps it: bare LF → CRLF, the last line terminated. */
export function normaliseCrlf(raw: Buffer): Buffer {
  const text = raw.toString("latin1").replace(/\r?\n/g, "\r\n");
  return Buffer.from(text === "" || text.endsWith("\r\n") ? text : `${text}\r\n`, "latin1");
}
