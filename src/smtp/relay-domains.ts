// relay.domains: the domains this server is a backup MX for (RFC 5321 §5.1;
// Postfix's relay_domains with relay_recipient_maps). Mail for them is
// accepted from anyone on the smtp listener, queued and forwarded to a more
// preferred MX — never delivered here. relay.recipients, when it lists
// addresses of a relay domain, is the table of valid recipients there, so the
// backup does not accept mail the primary would refuse (and then bounce it to
// forged senders: backscatter). Matching is exact on the domain, case-insensitive.
export class RelayDomains {
  private readonly domains: Set<string>;
  /** Per relay domain with a recipient table: its addresses (lower case); "*" means all. */
  private readonly recipients = new Map<string, Set<string>>();

  constructor(domains: string[], recipients: string[]) {
    this.domains = new Set(domains.map((d) => d.toLowerCase()));
    for (const entry of recipients) {
      const lower = entry.toLowerCase();
      const domain = lower.slice(lower.lastIndexOf("@") + 1);
      const set = this.recipients.get(domain) ?? new Set<string>();
      set.add(lower.startsWith("@") ? "*" : lower);
      this.recipients.set(domain, set);
    }
  }

  get list(): string[] {
    return [...this.domains];
  }

  has(domain: string): boolean {
    return this.domains.has(domain.toLowerCase());
  }

  /** "relay": accept and forward; "unknown": a relay domain that does not know this recipient; "no": not a relay domain. */
  check(address: string): "relay" | "unknown" | "no" {
    const lower = address.toLowerCase();
    const domain = lower.slice(lower.lastIndexOf("@") + 1);
    if (!this.domains.has(domain)) return "no";
    const table = this.recipients.get(domain);
    if (!table || table.has("*") || table.has(lower)) return "relay";
    // A sub-address is valid when its base address is ("user+tag@" → "user@").
    const plus = lower.indexOf("+");
    return plus > 0 && plus < lower.lastIndexOf("@") && table.has(lower.slice(0, plus) + lower.slice(lower.lastIndexOf("@"))) ? "relay" : "unknown";
  }
}
