// `petrel domain|user|alias`: accounts and addresses, managed while the
// server runs (the server reads the same database on every lookup).
// Trusted with passwords on the way to being hashed; never prints one.
import { parseSize, formatSize } from "../config/units.js";
import { normalizeAddress, normalizeDomain, splitAddress } from "../directory/address.js";
import { hashPassword } from "../directory/password.js";
import { UsageError, type ParsedArgs } from "./args.js";
import { printRows, type CliContext } from "./context.js";
import { obtainPassword } from "./password.js";

const address = (text: string | undefined, what = "address"): string => {
  const normalized = text === undefined ? undefined : normalizeAddress(text);
  if (!normalized) throw new UsageError(`${text === undefined ? `missing ${what}` : `"${text}" is not a valid ${what}`}`);
  return normalized;
};

const domainName = (text: string | undefined): string => {
  const normalized = text === undefined ? undefined : normalizeDomain(text);
  if (!normalized) throw new UsageError(text === undefined ? "missing DOMAIN" : `"${text}" is not a valid domain name`);
  return normalized;
};

async function requireLocalDomain(ctx: CliContext, domain: string): Promise<void> {
  if (!(await ctx.stores().directory.hasDomain(domain))) {
    throw new UsageError(`${domain} is not a local domain: add it first with "petrel domain add ${domain}"`);
  }
}

export async function domainVerb(ctx: CliContext, args: ParsedArgs): Promise<void> {
  const [action, name, ...extra] = args.positional;
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const dir = ctx.stores().directory;
  switch (action) {
    case "add":
      await dir.addDomain(domainName(name));
      return ctx.out(`domain ${domainName(name)} added`);
    case "remove": {
      const domain = domainName(name);
      if (!(await dir.hasDomain(domain))) throw new UsageError(`${domain} is not a local domain`);
      const users = await dir.listUsers(domain);
      const aliases = (await dir.listAliases()).filter((a) => splitAddress(a.source).domain === domain);
      if (users.length || aliases.length) {
        throw new UsageError(`${domain} still has ${users.length} user(s) and ${aliases.length} alias(es): remove them first`);
      }
      await dir.removeDomain(domain);
      return ctx.out(`domain ${domain} removed`);
    }
    case "list": {
      const domains = await dir.listDomains();
      if (ctx.json) return ctx.out(JSON.stringify(domains));
      return domains.forEach((d) => ctx.out(d));
    }
    default:
      throw new UsageError("usage: petrel domain add|remove|list [DOMAIN]");
  }
}

export async function userVerb(ctx: CliContext, args: ParsedArgs): Promise<void> {
  const [action, target, ...extra] = args.positional;
  if (extra.length > (action === "send-as" ? 1 : 0)) throw new UsageError(`unexpected argument "${extra[extra.length - 1]}"`);
  const dir = ctx.stores().directory;
  switch (action) {
    case "add": {
      const user = address(target);
      await requireLocalDomain(ctx, splitAddress(user).domain);
      if (await dir.getUser(user)) throw new UsageError(`user ${user} exists already`);
      if (await dir.getAlias(user)) throw new UsageError(`${user} is an alias; remove the alias first`);
      const quota = parseQuota(args.options.get("quota"));
      const password = await obtainPassword(args.flags.has("password-stdin"));
      await dir.addUser(user, await hashPassword(password), quota);
      return ctx.out(`user ${user} added${quota ? ` (quota ${formatSize(quota)})` : ""}`);
    }
    case "passwd": {
      const user = address(target);
      if (!(await dir.getUser(user))) throw new UsageError(`no user ${user}`);
      const password = await obtainPassword(args.flags.has("password-stdin"));
      await dir.setPassword(user, await hashPassword(password));
      return ctx.out(`password of ${user} changed`);
    }
    case "quota": {
      const user = address(target);
      if (!(await dir.getUser(user))) throw new UsageError(`no user ${user}`);
      const quota = parseQuota(args.options.get("quota") ?? "0");
      await dir.setQuota(user, quota);
      return ctx.out(`quota of ${user} set to ${quota ? formatSize(quota) : "none"}`);
    }
    case "send-as": {
      const user = address(target);
      const mode = args.options.get("mode") ?? extra[0];
      if (!(await dir.getUser(user))) throw new UsageError(`no user ${user}`);
      if (mode !== "own" && mode !== "any") throw new UsageError("usage: petrel user send-as ADDRESS own|any");
      await dir.setSendAs(user, mode);
      return ctx.out(`${user} may now send as ${mode === "any" ? "any address" : "its own addresses and aliases to it"}`);
    }
    case "remove": {
      const user = address(target);
      if (!(await dir.getUser(user))) throw new UsageError(`no user ${user}`);
      await dir.removeUser(user);
      const stores = ctx.stores();
      for (const blob of await stores.mailboxes.takeOrphanBlobs()) await stores.blobs.remove(blob);
      return ctx.out(`user ${user} removed with all mail`);
    }
    case "list": {
      let users = await dir.listUsers(target && !target.includes("@") ? domainName(target) : undefined);
      if (target?.includes("@")) users = users.filter((u) => u.address === address(target));
      const rows = users.map((u) => ({ address: u.address, quota: u.quota ? formatSize(u.quota) : "none", usage: formatSize(u.usage), send_as: u.sendAs, created: new Date(u.createdAt).toISOString() }));
      return printRows(ctx, rows, ["address", "quota", "usage", "send_as", "created"]);
    }
    default:
      throw new UsageError("usage: petrel user add|passwd|quota|send-as|remove|list [ADDRESS] [--password-stdin] [--quota SIZE] [own|any]");
  }
}

function parseQuota(text: string | undefined): number {
  if (text === undefined) return 0;
  const bytes = parseSize(text);
  if (bytes === undefined) throw new UsageError(`--quota "${text}" is not a size (like 500M or 2G)`);
  return bytes;
}

export async function aliasVerb(ctx: CliContext, args: ParsedArgs): Promise<void> {
  const [action, source, ...targets] = args.positional;
  const dir = ctx.stores().directory;
  const aliasSource = (text: string | undefined): string => {
    if (text?.startsWith("@")) return `@${domainName(text.slice(1))}`;
    return address(text, "alias source");
  };
  switch (action) {
    case "add": {
      const from = aliasSource(source);
      await requireLocalDomain(ctx, splitAddress(from).domain);
      if (targets.length === 0) throw new UsageError("usage: petrel alias add SOURCE TARGET [TARGET...]");
      const to = targets.flatMap((t) => t.split(",")).filter(Boolean).map((t) => (t.startsWith("@") ? `@${domainName(t.slice(1))}` : address(t, "alias target")));
      if (!from.startsWith("@") && (await dir.getUser(from))) throw new UsageError(`${from} is a user; an alias cannot hide it`);
      const merged = [...new Set([...((await dir.getAlias(from)) ?? []), ...to])];
      await dir.setAlias(from, merged);
      return ctx.out(`alias ${from} -> ${merged.join(", ")}`);
    }
    case "remove": {
      const from = aliasSource(source);
      if (targets.length) throw new UsageError(`unexpected argument "${targets[0]}"`);
      if (!(await dir.getAlias(from))) throw new UsageError(`no alias ${from}`);
      await dir.removeAlias(from);
      return ctx.out(`alias ${from} removed`);
    }
    case "list": {
      const filter = source === undefined ? undefined : aliasSource(source);
      const rows = (await dir.listAliases()).filter((a) => !filter || a.source === filter);
      return printRows(ctx, rows.map((a) => ({ source: a.source, targets: a.targets })), ["source", "targets"]);
    }
    default:
      throw new UsageError("usage: petrel alias add|remove|list [SOURCE] [TARGET...]");
  }
}
