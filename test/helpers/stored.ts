// Reading what the server stored, straight from its data dir (read-only):
// the SQLite message index and the blob files. For tests that must compare
// stored bytes with what a client sent.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { PetrelServer } from "./petrel.js";

export interface Stored {
  /** Return-Path, Delivered-To and Received, as prepended by Petrel. */
  prefix: string;
  /** The message as the client sent it (dot-stuffing removed). */
  body: Buffer;
  size: number;
}

/** Where the blob store keeps a blob (the fan-out scheme is the store's business), or undefined. */
export function findBlob(server: PetrelServer, id: string): string | undefined {
  const root = path.join(server.dir, "data", "blobs");
  if (!fs.existsSync(root)) return undefined;
  for (const dir of fs.readdirSync(root)) {
    const file = path.join(root, dir, id);
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}

export function blobPath(server: PetrelServer, id: string): string {
  const file = findBlob(server, id);
  assert.ok(file, `blob ${id} not found under ${server.dir}/data/blobs`);
  return file;
}

/** The messages in the INBOX of `address` whose Received header names queue id `qid`. */
export function stored(server: PetrelServer, address: string, qid: string): Stored[] {
  const db = new Database(path.join(server.dir, "data", "petrel.db"), { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT m.prefix AS prefix, m.blob_id AS blobId, m.size AS size FROM messages m
         JOIN mailboxes b ON b.id = m.mailbox_id JOIN users u ON u.id = b.user_id
         WHERE u.address = ? AND b.name = 'INBOX' ORDER BY m.uid`,
      )
      .all(address) as { prefix: Buffer; blobId: string; size: number }[];
    return rows
      .filter((r) => Buffer.from(r.prefix).toString("utf8").includes(`id ${qid}`))
      .map((r) => ({ prefix: Buffer.from(r.prefix).toString("utf8"), body: fs.readFileSync(blobPath(server, r.blobId)), size: r.size }));
  } finally {
    db.close();
  }
}
