#!/usr/bin/env bash
# One run, both IMAP servers, one after the other (bench/README.md, "IMAP:
# imaptest stress, Petrel and Dovecot"): imaptest's default stress profile
# (no test=, its default command probabilities) against Dovecot
# (bench/dovecot-imap-peer.sh, 127.0.0.1:2614) and Petrel (bench/petrel-imap.sh,
# 127.0.0.1:2613), the same mbox, users testuser1..20@bench.test; then, on the
# same instance, the memory of IDLE_CONNECTIONS idle clients (bench/imap-idle.ts),
# and for Dovecot once more with imap hibernation on.
#
#   bench/imap-side-by-side.sh [IMAPTEST ARGS...]    (default: clients=20 secs=120)
#   bench/imap-side-by-side.sh --summary             # the tables of the last run again
#
# Environment:
#   IMAPTEST              the imaptest binary (default /tmp/imaptest/src/imaptest; built as
#                         bench/README.md says, never committed); its tests/*.mbox become the stress mbox
#   ORDER                 "dovecot petrel" (default), "petrel dovecot", or one of them; two Dovecot
#                         variants for the stress only: dovecot-ssha512 (passwords as salted SHA-512,
#                         no SHA512-CRYPT per login) and dovecot-login1 (Dovecot's default login
#                         service: a new imap-login process per connection)
#   IDLE_CONNECTIONS      idle clients for the memory figure (default 2000; 0: skip)
#   DOVECOT_HIBERNATE     imap_hibernate_timeout of the extra Dovecot idle run (default 2s; 0: skip it)
#   STRESS                1 (default); 0: only the idle-memory runs
# imaptest logs in as testuser1..20; the servers get more users when IDLE_CONNECTIONS
# needs them (at most 100 sessions a user: Dovecot's IDLE takes an inotify instance,
# 128 per UID, and each of its users has a UID of its own).
#
# Prints the machine and markdown tables; stops everything it started; leaves
# imaptest's output, both servers' logs and summary.md in /tmp/petrel-bench/imap-side-by-side.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAPTEST=${IMAPTEST:-/tmp/imaptest/src/imaptest}
ORDER=${ORDER:-dovecot petrel}
IDLE=${IDLE_CONNECTIONS:-2000}
HIBERNATE=${DOVECOT_HIBERNATE:-2s}
OUT=${PETREL_BENCH_DIR:-/tmp/petrel-bench}/imap-side-by-side
STRESS=${STRESS:-1}
USERS=20                                              # imaptest's users=
IDLE_USERS=$(( (IDLE + 99) / 100 > USERS ? (IDLE + 99) / 100 : USERS ))
export PETREL_BENCH_IMAP_USERS=$IDLE_USERS            # users both servers have
PETREL_PORT=2613
DOVECOT_PORT=2614
# imaptest links against Dovecot's private libraries
export LD_LIBRARY_PATH=/usr/lib/dovecot${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

SUMMARY_ONLY=; [ "${1:-}" = --summary ] && { SUMMARY_ONLY=1; shift; }
[ -x "$IMAPTEST" ] || { echo "no imaptest at $IMAPTEST (set IMAPTEST; bench/README.md says how to build it)" >&2; exit 1; }
TESTS_DIR=${IMAPTEST_TESTS:-$(dirname "$IMAPTEST")/tests}
ls "$TESTS_DIR"/*.mbox >/dev/null || { echo "no $TESTS_DIR/*.mbox (set IMAPTEST_TESTS)" >&2; exit 1; }

# The caller's arguments; clients= and secs= only if not given (a second secs= would add a second stop timer).
ARGS=("$@")
printf '%s\n' "${ARGS[@]}" | grep -q '^clients=' || ARGS=(clients=20 "${ARGS[@]}")
printf '%s\n' "${ARGS[@]}" | grep -q '^secs=' || ARGS=(secs=120 "${ARGS[@]}")
SECS=$(printf '%s\n' "${ARGS[@]}" | sed -n 's/^secs=\([0-9]*\).*/\1/p' | tail -1)
CLIENTS=$(printf '%s\n' "${ARGS[@]}" | sed -n 's/^clients=//p' | tail -1)

if [ -z "$SUMMARY_ONLY" ]; then
rm -rf "$OUT"; mkdir -p "$OUT"
declare -p ORDER ARGS SECS CLIENTS IDLE IDLE_USERS STRESS >"$OUT/run.env"
STARTED=()
cleanup() {
  for s in "${STARTED[@]}"; do
    case $s in
      petrel) bench/petrel-imap.sh stop >/dev/null 2>&1 || true ;;
      dovecot) bench/dovecot-imap-peer.sh clean >/dev/null 2>&1 || true ;;
    esac
  done
}
trap cleanup EXIT

# The stress mbox: imaptest's tests/*.mbox joined, each message given a Message-ID of
# its own (imaptest tells messages apart by it; several test mboxes reuse the same ones).
node - "$OUT/stress.mbox" "$TESTS_DIR"/*.mbox <<'JS'
const fs = require("node:fs");
const [out, ...inputs] = process.argv.slice(2);
let text = "", n = 0;
for (const file of inputs) {
  const src = fs.readFileSync(file, "latin1");
  for (const part of src.split(/^(?=From )/m)) {
    if (!part.startsWith("From ")) continue;
    const nl = part.indexOf("\n");
    const rest = part.slice(nl + 1);
    let sep = rest.search(/\r?\n\r?\n/);
    if (sep < 0) sep = rest.length;
    const head = rest.slice(0, sep).replace(/^message-id:.*(\r?\n[ \t].*)*(\r?\n|$)/gim, "");
    text += part.slice(0, nl + 1) + `Message-ID: <stress${++n}@imaptest.invalid>\n` + head + rest.slice(sep);
    if (!text.endsWith("\n")) text += "\n";
  }
}
fs.writeFileSync(out, text, "latin1");
console.log(`stress mbox: ${n} messages, ${text.length} bytes`);
JS

bench_machine() {
  echo "$(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), kernel $(uname -r), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), node $(node --version), dovecot $(dovecot --version), imaptest $(git -C "$(dirname "$IMAPTEST")/.." rev-parse --short HEAD 2>/dev/null || echo '?')"
}
child_cpu() {   # CPU seconds of this shell's waited-for children so far (the `times` builtin, no subshell)
  times >"$OUT/.times"
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.2f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$OUT/.times"
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
tck=$(getconf CLK_TCK)

bench_machine >"$OUT/machine.txt"; echo "== machine: $(cat "$OUT/machine.txt")"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$STRESS" = 1 ]; then echo "== imaptest ${ARGS[*]} users=$USERS (mbox $OUT/stress.mbox)"; fi
npx tsc -p . >/dev/null || true   # others' files may have type errors; the JS is emitted anyway

dovecot_env() {   # the settings of a Dovecot variant, for env(1)
  case $1 in
    dovecot) echo PETREL_BENCH_DOVECOT_SCHEME=SHA512-CRYPT ;;
    dovecot-ssha512) echo PETREL_BENCH_DOVECOT_SCHEME=SSHA512 ;;
    dovecot-login1) echo PETREL_BENCH_DOVECOT_LOGIN=default ;;
  esac
}
server_cpu() { if [ "$1" = petrel ]; then bench/petrel-imap.sh cpu; else bench/dovecot-imap-peer.sh cpu; fi; }
server_mem() {   # "RSS MB / Pss MB"
  if [ "$1" = petrel ]; then
    awk '/^VmRSS:/ { r = $2 } END { printf "%.1f MB", r / 1024 }' "/proc/$(bench/petrel-imap.sh pid)/status"
  else
    bench/dovecot-imap-peer.sh mem | awk '{ printf "%.1f MB (Pss %.1f MB, %d processes)", $1 / 1024, $2 / 1024, $3 }'
  fi
}

idle_run() {   # NAME PORT LABEL [SETTLE]: imap-idle against the running server, JSON into $OUT/NAME.idle-LABEL.json
  local name=$1 port=$2 label=$3 settle=${4:-3} who
  if [ "$name" = petrel ]; then who=(--pid "$(bench/petrel-imap.sh pid)"); else who=(--pids-command "bench/dovecot-imap-peer.sh pids"); fi
  echo "-- $name: $IDLE idle clients ($label)"
  node dist/bench/imap-idle.js --port "$port" --connections "$IDLE" --users "$IDLE_USERS" \
    --user-format 'testuser%d@bench.test' --password pw --settle "$settle" "${who[@]}" 2>&1 | tee "$OUT/$name.idle-$label.json" || true
}

stress() {   # NAME PORT: imaptest against the running server, figures into $OUT/NAME.*
  local name=$1 port=$2 t0 t1 c0 c1 b0 b1
  cut -d' ' -f1-3 /proc/loadavg >"$OUT/$name.load"
  c0=$(server_cpu "$name"); b0=$(busy_ticks); t0=$(date +%s.%N); child_cpu >"$OUT/.i0"
  timeout $((SECS + 300)) "$IMAPTEST" host=127.0.0.1 port="$port" user='testuser%d@bench.test' users="$USERS" pass=pw \
    mbox="$OUT/stress.mbox" output="$OUT/$name.results.tsv" "${ARGS[@]}" >"$OUT/$name.imaptest.out" 2>&1 \
    && echo 0 >"$OUT/$name.rc" || echo $? >"$OUT/$name.rc"
  child_cpu >"$OUT/.i1"; t1=$(date +%s.%N); b1=$(busy_ticks); c1=$(server_cpu "$name")
  awk -v a="$(cat "$OUT/.i0")" -v b="$(cat "$OUT/.i1")" 'BEGIN { printf "%.1f\n", b - a }' >"$OUT/$name.imaptest-cpu"
  awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.1f\n", b - a }' >"$OUT/$name.cpu"
  awk -v a="$b0" -v b="$b1" -v hz="$tck" -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v n="$(nproc)" \
    'BEGIN { printf "%.1f s (%.0f %%)\n", (b - a) / hz, 100 * (b - a) / hz / (w * n) }' >"$OUT/$name.busy"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >"$OUT/$name.wall"
  server_mem "$name" >"$OUT/$name.mem"
  if [ "$name" != petrel ]; then bench/dovecot-imap-peer.sh cpu-detail >"$OUT/$name.cpu-detail" || true; fi
  echo "imaptest exit $(cat "$OUT/$name.rc"), wall $(cat "$OUT/$name.wall") s, server CPU $(cat "$OUT/$name.cpu") s," \
    "imaptest CPU $(cat "$OUT/$name.imaptest-cpu") s, memory after: $(cat "$OUT/$name.mem")"
  sed -n '/^Totals:/,$p' "$OUT/$name.imaptest.out"
}

run() {   # NAME PORT
  local name=$1 port=$2 procs=$(( IDLE + 100 > 1000 ? IDLE + 100 : 1000 ))
  echo "== $name 127.0.0.1:$port"
  if [ "$name" = petrel ]; then
    bench/petrel-imap.sh stop >/dev/null 2>&1 || true
    STARTED+=(petrel); bench/petrel-imap.sh start
  else
    bench/dovecot-imap-peer.sh clean >/dev/null 2>&1 || true
    STARTED+=(dovecot)
    env $(dovecot_env "$name") PETREL_BENCH_DOVECOT_IMAP_PROCESSES=$procs PETREL_BENCH_DOVECOT_HIBERNATE=0 \
      bench/dovecot-imap-peer.sh start
    cp /tmp/petrel-bench/dovecot-imap/dovecot.conf "$OUT/$name.conf"
  fi
  sleep 2
  [ "$STRESS" = 1 ] && stress "$name" "$port"
  case $name in petrel|dovecot) [ "$IDLE" -gt 0 ] && idle_run "$name" "$port" default ;; esac
  if [ "$name" = petrel ]; then
    cp /tmp/petrel-bench/petrel-imap/petrel.log "$OUT/petrel.log"
    bench/petrel-imap.sh stop >/dev/null
  else
    cp /tmp/petrel-bench/dovecot-imap/dovecot.log "$OUT/$name.log"
    bench/dovecot-imap-peer.sh clean >/dev/null
    if [ "$name" = dovecot ] && [ "$IDLE" -gt 0 ] && [ "$HIBERNATE" != 0 ]; then
      PETREL_BENCH_DOVECOT_IMAP_PROCESSES=$procs PETREL_BENCH_DOVECOT_HIBERNATE=$HIBERNATE bench/dovecot-imap-peer.sh start
      cp /tmp/petrel-bench/dovecot-imap/dovecot.conf "$OUT/dovecot-hibernate.conf"
      idle_run dovecot "$port" "hibernate-$HIBERNATE" 10
      cp /tmp/petrel-bench/dovecot-imap/dovecot.log "$OUT/dovecot-hibernate.log"
      bench/dovecot-imap-peer.sh clean >/dev/null
    fi
  fi
}

for s in $ORDER; do
  case $s in
    petrel) run petrel "$PETREL_PORT" ;;
    dovecot|dovecot-ssha512|dovecot-login1) run "$s" "$DOVECOT_PORT" ;;
    *) echo "ORDER: petrel or dovecot, not $s" >&2; exit 64 ;;
  esac
done

fi   # not SUMMARY_ONLY
. "$OUT/run.env"

# The tables. Totals: imaptest's final "Totals:" block (commands completed per state over the
# whole run); per second = total / secs; ops/s = all of them / secs. Latency: the mean over the
# whole run from output=FILE (per state: count, timed commands, their msecs, once a second).
summary() {
  local s names
  if [ "$STRESS" = 1 ]; then
  echo "imaptest ${ARGS[*]} users=$USERS, mbox of $(grep -c '^From ' "$OUT/stress.mbox") messages; $(cat "$OUT/machine.txt")"
  echo
  names=$(for s in $ORDER; do awk '/^Totals:/ { getline; print; exit }' "$OUT/$s.imaptest.out"; done | awk 'NR == 1')
  echo "| server | $(echo $names | sed 's/ / | /g') | ops/s | errors | clients past greeting (mean) | server CPU | server CPU per op | imaptest CPU | machine CPU busy | load avg before |"
  echo "| --- $(for _ in $names; do printf '| ---: '; done)| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for s in $ORDER; do
    local totals errors clients
    totals=$(awk '/^Totals:/ { t = 1; next } t && /^ *[0-9][0-9 ]*$/ { print; exit }' "$OUT/$s.imaptest.out")
    errors=$(grep -c '^Error:' "$OUT/$s.imaptest.out" || true)
    clients=$(awk '/^ *[0-9].*[0-9]+\/ *[0-9]+/ { if (match($0, /[0-9]+\/ *[0-9]+/)) { split(substr($0, RSTART, RLENGTH), a, "/"); sum += a[1]; n++ } }
      END { if (n) printf "%.1f of %d", sum / n, c }' c="$CLIENTS" "$OUT/$s.imaptest.out")
    echo "$totals" | awk -v s="$s" -v secs="$SECS" -v e="$errors" -v c="$clients" -v cpu="$(cat "$OUT/$s.cpu") s" -v busy="$(cat "$OUT/$s.busy")" \
      -v icpu="$(cat "$OUT/$s.imaptest-cpu") s" -v lavg="$(cat "$OUT/$s.load")" '
      { line = "| " s; sum = 0
        for (i = 1; i <= NF; i++) { line = line sprintf(" | %.1f", $i / secs); sum += $i }
        printf "%s | **%.1f** | %d | %s | %s | %.2f ms | %s | %s | %s |\n", line, sum / secs, e, c, cpu, 1000 * cpu / sum, icpu, busy, lavg }'
  done
  echo
  echo "Per command, mean ms over the whole run (imaptest output=FILE):"
  echo
  echo "| server | $(echo $names | sed 's/ / | /g') |"
  echo "| --- $(for _ in $names; do printf '| ---: '; done)|"
  for s in $ORDER; do
    awk -v s="$s" -F'\t' 'NR > 1 { for (i = 1; i + 2 <= NF; i += 3) { k = (i + 2) / 3; n[k] += $(i + 1); ms[k] += $(i + 2); m = k } }
      END { line = "| " s; for (k = 1; k <= m; k++) line = line sprintf(" | %.1f", n[k] ? ms[k] / n[k] : 0); print line " |" }' "$OUT/$s.results.tsv"
  done
  echo
  for s in $ORDER; do
    echo "$s: imaptest exit $(cat "$OUT/$s.rc"), totals $(awk '/^Totals:/ { t = 1; next } t && /^ *[0-9][0-9 ]*$/ { print; exit }' "$OUT/$s.imaptest.out" | xargs),"\
      "wall $(cat "$OUT/$s.wall") s, memory after the stress: $(cat "$OUT/$s.mem")"
    [ -s "$OUT/$s.cpu-detail" ] && echo "  CPU by process since start (count): $(paste -sd, "$OUT/$s.cpu-detail" | sed 's/,/, /g')"
    if grep -q '^Error:' "$OUT/$s.imaptest.out"; then
      echo "  errors by kind:"
      grep '^Error:' "$OUT/$s.imaptest.out" | sed -E 's/^Error: [^ ]*\[[0-9]+\]: //; s/^Error: //; s/: .*//; s/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -8 | sed 's/^/  /'
    fi
  done
  fi
  if [ "$IDLE" -gt 0 ]; then
    echo
    echo "$(cat "$OUT/machine.txt"); idle clients spread over $IDLE_USERS users, each: LOGIN, SELECT INBOX, IDLE"
    echo
    echo "| server | configuration | connections in IDLE | memory before | memory after | per connection | + kernel (page tables, stacks) | processes after | set-up time |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for f in "$OUT"/*.idle-*.json; do
      [ -s "$f" ] || continue
      local label=${f##*.idle-}; label=${label%.json}; s=${f##*/}; s=${s%%.*}
      tail -1 "$f" | node -e '
        const [s, label] = process.argv.slice(1);
        let r; try { r = JSON.parse(require("fs").readFileSync(0, "utf8")); } catch { console.log(`| ${s} | ${label} | failed | | | | | | |`); process.exit(0); }
        const many = r.processesAfter > 1;
        const mem = (rss, pss) => many ? `${rss} MB RSS, ${pss} MB Pss` : `${rss} MB`;
        const per = many ? `${r.perConnectionKb} KB RSS, **${r.pssPerConnectionKb} KB Pss**` : `**${r.perConnectionKb} KB**`;
        console.log(`| ${s} | ${label} | ${r.connections} | ${mem(r.rssBeforeMb, r.pssBeforeMb)} | ${mem(r.rssAfterMb, r.pssAfterMb)} | ${per} | ${r.kernelPerConnectionKb ?? "–"} KB | ${r.processesAfter} | ${r.setupSeconds} s |`);
      ' "$s" "$label"
    done
  fi
}
summary | tee "$OUT/summary.md"
