// The storage roles every protocol and service works through. Only
// store/<backend>/ knows SQL or file paths; these interfaces are narrow enough
// that a PostgreSQL data store, an object-store blob store or a LISTEN/NOTIFY
// change bus can replace the embedded defaults without touching protocol code.
// Every backend must pass test/store/contract.ts.
//
// Addresses are stored lower-cased (domains compare case-insensitively, RFC
// 5321 §2.4; local parts too, as users expect). Callers normalise with
// directory/address.ts before calling.
import type { Readable } from "node:stream";

// ---------------------------------------------------------------- blobs

/** A message body being written: chunks in order, then finish() (durable) or abort(). */
export interface BlobWriter {
  readonly id: string;
  write(chunk: Buffer): Promise<void>;
  /** Flushes and fsyncs the blob; after this resolves it survives a crash. */
  finish(): Promise<{ id: string; size: number }>;
  abort(): Promise<void>;
}

/** Immutable message bodies, written once and fsynced, read many times. */
export interface BlobStore {
  /** Starts a new blob; `id` (letters and digits) defaults to a fresh unique one. */
  create(id?: string): Promise<BlobWriter>;
  /** Bytes [start, end) of the blob (end exclusive; default the whole blob). */
  read(id: string, start?: number, end?: number): Readable;
  /** The whole blob; `size`, when the caller knows it, saves a stat. */
  readAll(id: string, size?: number): Promise<Buffer>;
  remove(id: string): Promise<void>;
  /** Makes the creation of blobs finished so far durable (directory entries). */
  sync(): Promise<void>;
  /** Every blob id with its last-modified time, for the orphan sweep. */
  list(): AsyncIterable<{ id: string; modifiedAt: number }>;
}

// ---------------------------------------------------------------- directory

export interface UserRecord {
  id: number;
  address: string;
  passwordHash: string;
  /** Bytes; 0 means no quota. */
  quota: number;
  usage: number;
  createdAt: number;
  /** Which sender addresses the user may use when authenticated: its own (and aliases to it), or any. */
  sendAs: "own" | "any";
}

export interface AliasRecord {
  source: string;
  targets: string[];
}

export interface DirectoryStore {
  addDomain(domain: string): Promise<void>;
  removeDomain(domain: string): Promise<void>;
  listDomains(): Promise<string[]>;
  hasDomain(domain: string): Promise<boolean>;

  /** Creates the user and its standard mailboxes (INBOX, Drafts, Sent, Trash, Junk, Archive). */
  addUser(address: string, passwordHash: string, quota: number): Promise<UserRecord>;
  removeUser(address: string): Promise<void>;
  getUser(address: string): Promise<UserRecord | undefined>;
  getUserById(id: number): Promise<UserRecord | undefined>;
  listUsers(domain?: string): Promise<UserRecord[]>;
  setPassword(address: string, passwordHash: string): Promise<void>;
  setQuota(address: string, quota: number): Promise<void>;
  setSendAs(address: string, mode: "own" | "any"): Promise<void>;

  /** Replaces the targets of an alias; SOURCE may be "@domain" (catch-all). */
  setAlias(source: string, targets: string[]): Promise<void>;
  removeAlias(source: string): Promise<void>;
  getAlias(source: string): Promise<string[] | undefined>;
  listAliases(): Promise<AliasRecord[]>;
}

// ---------------------------------------------------------------- mailboxes

export interface MailboxRecord {
  id: number;
  userId: number;
  name: string;
  specialUse: string | null;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
}

export interface MessageRecord {
  id: number;
  mailboxId: number;
  uid: number;
  modseq: number;
  /** Per-delivery header lines (Return-Path, Delivered-To, Received) stored before the blob. */
  prefix: Buffer;
  blobId: string;
  /** prefix.length + blob size: the exact RFC822.SIZE. */
  size: number;
  internalDate: number;
  flags: string[];
}

/** One message to place in a mailbox. */
export interface AppendRequest {
  mailboxId: number;
  prefix: Buffer;
  blobId: string;
  blobSize: number;
  internalDate: number;
  flags: string[];
  /** A blob written for this append (IMAP APPEND, import): its reference row is created. Otherwise it must exist. */
  newBlob?: boolean;
}

export interface FlagChange {
  op: "add" | "remove" | "replace";
  flags: string[];
  unchangedSince?: number;
}

export interface CopyResult {
  /** [source UID, new UID] in source UID order. */
  pairs: [number, number][];
  /** UIDVALIDITY of the destination. */
  uidValidity: number;
  copies: MessageRecord[];
  /** For a move: the source UIDs removed, and blobs nobody references any more (none for a move, kept for symmetry). */
  expunged: number[];
}

export interface MailboxStatus {
  messages: number;
  unseen: number;
  deleted: number;
  /** Sum of RFC822.SIZE (STATUS=SIZE, RFC 8438). */
  size: number;
  /** Messages above the recent mark (\Recent for whoever selects next). */
  recent: number;
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
}

export interface MailboxStore {
  createMailbox(userId: number, name: string, specialUse?: string | null): Promise<MailboxRecord>;
  getMailbox(userId: number, name: string): Promise<MailboxRecord | undefined>;
  listMailboxes(userId: number): Promise<MailboxRecord[]>;
  /** Appends atomically; each blob gains one reference. Usage grows by the sizes. */
  append(requests: AppendRequest[]): Promise<MessageRecord[]>;
  listMessages(mailboxId: number): Promise<MessageRecord[]>;
  getMessage(mailboxId: number, uid: number): Promise<MessageRecord | undefined>;
  /** Replaces the flags of the given UIDs; returns the updated records with their new MODSEQ. */
  setFlags(mailboxId: number, uids: number[], flags: string[]): Promise<MessageRecord[]>;
  /** Removes the given UIDs; returns the blob ids that no longer have any reference. */
  expunge(mailboxId: number, uids: number[]): Promise<{ expunged: number[]; orphanBlobs: string[] }>;
  /** Adds, removes or replaces flags; with unchangedSince (RFC 7162 §3.1.3), messages modified after it are left alone and listed in `failed`. */
  updateFlags(mailboxId: number, uids: number[], change: FlagChange): Promise<{ changed: MessageRecord[]; failed: number[] }>;
  /**
   * Copies messages (sharing their blobs) to another mailbox of the same
   * user with new UIDs, in UID order; with move, they leave the source in the
   * same transaction (RFC 6851). Returns source→destination UID pairs (UIDPLUS).
   */
  copyMessages(fromMailboxId: number, uids: number[], toMailboxId: number, opts?: { move?: boolean }): Promise<CopyResult>;
  /** Counts for STATUS and SELECT without loading every message. */
  mailboxStatus(mailboxId: number): Promise<MailboxStatus>;
  /** The mailbox's HIGHESTMODSEQ alone, 0 when it no longer exists: every append, flag change and expunge raises it (a cheap "anything new?"). */
  highestModseq(mailboxId: number): Promise<number>;
  /**
   * \Recent (RFC 3501 §2.3.2): the UIDs above the mailbox's recent mark are
   * recent for the one session that claims them. With claim, the mark moves
   * to the last UID (SELECT, or new mail noticed by a read-write session);
   * without, the mark stays (EXAMINE, STATUS). Returns the first recent UID.
   */
  recentFrom(mailboxId: number, claim: boolean): Promise<number>;
  /** Messages added or changed after `modseq` (CONDSTORE CHANGEDSINCE, and how a session catches up), by UID. */
  changedSince(mailboxId: number, modseq: number): Promise<MessageRecord[]>;
  /**
   * UIDs expunged after `modseq` (QRESYNC VANISHED, RFC 7162 §3.2.5),
   * ascending; undefined when records that old were pruned (the store keeps
   * the newest ones per mailbox): the caller then treats every UID that is
   * not in the mailbox as gone.
   */
  vanishedSince(mailboxId: number, modseq: number): Promise<number[] | undefined>;
  /** Keeps the newest `keep` expunge records of a mailbox; returns how many were dropped. The store prunes by itself too. */
  pruneExpunged(mailboxId: number, keep: number): Promise<number>;
  /**
   * Renames a mailbox and its children ("name/...") and their subscriptions.
   * Fails without change when the source is missing or a target exists.
   */
  renameMailbox(userId: number, from: string, to: string): Promise<{ ok: true; renamed: MailboxRecord[] } | { ok: false; reason: "missing" | "exists" }>;
  /** Deletes a mailbox and its messages; returns the blobs that lost their last reference. */
  deleteMailbox(mailboxId: number): Promise<{ orphanBlobs: string[] }>;
  /** Subscriptions are names (RFC 3501 §6.3.6: a name may be subscribed while no such mailbox exists). */
  setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void>;
  listSubscriptions(userId: number): Promise<string[]>;
  /** Blob ids whose last reference went away outside expunge/purge (e.g. a removed user); their rows are deleted. */
  takeOrphanBlobs(): Promise<string[]>;
  /** Those of the given blob ids that the store still references (queue or mailbox). */
  referencedBlobs(ids: string[]): Promise<Set<string>>;
}

// ---------------------------------------------------------------- queue

export type RecipientState = "incoming" | "active" | "deferred" | "hold" | "done" | "failed";

export interface QueuedRecipient {
  id: number;
  messageId: string;
  address: string;
  /** RFC 3461 ORCPT and NOTIFY as given at RCPT, when given. */
  orcpt: string | null;
  notify: string | null;
  state: RecipientState;
  attempts: number;
  nextAttempt: number;
  /** The last failure, or the remote's reply for a recipient handed on: "550 5.1.1 ..." style text with an enhanced code. */
  lastError: string | null;
  /** A delivery status notification owed to the sender (RFC 3464 Action), cleared once it is queued. */
  notice: DsnAction | null;
  /** The server that gave the last reply ("mx.example.net"), for Remote-MTA. */
  remoteMta: string | null;
  /** A "delayed" notice was already sent for this recipient. */
  warned: boolean;
  /** When the last delivery attempt ended (ms), 0 before the first. */
  lastAttempt: number;
}

/** RFC 3464 §2.3.3 actions a notice reports. */
export type DsnAction = "failed" | "delayed" | "delivered" | "relayed" | "expanded";

/** The outcome of one delivery attempt of an active recipient. */
export interface RecipientOutcome {
  id: number;
  state: "done" | "deferred" | "failed";
  /** Failure text, or the remote's reply when handed on. */
  error?: string | null;
  /** For deferred: when to try again. */
  nextAttempt?: number;
  notice?: DsnAction | null;
  remoteMta?: string | null;
  at: number;
}

export interface QueuedMessage {
  /** The queue id, logged on every line about this message. */
  id: string;
  sender: string;
  blobId: string;
  size: number;
  receivedAt: number;
  /** Received header and other trace text shared by all recipients. */
  trace: string;
  /** How it arrived: client address, HELO, authenticated user, etc. (JSON). */
  origin: string;
  envId: string | null;
  ret: string | null;
  recipients: QueuedRecipient[];
}

export interface NewQueuedMessage {
  id: string;
  sender: string;
  blobId: string;
  size: number;
  receivedAt: number;
  trace: string;
  origin: string;
  envId?: string | null;
  ret?: string | null;
  recipients: { address: string; orcpt?: string | null; notify?: string | null }[];
}

/** A local delivery: messages for mailboxes, and the queue recipients they complete. */
export interface LocalDeliveryCommit {
  appends: AppendRequest[];
  completed: number[];
  /** Those of `completed` that asked for a "delivered" notice (NOTIFY=SUCCESS). */
  delivered?: number[];
}

export interface QueueStore {
  /** Records the messages durably (one transaction); the blobs must be durable already. */
  enqueue(messages: NewQueuedMessage[]): Promise<void>;
  /**
   * Takes up to `limit` recipients that are due (incoming or deferred, next
   * attempt reached, lease expired) for `owner` until `leaseUntil`.
   */
  lease(owner: string, now: number, leaseUntil: number, limit: number): Promise<QueuedRecipient[]>;
  /**
   * Makes every active recipient due again: what a crashed process had leased.
   * Called at start by the only node of an embedded installation.
   */
  requeueActive(): Promise<number>;
  getMessage(id: string): Promise<QueuedMessage | undefined>;
  listMessages(): Promise<QueuedMessage[]>;
  /**
   * In one transaction (so nothing is delivered twice): appends to mailboxes,
   * marks the recipients done, and removes the queue messages that have no
   * recipient left to deliver. Returns the new mailbox messages, in the order
   * of the appends, and the blob ids that lost their last reference.
   */
  commitLocalDelivery(commit: LocalDeliveryCommit): Promise<{ messages: MessageRecord[]; orphanBlobs: string[] }>;
  /**
   * Keeps `owner`'s lease on these recipients (still active and owned by it)
   * until `leaseUntil`: a long remote delivery is not taken over by another worker.
   */
  extendLease(owner: string, recipientIds: number[], leaseUntil: number): Promise<void>;
  /**
   * Records attempt outcomes in one transaction; only recipients still active
   * change (an outcome for a recipient that was deleted or held meanwhile is
   * ignored). Messages left with nothing to deliver or report are removed.
   * Returns the blob ids that lost their last reference, and the touched
   * messages that now owe a notice with no recipient incoming or active.
   */
  settle(outcomes: RecipientOutcome[]): Promise<{ orphanBlobs: string[]; noticesDue: string[] }>;
  /**
   * The recipients of a message with a notice owed, once none of its
   * recipients is incoming or active (so one notice covers one pass).
   */
  pendingNotices(messageId: string): Promise<QueuedRecipient[]>;
  /**
   * In one transaction: clears the notices of these recipients (all must still
   * be owed, else nothing happens and `reported` is false), marks delayed ones
   * as warned, queues the notification message (already durable blob) when
   * given, and removes the original when nothing is left. Returns the blobs
   * that lost their last reference.
   */
  reportNotices(messageId: string, recipientIds: number[], notification: NewQueuedMessage | null): Promise<{ reported: boolean; orphanBlobs: string[] }>;
  defer(recipientId: number, error: string, nextAttempt: number): Promise<void>;
  fail(recipientId: number, error: string): Promise<void>;
  markDone(recipientId: number): Promise<void>;
  hold(messageId: string): Promise<number>;
  release(messageId: string): Promise<number>;
  /** Makes every waiting recipient (or those of one message) due now. */
  flush(messageId?: string): Promise<number>;
  /** Makes the waiting recipients at one domain due now (ETRN, `petrel queue flush DOMAIN`). */
  flushDomain(domain: string): Promise<number>;
  /**
   * Removes the messages whose recipients are all done or failed with no notice owed (all such
   * messages, or just this one); with force, this one message whatever its
   * state. Returns the blob ids that lost their last reference.
   */
  purge(messageId?: string, opts?: { force?: boolean }): Promise<string[]>;
}

// ---------------------------------------------------------------- counters, locks, changes

/** Shared counters and locks: login throttling, POP3 maildrop locks, rate limits. */
export interface CounterStore {
  /** Adds one hit to `key` and returns the hits within the last `windowMs`. */
  hit(key: string, windowMs: number, now?: number): Promise<number>;
  count(key: string, windowMs: number, now?: number): Promise<number>;
  reset(key: string): Promise<void>;
  /** Takes the lock when free or expired; true when `owner` now holds it. */
  acquire(key: string, owner: string, ttlMs: number, now?: number): Promise<boolean>;
  release(key: string, owner: string): Promise<void>;
  /** Drops every lock whose key starts with `prefix` (locks of a crashed process, at start). */
  releaseAll(prefix: string): Promise<number>;
}

export interface MailboxChange {
  userId: number;
  /** 0 for "mailboxes" and "subscription". */
  mailboxId: number;
  /** "mailboxes": a mailbox was created, deleted or renamed; "subscription": a name was (un)subscribed. */
  kind: "append" | "flags" | "expunge" | "mailboxes" | "subscription";
  uids: number[];
  modseq: number;
  /** "mailboxes" and "subscription": the name (the new one after a rename). */
  name?: string;
  /** "mailboxes": the name before a rename. */
  oldName?: string;
  /** "mailboxes": the mailbox was deleted. */
  deleted?: boolean;
  /** The session whose command made the change (an IMAP session id), so it can leave out its own news (RFC 5465 §5). */
  origin?: string;
}

/** Pushes mailbox changes to every session that watches the user. */
export interface ChangeBus {
  publish(change: MailboxChange): void;
  subscribe(userId: number, listener: (change: MailboxChange) => void): () => void;
}

/** Everything one `petrel` process works with. */
export interface Stores {
  directory: DirectoryStore;
  mailboxes: MailboxStore;
  queue: QueueStore;
  blobs: BlobStore;
  counters: CounterStore;
  changes: ChangeBus;
  close(): Promise<void>;
}
