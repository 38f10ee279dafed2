# Shared by the bench scripts that run a Petrel instance (petrel-peer.sh,
# petrel-pop3.sh, petrel-relay.sh); sourced, not run. The caller cds to the
# project root and sets BASE (the instance's directory: petrel.toml, data/,
# pid files and logs) and DNS_PORT (its loopback DNS stub) first.
#
#   petrel ARGS...               bin/petrel with the instance's config
#   petrel_build                 compile (JS is emitted even when others' files have type errors)
#   petrel_config HOSTNAME LOG   write petrel.toml: hostname, data_dir, the TOML on stdin, [dns], [log] level
#   petrel_start_dns SCRIPT ARGS...  start a DNS stub (a node script) in the background
#   petrel_serve HOST:PORT       start the server (PETREL_BENCH_CPU_PROF=DIR: node --cpu-prof into DIR)
#                                and wait until HOST:PORT accepts connections
#   petrel_inbox_count           messages in all the INBOXes
#   petrel_rss                   the server's resident memory
#   petrel_cpu                   CPU seconds the server has used (user + system, all its threads)
#   petrel_stop                  stop server and DNS stub (waiting, so --cpu-prof can write), delete BASE
#   petrel_usage                 the calling script's header comment; exits 64

petrel() { node bin/petrel "$@" --config "$BASE/petrel.toml"; }

petrel_build() {
  npx tsc -p . >/dev/null || true   # others' files may have type errors; the JS is emitted anyway
}

petrel_config() {
  local hostname=$1 level=$2
  mkdir -p "$BASE"
  {
    printf 'hostname = "%s"\ndata_dir = "%s"\n' "$hostname" "$BASE/data"
    cat
    printf '[dns]\nservers = ["127.0.0.1:%s"]\n[log]\nlevel = "%s"\n' "$DNS_PORT" "$level"
  } >"$BASE/petrel.toml"
}

petrel_start_dns() {
  nohup node "$@" >"$BASE/dns.log" 2>&1 & echo $! >"$BASE/dns.pid"
}

petrel_wait_port() {
  local addr=$1
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listens on $addr after 10 s (see $BASE/petrel.log)" >&2
  return 1
}

petrel_serve() {
  local prof=()
  [ -n "${PETREL_BENCH_CPU_PROF:-}" ] && prof=(--cpu-prof --cpu-prof-dir="$PETREL_BENCH_CPU_PROF")
  nohup node "${prof[@]}" bin/petrel serve --config "$BASE/petrel.toml" >"$BASE/petrel.log" 2>&1 & echo $! >"$BASE/petrel.pid"
  petrel_wait_port "$1"
}

petrel_inbox_count() {
  node -e "const D=require('better-sqlite3');const db=new D('$BASE/data/petrel.db',{readonly:true});
    console.log(db.prepare(\"SELECT count(*) n FROM messages m JOIN mailboxes b ON m.mailbox_id=b.id WHERE b.name='INBOX'\").get().n)"
}

petrel_rss() { grep VmRSS "/proc/$(cat "$BASE/petrel.pid")/status"; }

petrel_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$(cat "$BASE/petrel.pid")/stat"
}

petrel_stop() {
  local p pid
  for p in petrel dns; do
    [ -f "$BASE/$p.pid" ] || continue
    pid=$(cat "$BASE/$p.pid"); kill "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done   # lets --cpu-prof write its file
  done
  rm -rf "$BASE"
}

petrel_usage() {
  sed -n '2,/^[^#]/{/^#/p}' "bench/${0##*/}"   # the caller has cd'd to the project root
  exit 64
}
