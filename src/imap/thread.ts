// THREAD algorithms (RFC 5256 §3 "THREAD Command"): ORDEREDSUBJECT and
// REFERENCES (the six steps, after Jamie Zawinski's threading), and the
// thread-list output of RFC 5256 §4 ("(2)(3 6 (4 23)(44 7 96))").
//
// SECURITY: Message-ID, References, In-Reply-To and Subject are
// attacker-controlled. Nothing here throws or recurses: every walk over the
// thread forest uses an explicit stack or walks parent pointers, so a chain
// of 100 000 replies cannot exhaust the call stack; links that would close
// a loop are refused (step 1), which keeps the parent pointers a forest, so
// every walk up ends. Missing, invalid and duplicate Message-IDs get fresh
// identities. Work is linear in the header bytes plus, per refused or new
// link, one walk up the thread (its depth).
//
// Choices where the RFC leaves room:
// - A Message ID is what is between "<" and ">" with whitespace removed,
//   and must contain an "@" that is neither first nor last; <...> inside
//   parenthesised comments are skipped (unless nothing else is found).
//   Comparisons are case-sensitive (step 1).
// - A message's references: the valid IDs of its first References field;
//   when there are none, the first valid ID of its first In-Reply-To field.
// - Messages are processed in sequence order, so the first (lowest sequence
//   number) message with a Message ID owns it.
// - "Reply or forward" (step 5) is what base subject extraction says
//   (sort.ts baseSubject), subjects compare under i;ascii-casemap.
// - ORDEREDSUBJECT groups every message with an empty base subject into one
//   thread (they share the base subject ""), as the RFC's wording implies.
import type { SortItem } from "./sort.js";
import { baseSubject, casemapKey, sentDate } from "./sort.js";

/** A thread tree: item null is a dummy (a message that is not there, or a subject-merge parent). */
export interface ThreadNode<T> {
  item: T | null;
  children: ThreadNode<T>[];
}

interface Node<T> extends ThreadNode<T> {
  children: Node<T>[];
  parent: Node<T> | null;
  /** Step 1 only: the children, as a set (relinking must not cost a scan of a long list); null for none yet. */
  kids: Set<Node<T>> | null;
  date: number;
  seq: number;
  /** Base subject under the collation ("" for none). */
  subject: string;
  replyOrForward: boolean;
}

function node<T>(item: T | null): Node<T> {
  return { item, children: [], parent: null, kids: null, date: 0, seq: 0, subject: "", replyOrForward: false };
}

/** The base subject as a map key under i;ascii-casemap (bytes as a binary string). */
function subjectKey(raw: string | undefined): { key: string; replyOrForward: boolean } {
  if (raw === undefined) return { key: "", replyOrForward: false };
  const b = baseSubject(raw);
  return { key: casemapKey(b.subject).toString("latin1"), replyOrForward: b.replyOrForward };
}

function fill<T extends SortItem>(n: Node<T>, item: T): void {
  n.item = item;
  n.date = sentDate(item);
  n.seq = item.seq;
  const s = subjectKey(item.header?.subject);
  n.subject = s.key;
  n.replyOrForward = s.replyOrForward;
}

// ------------------------------------------------------------ Message IDs

function validId(id: string): boolean {
  const at = id.lastIndexOf("@");
  return at > 0 && at < id.length - 1;
}

function scanIds(bin: string, max: number, skipComments: boolean): string[] {
  const out: string[] = [];
  let depth = 0;
  for (let i = 0; i < bin.length && out.length < max; i++) {
    const c = bin.charCodeAt(i);
    if (skipComments && depth > 0) {
      if (c === 0x5c) i++; // quoted-pair
      else if (c === 0x28) depth++;
      else if (c === 0x29) depth--;
      continue;
    }
    if (skipComments && c === 0x28) {
      depth = 1;
      continue;
    }
    if (c !== 0x3c) continue;
    const close = bin.indexOf(">", i + 1);
    if (close === -1) break;
    const reopen = bin.lastIndexOf("<", close);
    if (reopen > i) {
      i = reopen - 1; // "<junk <id@host>": start again at the last "<"
      continue;
    }
    const id = bin.slice(i + 1, close).replace(/[ \t\r\n]+/g, "");
    if (validId(id)) out.push(id);
    i = close;
  }
  return out;
}

/** The valid Message IDs of a field value (binary string), in order, without the angle brackets. */
export function messageIds(bin: string | undefined, max = Infinity): string[] {
  if (bin === undefined || !bin.includes("<")) return [];
  const ids = scanIds(bin, max, true);
  return ids.length > 0 ? ids : scanIds(bin, max, false);
}

/** Step 1's references of a message: its References IDs, else the first In-Reply-To ID. */
export function referencesOf(item: SortItem): string[] {
  const refs = messageIds(item.header?.references);
  return refs.length > 0 ? refs : messageIds(item.header?.inReplyTo, 1);
}

// ------------------------------------------------------------ REFERENCES

/** Linking child under parent would close a loop: parent is child or a descendant of it. */
function wouldLoop<T>(parent: Node<T>, child: Node<T>): boolean {
  if (parent === child) return true;
  if (child.kids === null || child.kids.size === 0) return false; // a leaf is nobody's ancestor
  for (let a: Node<T> | null = parent; a !== null; a = a.parent) if (a === child) return true;
  return false;
}

function link<T>(parent: Node<T>, child: Node<T>): void {
  child.parent = parent;
  (parent.kids ??= new Set()).add(child);
}

function unlink<T>(child: Node<T>): void {
  child.parent?.kids?.delete(child);
  child.parent = null;
}

/** The date and sequence number a node sorts by: its own, or (dummy) its first child's. */
function sortKey<T>(n: Node<T>): Node<T> {
  let m = n;
  while (m.item === null && m.children.length > 0) m = m.children[0]!;
  return m;
}

function byDate<T>(a: Node<T>, b: Node<T>): number {
  const x = sortKey(a);
  const y = sortKey(b);
  return x.date - y.date || x.seq - y.seq;
}

/** Pre-order list of the nodes under (and including) root; reversed, every node comes after its descendants. */
function preorder<T>(root: Node<T>): Node<T>[] {
  const order: Node<T>[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const n = stack.pop()!;
    order.push(n);
    for (const c of n.children) stack.push(c);
  }
  return order;
}

/** The REFERENCES algorithm of RFC 5256 §3 over the searched messages. */
export function threadReferences<T extends SortItem>(items: readonly T[]): ThreadNode<T>[] {
  const ordered = [...items].sort((a, b) => a.seq - b.seq);
  const ids = new Map<string, Node<T>>();
  const all: Node<T>[] = [];
  const make = (item: T | null): Node<T> => {
    const n = node<T>(item);
    all.push(n);
    return n;
  };

  // (1) Links from each message's references, then to the message itself.
  for (const item of ordered) {
    const id = messageIds(item.header?.messageId, 1)[0];
    const known = id === undefined ? undefined : ids.get(id);
    let c: Node<T>;
    if (known && known.item === null) c = known; // the dummy made for this ID becomes the message
    else {
      c = make(null); // missing or duplicate IDs: a node of its own, found by no ID
      if (id !== undefined && !known) ids.set(id, c);
    }
    fill(c, item);
    // (A) first reference the parent of the second, and so on; existing links kept, loops refused.
    let prev: Node<T> | null = null;
    for (const ref of referencesOf(item)) {
      let r = ids.get(ref);
      if (!r) {
        r = make(null);
        ids.set(ref, r);
      }
      if (prev !== null && r.parent === null && !wouldLoop(prev, r)) link(prev, r);
      prev = r;
    }
    // (B) the last reference is the parent (none: no parent), unless that would close a loop.
    if (prev !== c.parent) {
      unlink(c);
      if (prev !== null && !wouldLoop(prev, c)) link(prev, c);
    }
  }

  // (2) The messages without a parent under one root.
  const root = node<T>(null);
  for (const n of all) {
    if (n.kids !== null) n.children = [...n.kids];
    n.kids = null;
    if (n.parent === null) {
      n.parent = root;
      root.children.push(n);
    }
  }

  // (3) Dummies pruned, children first: an empty dummy goes; a dummy with
  // children gives them to its parent, except that a dummy under the root
  // keeps two or more children.
  const order = preorder(root);
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i]!;
    const out: Node<T>[] = [];
    for (const c of n.children) {
      if (c.item !== null || (n === root && c.children.length > 1)) out.push(c);
      else
        for (const g of c.children) {
          g.parent = n;
          out.push(g);
        }
    }
    n.children = out;
  }

  // (4) The threads by sent date (a dummy by its earliest child).
  for (const n of root.children) if (n.item === null) n.children.sort(byDate);
  root.children.sort(byDate);

  // (5) Threads with the same base subject merged.
  const threadSubject = (n: Node<T>) => sortKey(n).subject;
  const table = new Map<string, Node<T>>();
  for (const n of root.children) {
    const s = threadSubject(n);
    if (s === "") continue;
    const t = table.get(s);
    if (!t) table.set(s, n);
    else if (t.item !== null && (n.item === null || (t.replyOrForward && !n.replyOrForward))) table.set(s, n);
  }
  for (const n of [...root.children]) {
    if (n.parent !== root) continue; // merged already
    const s = threadSubject(n);
    if (s === "") continue;
    const t = table.get(s)!;
    if (t === n) continue;
    if (t.item === null && n.item === null) {
      for (const c of n.children) {
        c.parent = t;
        t.children.push(c);
      }
      n.children = [];
      n.parent = null;
    } else if (t.item === null || (n.replyOrForward && !t.replyOrForward)) {
      n.parent = t;
      t.children.push(n);
    } else {
      const d = make(null);
      d.parent = root;
      root.children.push(d);
      t.parent = d;
      n.parent = d;
      d.children = [t, n];
      table.set(s, d);
    }
  }
  root.children = root.children.filter((n) => n.parent === root);

  // (6) Every set of siblings by sent date, the deepest first.
  const all6 = preorder(root);
  for (let i = all6.length - 1; i >= 0; i--) all6[i]!.children.sort(byDate);
  return root.children;
}

// ------------------------------------------------------------ ORDEREDSUBJECT

/** The ORDEREDSUBJECT algorithm of RFC 5256 §3 over the searched messages. */
export function threadOrderedSubject<T extends SortItem>(items: readonly T[]): ThreadNode<T>[] {
  const rows = items.map((item) => {
    const n = node<T>(null);
    fill(n, item);
    return n;
  });
  rows.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : a.date - b.date || a.seq - b.seq));
  const threads: Node<T>[] = [];
  for (let i = 0; i < rows.length; ) {
    const first = rows[i]!;
    let j = i + 1;
    while (j < rows.length && rows[j]!.subject === first.subject) first.children.push(rows[j++]!);
    threads.push(first);
    i = j;
  }
  threads.sort((a, b) => a.date - b.date || a.seq - b.seq);
  return threads;
}

// ------------------------------------------------------------ output

/**
 * The thread-lists of a THREAD response (RFC 5256 §4): "(1)(2 3 (4)(5))".
 * A chain of only children is written flat ("2 3"), several children each
 * in parentheses; a dummy has no number, so it shows as its children
 * ("((3)(5))").
 */
export function formatThreads<T>(threads: readonly ThreadNode<T>[], num: (item: T) => number): string {
  let out = "";
  const stack: (string | ThreadNode<T>)[] = [];
  const children = (n: ThreadNode<T>) => n.children.filter((c) => c.item !== null || c.children.length > 0);
  // Content of a node (what goes inside its parentheses), pushed in reverse.
  const pushContent = (n: ThreadNode<T>) => {
    const kids = children(n);
    if (kids.length === 1) stack.push(kids[0]!);
    else
      for (let i = kids.length - 1; i >= 0; i--) {
        stack.push(")");
        stack.push(kids[i]!);
        stack.push("(");
      }
    if (n.item !== null) stack.push(kids.length > 0 ? `${num(n.item)} ` : `${num(n.item)}`);
  };
  for (let i = threads.length - 1; i >= 0; i--) {
    const t = threads[i]!;
    if (t.item === null && children(t).length === 0) continue;
    stack.push(")");
    stack.push(t);
    stack.push("(");
  }
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (typeof x === "string") out += x;
    else pushContent(x);
  }
  return out;
}
