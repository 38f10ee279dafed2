// The storage contract: the behaviour every backend of the roles in
// src/store/interfaces.ts must show (the embedded SQLite + files backend
// today, PostgreSQL later). A backend's test file calls storeContract with a
// function that opens a fresh, empty Stores; each test gets its own. The
// roles' tests live in contract-<role>.ts beside this file.
import { describe } from "node:test";
import type { Stores } from "../../src/store/interfaces.js";
import { blobContract } from "./contract-blobs.js";
import { directoryContract } from "./contract-directory.js";
import { mailboxContract } from "./contract-mailboxes.js";
import { queueContract } from "./contract-queue.js";
import { queueOutcomeContract } from "./contract-queue-outcomes.js";
import { mailboxImapContract } from "./contract-mailboxes-imap.js";
import { counterContract } from "./contract-counters-changes.js";

export function storeContract(name: string, open: () => Promise<{ stores: Stores; cleanup(): Promise<void> }>): void {
  describe(`store contract: ${name}`, () => {
    blobContract(open);
    directoryContract(open);
    mailboxContract(open);
    mailboxImapContract(open);
    queueContract(open);
    queueOutcomeContract(open);
    counterContract(open);
  });
}
