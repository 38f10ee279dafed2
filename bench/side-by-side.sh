#!/usr/bin/env bash
# One run, both servers, the same load: Postfix (bench/postfix-peer.sh, Maildir)
# and Petrel (bench/petrel-peer.sh, its mailbox store), each with our smtp-load
# and Postfix's smtp-source, every message fsynced before its 250. Prints the
# machine and the figures; paste them into the README's Performance section.
#   bench/side-by-side.sh [SESSIONS] [MESSAGES] [SIZE]     (default 10 50000 4096)
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${1:-10}; MESSAGES=${2:-50000}; SIZE=${3:-4096}
echo "== machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(uname -r), node $(node --version), $(postconf -d mail_version 2>/dev/null || echo postfix)"
npx tsc -p .
load() { node dist/bench/smtp-load.js --host 127.0.0.1 --port "$1" --sessions "$SESSIONS" --messages "$MESSAGES" --size "$SIZE" --to user@bench.test; }
source_run() { /usr/bin/time -f "smtp-source wall %e s" /usr/sbin/smtp-source -c -d -l "$SIZE" -m "$MESSAGES" -s "$SESSIONS" -f sender@bench.test -t user@bench.test "127.0.0.1:$1" >/dev/null; }

echo "== Postfix 127.0.0.1:2526 (Maildir)"
bench/postfix-peer.sh start >/dev/null
bench/postfix-peer.sh empty >/dev/null
load 2526; bench/postfix-peer.sh drain "$MESSAGES" 900
bench/postfix-peer.sh empty >/dev/null
source_run 2526; bench/postfix-peer.sh drain "$MESSAGES" 900
bench/postfix-peer.sh stop >/dev/null

echo "== Petrel 127.0.0.1:2527 (SQLite + blob files)"
bench/petrel-peer.sh stop >/dev/null 2>&1 || true
bench/petrel-peer.sh start >/dev/null
load 2527; bench/petrel-peer.sh drain "$MESSAGES" 900; bench/petrel-peer.sh rss
bench/petrel-peer.sh stop >/dev/null; bench/petrel-peer.sh start >/dev/null
source_run 2527; bench/petrel-peer.sh drain "$MESSAGES" 900; bench/petrel-peer.sh rss
bench/petrel-peer.sh stop >/dev/null
