// Group commit: callers submit items one at a time; whatever arrives while a
// flush is running is written by the next flush, as one batch. With one
// fsync per batch, many sessions' messages share the cost of durability,
// and an idle server adds no waiting to a lone message. When a batch fails,
// its items are retried one by one, so one bad item fails alone.
export class GroupCommit<T, R> {
  private waiting: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(private readonly flushBatch: (items: T[]) => Promise<R[]>, private readonly maxBatch = 512) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.maxBatch);
      try {
        const results = await this.flushBatch(batch.map((w) => w.item));
        batch.forEach((w, i) => w.resolve(results[i]));
      } catch (err) {
        if (batch.length === 1) batch[0].reject(err);
        // One bad item must not fail the others: each is tried again on its own.
        else for (const w of batch) await this.flushBatch([w.item]).then(([r]) => w.resolve(r), w.reject);
      }
    }
    this.running = false;
  }
}
