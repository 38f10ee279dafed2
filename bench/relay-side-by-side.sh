#!/usr/bin/env bash
# One run, both relays, the same load, the same sink (bench/README.md, "Outbound
# relay"): Postfix's smtp-sink on 127.0.0.9:2600 counts what arrives; Postfix
# (bench/postfix-relay.sh, relayhost [127.0.0.9]:2600) and then Petrel
# (bench/petrel-relay.sh, MX lookup through a loopback DNS stub) each accept
# SESSIONS x MESSAGES messages of SIZE bytes for user@sink.test from
# bench/smtp-load.ts and relay them there (bench/relay-load.ts measures).
# Prints the machine and a table; paste it into the README. Both servers' logs
# and the figures stay in /tmp/petrel-bench/relay-sink afterwards.
#   bench/relay-side-by-side.sh [SESSIONS] [MESSAGES] [SIZE]   (default 10 10000 4096)
#   RELAY_ORDER="petrel postfix" swaps the order (default "postfix petrel");
#   RELAY_ORDER=petrel runs one side only.
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${1:-10}; MESSAGES=${2:-10000}; SIZE=${3:-4096}
SINK=${PETREL_BENCH_SINK:-127.0.0.9:2600}
WORK=${PETREL_BENCH_DIR:-/tmp/petrel-bench}/relay-sink
ORDER=${RELAY_ORDER:-postfix petrel}
SMTP_SINK=$(command -v smtp-sink || ls /usr/sbin/smtp-sink /usr/lib/postfix/sbin/smtp-sink 2>/dev/null | head -1) || true
[ -x "${SMTP_SINK:-}" ] || bench/postfix-peer.sh install >/dev/null
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
case "$SINK" in 127.*) ;; *) echo "refusing non-loopback sink $SINK" >&2; exit 2;; esac

echo "== machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r), node $(node --version), $(postconf -d mail_version 2>/dev/null || echo postfix)"
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg): $SESSIONS sessions, $MESSAGES messages of $SIZE bytes to user@sink.test, sink $SINK"
npx tsc -p . >/dev/null || true   # others' files may have type errors; the JS is emitted anyway

rm -rf "$WORK"; mkdir -p "$WORK"
cleanup() {
  [ -f "$WORK/sink.pid" ] && kill "$(cat "$WORK/sink.pid")" 2>/dev/null || true
  bench/postfix-relay.sh stop >/dev/null 2>&1 || true
  bench/petrel-relay.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
# -c: running counters ("sess=N quit=N mesg=N", \r-separated) on stdout; up to 1000 connections.
"$SMTP_SINK" -c -m 1000 -u postfix "$SINK" 1000 >"$WORK/sink.counter" 2>"$WORK/sink.err" & echo $! >"$WORK/sink.pid"
for _ in $(seq 50); do (exec 3<>"/dev/tcp/${SINK%:*}/${SINK##*:}") 2>/dev/null && break; sleep 0.1; done

measure() {   # PORT -> one JSON line
  node dist/bench/relay-load.js --port "$1" --sessions "$SESSIONS" --messages "$MESSAGES" --size "$SIZE" \
    --to user@sink.test --sink-counter "$WORK/sink.counter" --timeout 1800 --json || true
}

# run_side NAME PORT RESET SENT LOG KEEP [rss]: one relay (bench/NAME-relay.sh) from a fresh start
# to RESET (its "clean" or "stop"), loaded through PORT; keeps in $WORK the figures (NAME.json),
# the server's CPU seconds (NAME.cpu), a check line (NAME.check: SENT log lines, queue, problems
# and, with "rss", resident memory) and the server's LOG as KEEP.
run_side() {
  local name=$1 port=$2 reset=$3 sent=$4 log=$5 keep=$6 script="bench/$1-relay.sh" c0 rss=""
  "$script" "$reset" >/dev/null 2>&1 || true
  "$script" start >/dev/null
  c0=$("$script" cpu)
  measure "$port" | tee "$WORK/$name.json"
  awk -v a="$c0" -v b="$("$script" cpu)" 'BEGIN { printf "%.1f\n", b - a }' >"$WORK/$name.cpu"
  [ "${7:-}" = rss ] && rss=", $("$script" rss | tr -s ' \t' ' ')"
  echo "server CPU: $(cat "$WORK/$name.cpu") s, $sent lines: $("$script" sent), still queued: $("$script" queued), problems: $("$script" problems | wc -l)$rss, load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$WORK/$name.check"
  cp "$log" "$WORK/$keep" 2>/dev/null || true
  "$script" "$reset" >/dev/null
}

run_postfix() {
  echo "== Postfix 127.0.0.1:2530 -> relayhost [${SINK%:*}]:${SINK##*:}"
  run_side postfix 2530 clean status=sent "${PETREL_BENCH_RELAY_DIR:-/tmp/petrel-bench/relay}/postfix/maillog" postfix.maillog
}

run_petrel() {
  echo "== Petrel 127.0.0.1:2529 -> MX sink.test -> ${SINK%:*} port ${SINK##*:}"
  run_side petrel 2529 stop '"sent"' "${PETREL_BENCH_DIR:-/tmp/petrel-bench}/petrel-relay/petrel.log" petrel.log rss
}

for side in $ORDER; do "run_$side"; done

echo "== sink total: $(tr '\r' '\n' <"$WORK/sink.counter" | tail -1)"
node -e '
const fs = require("fs"), dir = process.argv[1];
console.log("| server | accepted | accepted msg/s | \".\" -> 250 p50 / p99 | at sink when load ended | all at sink after | relayed msg/s (end to end) | at sink | server CPU | machine CPU busy |");
console.log("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const [name, file] of [["Postfix", "postfix.json"], ["Petrel", "petrel.json"]]) {
  let r, cpu; try { r = JSON.parse(fs.readFileSync(`${dir}/${file}`, "utf8").trim().split("\n").pop()); cpu = fs.readFileSync(`${dir}/${file.replace("json", "cpu")}`, "utf8").trim(); } catch { continue; }
  const l = r.dataEndTo250Ms || {};
  console.log(`| ${name} | ${r.accepted} | ${r.acceptedPerSecond} | ${l.p50} / ${l.p99} ms | ${r.atSinkWhenLoadEnded} | ${r.relaySeconds ?? "never"} s | ${r.relayedPerSecond ?? "–"} | ${r.atSink} | ${cpu} s | ${r.machineCpuSeconds} s (${r.machineCpuPercent} %) |`);
}' "$WORK"
