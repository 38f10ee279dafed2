// The selected mailbox as one IMAP session sees it (RFC 3501 §2.3.1.2,
// RFC 9051 §2.3.1.2, §7.5.1): the sequence-number map, the flags and MODSEQ
// the client was last told, and the changes it has not heard of yet. Other
// sessions' appends, flag changes and expunges (POP3 included) are picked up
// from the store by MODSEQ and reported as EXISTS, FETCH and EXPUNGE (or
// VANISHED with QRESYNC) — expunges only where the client can take them:
// never during FETCH, STORE or SEARCH (§7.4.1), so sequence numbers never
// shift under a command that uses them.
import type { MailboxRecord, MessageRecord, Stores } from "../store/interfaces.js";
import { formatSequenceSet } from "./sequence.js";
import { SYSTEM_FLAGS } from "./args.js";

export interface SyncOptions {
  /** Expunges may be announced now (not during FETCH, STORE, SEARCH). */
  allowExpunge: boolean;
  /** CONDSTORE is on: FETCH updates carry MODSEQ (RFC 7162 §3.2). */
  condstore: boolean;
  /** QRESYNC is enabled: VANISHED instead of EXPUNGE (RFC 7162 §3.2.10). */
  qresync: boolean;
  /** An IMAP4rev1 client: RECENT counts and the \Recent flag are reported (IMAP4rev2 dropped them). */
  recent: boolean;
  /** Lines to send before the EXPUNGEs of these UIDs, while their numbers are still valid (CONTEXT=SEARCH REMOVEFROM). */
  beforeExpunge?: (uids: number[]) => string[];
  /** Flag changes may be announced now (default true); held back when NOTIFY did not ask for FlagChange (RFC 5465 §5.1). */
  flagUpdates?: boolean;
}

export interface SyncResult {
  /** The untagged responses to send now. */
  lines: string[];
  /** UIDs announced by this sync's EXISTS. */
  fresh: number[];
}

export class SelectedMailbox {
  /** Sequence number - 1 → UID, ascending. */
  private uids: number[] = [];
  private readonly records = new Map<number, MessageRecord>();
  /** Expunged elsewhere, not yet announced: still numbered until then. */
  private readonly pendingExpunge = new Set<number>();
  /** Highest MODSEQ of the store this view has taken in. */
  private seen = 0;
  /** UIDs that are \Recent for this session (RFC 3501 §2.3.2): it was the first to see them. */
  private readonly recent = new Set<number>();
  /** Keywords the client was told of in FLAGS (RFC 9051 §7.3.5: a keyword is announced before it is used). */
  private readonly keywords = new Set<string>();
  /** Flag changes taken in but not yet told (a sync with flagUpdates false). */
  private readonly heldFlags = new Set<number>();

  private constructor(private readonly stores: Stores, public box: MailboxRecord, readonly readOnly: boolean) {}

  static async open(stores: Stores, box: MailboxRecord, readOnly: boolean): Promise<SelectedMailbox> {
    const view = new SelectedMailbox(stores, box, readOnly);
    const status = await stores.mailboxes.mailboxStatus(box.id);
    for (const m of await stores.mailboxes.listMessages(box.id)) {
      view.uids.push(m.uid);
      view.records.set(m.uid, m);
    }
    view.seen = status.highestModseq;
    view.box = { ...box, uidNext: status.uidNext, highestModseq: status.highestModseq };
    for (const m of view.records.values()) for (const f of m.flags) if (!f.startsWith("\\")) view.keywords.add(f);
    const firstRecent = await stores.mailboxes.recentFrom(box.id, !readOnly);
    for (const uid of view.uids) if (uid >= firstRecent) view.recent.add(uid);
    return view;
  }

  get recentCount(): number {
    return this.recent.size;
  }

  isRecent(uid: number): boolean {
    return this.recent.has(uid);
  }

  /** The flags to show for a message: \Recent added for IMAP4rev1 clients. */
  flagsOut(m: MessageRecord, withRecent: boolean): string {
    return withRecent && this.recent.has(m.uid) ? [...m.flags, "\\Recent"].join(" ") : m.flags.join(" ");
  }

  /** The FLAGS list as SELECT and later updates give it. */
  flagsList(): string {
    return [...SYSTEM_FLAGS, ...[...this.keywords].sort()].join(" ");
  }

  /**
   * When these flags bring keywords the client has not been told of: the
   * FLAGS and PERMANENTFLAGS lines to send first (RFC 9051 §7.3.5).
   */
  announceKeywords(flags: readonly string[]): string[] {
    const fresh = flags.filter((f) => !f.startsWith("\\") && !this.keywords.has(f));
    if (fresh.length === 0) return [];
    for (const f of fresh) this.keywords.add(f);
    const list = this.flagsList();
    return [`* FLAGS (${list})`, `* OK [PERMANENTFLAGS (${this.readOnly ? "" : `${list} \\*`})] Flags permitted`];
  }

  get exists(): number {
    return this.uids.length;
  }

  get highestModseq(): number {
    return this.seen;
  }

  /** UIDs in sequence order (pending expunges included: they keep their numbers until announced). */
  get allUids(): readonly number[] {
    return this.uids;
  }

  uidAt(seq: number): number | undefined {
    return this.uids[seq - 1];
  }

  /** 1-based sequence number of a UID, or 0. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.uids[mid];
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** The record as this session knows it; undefined for an unknown UID. */
  message(uid: number): MessageRecord | undefined {
    return this.records.get(uid);
  }

  /** Expunged by another session and not announced yet (FETCH of it may answer NO, RFC 2180 §4.1). */
  isGone(uid: number): boolean {
    return this.pendingExpunge.has(uid);
  }

  /** Takes in this session's own changes (its STORE already told the client). */
  remember(records: MessageRecord[]): void {
    for (const r of records) if (this.records.has(r.uid)) this.records.set(r.uid, r);
  }

  /** Forgets UIDs this session expunged itself, returning their sequence numbers as announced (each after the previous removals). */
  removeOwn(uids: number[]): number[] {
    const seqs: number[] = [];
    for (const uid of [...uids].sort((a, b) => a - b)) {
      const seq = this.seqOf(uid);
      if (seq === 0) continue;
      seqs.push(seq);
      this.uids.splice(seq - 1, 1);
      this.records.delete(uid);
      this.pendingExpunge.delete(uid);
      this.recent.delete(uid);
      this.heldFlags.delete(uid);
    }
    return seqs;
  }

  /** Catches up with the store: the untagged responses to send now. */
  async sync(opts: SyncOptions): Promise<SyncResult> {
    const lines: string[] = [];
    // Nothing new in the store (the common case after a command): one key lookup instead of two range queries.
    // Anything committed after this read has a higher MODSEQ: the next sync's range queries find it.
    const storeModseq = await this.stores.mailboxes.highestModseq(this.box.id);
    const nothingNew = storeModseq === this.seen;
    if (nothingNew && this.pendingExpunge.size === 0 && (this.heldFlags.size === 0 || opts.flagUpdates === false)) return { lines, fresh: [] };
    const [changed, recorded] = nothingNew ? [[], []] : await Promise.all([
      this.stores.mailboxes.changedSince(this.box.id, this.seen),
      this.stores.mailboxes.vanishedSince(this.box.id, this.seen),
    ]);
    // Records that old were pruned (a session left alone through many expunges): compare with what is there.
    const vanished = recorded ?? (await this.missingFromStore());
    for (const uid of vanished) if (this.records.has(uid)) this.pendingExpunge.add(uid);
    let top = this.seen;
    const fresh: MessageRecord[] = [];
    const updated: MessageRecord[] = [];
    for (const m of changed) {
      top = Math.max(top, m.modseq);
      const known = this.records.get(m.uid);
      if (known) {
        if (known.modseq !== m.modseq && !this.pendingExpunge.has(m.uid)) {
          this.records.set(m.uid, m);
          if (!sameFlags(known.flags, m.flags) || opts.condstore) updated.push(m);
        }
      } else if (m.uid > (this.uids[this.uids.length - 1] ?? 0)) {
        fresh.push(m);
      }
    }
    // Expunges and pruned records leave MODSEQs no row shows: take the store's as read above.
    this.seen = Math.max(top, storeModseq);
    // Expunges first, and FETCH lines numbered after them (§7.4.1: numbers shift at once).
    if (opts.allowExpunge && this.pendingExpunge.size > 0) {
      const gone = [...this.pendingExpunge];
      if (opts.beforeExpunge) lines.push(...opts.beforeExpunge(gone));
      const seqs = this.removeOwn(gone);
      if (opts.qresync) lines.push(`* VANISHED ${formatSequenceSet(gone)}`);
      else lines.push(...seqs.map((seq) => `* ${seq} EXPUNGE`));
    }
    if (opts.flagUpdates === false) {
      for (const m of updated) this.heldFlags.add(m.uid);
      updated.length = 0;
    } else if (this.heldFlags.size > 0) {
      const told = new Set(updated.map((m) => m.uid));
      for (const uid of this.heldFlags) if (!told.has(uid) && !this.pendingExpunge.has(uid)) updated.push(this.records.get(uid)!);
      this.heldFlags.clear();
      updated.sort((a, b) => a.uid - b.uid);
    }
    lines.push(...this.announceKeywords([...updated, ...fresh].flatMap((m) => m.flags)));
    for (const m of updated) if (this.seqOf(m.uid) > 0) lines.push(this.flagsLine(m, opts));
    if (fresh.length > 0) {
      const firstRecent = await this.stores.mailboxes.recentFrom(this.box.id, !this.readOnly);
      for (const m of fresh) {
        this.uids.push(m.uid);
        this.records.set(m.uid, m);
        if (m.uid >= firstRecent) this.recent.add(m.uid);
      }
      lines.push(`* ${this.uids.length} EXISTS`);
      if (opts.recent) lines.push(`* ${this.recent.size} RECENT`);
    }
    return { lines, fresh: fresh.map((m) => m.uid) };
  }

  /** The UIDs this view numbers that the store no longer has. */
  private async missingFromStore(): Promise<number[]> {
    const present = new Set((await this.stores.mailboxes.listMessages(this.box.id)).map((m) => m.uid));
    return this.uids.filter((uid) => !present.has(uid));
  }

  flagsLine(m: MessageRecord, opts: { condstore: boolean; recent: boolean }): string {
    return `* ${this.seqOf(m.uid)} FETCH (UID ${m.uid} FLAGS (${this.flagsOut(m, opts.recent)})${opts.condstore ? ` MODSEQ (${m.modseq})` : ""})`;
  }
}

function sameFlags(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}
