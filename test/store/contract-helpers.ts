// Shared helpers of the storage contract suite (test/store/contract.ts): a
// fresh Stores for every test, blob writing and reading, users with their
// mailboxes, queue messages, and a check that an operation is refused however
// the backend reports it (synchronous throw, rejected promise, stream error).
import { afterEach, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import type {
  MailboxRecord, MessageRecord, NewQueuedMessage, Stores, UserRecord,
} from "../../src/store/interfaces.js";

export interface OpenedStores {
  stores: Stores;
  cleanup(): Promise<void>;
}

export type OpenStores = () => Promise<OpenedStores>;

/** A fixed clock origin for everything that takes an explicit `now`. */
export const T0 = 1_700_000_000_000;

/**
 * Registers beforeEach/afterEach hooks in the current describe block that open
 * a fresh, empty Stores for each test and clean it up afterwards; returns a
 * getter for the current one.
 */
export function freshStores(open: OpenStores): () => Stores {
  let current: OpenedStores | undefined;
  beforeEach(async () => {
    current = await open();
  });
  afterEach(async () => {
    const opened = current;
    current = undefined;
    await opened?.cleanup();
  });
  return () => {
    if (!current) throw new Error("stores are only open inside a test");
    return current.stores;
  };
}

/** A fresh id made of letters and digits, as blob and queue ids are. */
export function freshId(prefix = "t"): string {
  return prefix + randomBytes(8).toString("hex");
}

/** Writes DATA as a blob in `chunks` pieces (of roughly equal size) and finishes it. */
export async function putBlob(stores: Stores, data: Buffer | string, chunks = 1, id?: string): Promise<{ id: string; size: number }> {
  const bytes = Buffer.from(data);
  const writer = await stores.blobs.create(id);
  const step = Math.max(1, Math.ceil(bytes.length / chunks));
  for (let at = 0; at < bytes.length; at += step) await writer.write(bytes.subarray(at, at + step));
  return writer.finish();
}

export async function streamToBuffer(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(parts);
}

/** Asserts that FN is refused: it throws, returns a rejected promise, or returns a stream that errors. */
export async function assertRefused(what: string, fn: () => unknown): Promise<void> {
  let result: unknown;
  try {
    result = fn();
  } catch {
    return;
  }
  if (result !== null && typeof result === "object" && typeof (result as Readable).pipe === "function") {
    await assert.rejects(streamToBuffer(result as Readable), `${what} should be refused`);
    return;
  }
  await assert.rejects(Promise.resolve(result), `${what} should be refused`);
}

export interface TestUser {
  user: UserRecord;
  inbox: MailboxRecord;
}

/** Adds the domain of ADDRESS and the user, and returns the user with its INBOX. */
export async function addUser(stores: Stores, address: string, quota = 0): Promise<TestUser> {
  await stores.directory.addDomain(address.slice(address.indexOf("@") + 1));
  const user = await stores.directory.addUser(address, `hash-of-${address}`, quota);
  const inbox = await stores.mailboxes.getMailbox(user.id, "INBOX");
  assert.ok(inbox, `${address} has an INBOX`);
  return { user, inbox };
}

/** Appends one message to a mailbox; BLOB is written first unless an existing blob id is given. */
export async function deliver(
  stores: Stores,
  mailboxId: number,
  blob: string | { id: string; size: number },
  opts: { prefix?: string; flags?: string[]; internalDate?: number } = {},
): Promise<MessageRecord> {
  const { id, size } = typeof blob === "string" ? await putBlob(stores, blob) : blob;
  const [message] = await stores.mailboxes.append([{
    mailboxId,
    prefix: Buffer.from(opts.prefix ?? "Return-Path: <a@example.test>\r\n"),
    blobId: id,
    blobSize: size,
    internalDate: opts.internalDate ?? T0,
    flags: opts.flags ?? [],
    newBlob: true,
  }]);
  return message;
}

export async function usageOf(stores: Stores, userId: number): Promise<number> {
  const user = await stores.directory.getUserById(userId);
  assert.ok(user, `user ${userId} exists`);
  return user.usage;
}

/** A queue message for RECIPIENTS with a real blob behind it. */
export async function queueMessage(
  stores: Stores,
  recipients: NewQueuedMessage["recipients"],
  extra: Partial<NewQueuedMessage> = {},
): Promise<NewQueuedMessage> {
  const body = "Subject: queued\r\n\r\nhello\r\n";
  const blob = await putBlob(stores, body);
  return {
    id: freshId("Q").toUpperCase(),
    sender: "sender@example.test",
    blobId: blob.id,
    size: blob.size,
    receivedAt: T0,
    trace: "Received: from client.example.test\r\n",
    origin: JSON.stringify({ ip: "192.0.2.1", helo: "client.example.test" }),
    recipients,
    ...extra,
  };
}

export const sorted = <T>(values: T[]): T[] => [...values].sort();
