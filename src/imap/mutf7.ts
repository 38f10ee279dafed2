// Modified UTF-7, the mailbox name encoding of IMAP4rev1 (RFC 3501 §5.1.3;
// RFC 9051 §5.1 keeps it for clients that did not ENABLE UTF8=ACCEPT,
// RFC 6855 §3). Printable US-ASCII (0x20-0x7e) stands for itself, except "&"
// which is written "&-"; every other UTF-16 code unit is written as
// "&" modified-BASE64 "-", the base64 of RFC 4648 with "," instead of "/",
// no "=" padding.
//
// SECURITY: decode() is given client text (attacker-controlled). It never
// throws and accepts only the canonical encoding, so that two spellings
// cannot name one mailbox: it refuses printable ASCII inside a shift
// ("&AGE-" for "a"), an unterminated shift, characters outside base64, pad
// bits that are not zero or a spare base64 character, an odd number of
// octets, two shifts side by side ("&AOk-&AOk-" is "&AOkA6Q-"), unpaired
// surrogates, and any octet outside 0x20-0x7e.

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;

const AMP = 0x26;

function printable(c: number): boolean {
  return c >= 0x20 && c <= 0x7e;
}

/** Encodes a mailbox name to modified UTF-7. Unpaired surrogates are encoded as code units
 * (decode() refuses them, so only well-formed strings round-trip). */
export function encodeMutf7(name: string): string {
  let out = "";
  let units: number[] = [];
  const flush = () => {
    if (units.length === 0) return;
    out += "&" + base64Units(units) + "-";
    units = [];
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (printable(c)) {
      flush();
      out += c === AMP ? "&-" : name[i];
    } else {
      units.push(c);
    }
  }
  flush();
  return out;
}

function base64Units(units: number[]): string {
  let out = "";
  let bits = 0;
  let nbits = 0;
  for (const u of units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out += B64[(bits >>> nbits) & 0x3f];
    }
    bits &= (1 << nbits) - 1;
  }
  if (nbits > 0) out += B64[(bits << (6 - nbits)) & 0x3f];
  return out;
}

/** Decodes modified UTF-7; undefined when the text is not a canonical encoding. */
export function decodeMutf7(text: string): string | undefined {
  let out = "";
  let i = 0;
  let afterShift = false;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (!printable(c)) return undefined;
    if (c !== AMP) {
      out += text[i];
      i++;
      afterShift = false;
      continue;
    }
    const end = text.indexOf("-", i + 1);
    if (end === -1) return undefined;
    if (end === i + 1) {
      out += "&";
      i = end + 1;
      afterShift = false;
      continue;
    }
    if (afterShift) return undefined;
    const decoded = decodeShift(text, i + 1, end);
    if (decoded === undefined) return undefined;
    out += decoded;
    i = end + 1;
    afterShift = true;
  }
  return out;
}

function decodeShift(text: string, start: number, end: number): string | undefined {
  let bits = 0;
  let nbits = 0;
  const bytes: number[] = [];
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B64_VALUE[c]! : -1;
    if (v < 0) return undefined;
    bits = ((bits << 6) | v) & 0xffffff;
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      bytes.push((bits >>> nbits) & 0xff);
    }
  }
  if (nbits >= 6 || (bits & ((1 << nbits) - 1)) !== 0) return undefined;
  if (bytes.length === 0 || bytes.length % 2 !== 0) return undefined;
  let out = "";
  for (let k = 0; k < bytes.length; k += 2) {
    const u = (bytes[k]! << 8) | bytes[k + 1]!;
    if (printable(u)) return undefined;
    if (u >= 0xd800 && u <= 0xdbff) {
      const next = k + 3 < bytes.length ? (bytes[k + 2]! << 8) | bytes[k + 3]! : -1;
      if (next < 0xdc00 || next > 0xdfff) return undefined;
      out += String.fromCharCode(u, next);
      k += 2;
      continue;
    }
    if (u >= 0xdc00 && u <= 0xdfff) return undefined;
    out += String.fromCharCode(u);
  }
  return out;
}

export { encodeMutf7 as encode, decodeMutf7 as decode };
