#!/usr/bin/env bash
# Dovecot as the IMAP benchmark peer: a private instance (`dovecot -c FILE`, its
# own base_dir and state_dir, never the system service) under
# /tmp/petrel-bench/dovecot-imap, serving plain IMAP on 127.0.0.1:2614 for
# testuser1..testuserN@bench.test (password "pw", SHA512-CRYPT in a passwd-file,
# N = PETREL_BENCH_IMAP_USERS, default 20) from Maildirs under .../mail/%u.
# Each user has a UID of its own (60000 + n, group nogroup; no /etc/passwd entry
# needed): the kernel allows 128 inotify instances per UID
# (fs.inotify.max_user_instances) and every IDLE session of Dovecot takes one, so
# with one shared UID the 129th IDLE falls back to polling (and cannot hibernate).
#
#   bench/dovecot-imap-peer.sh install   # apt-get install dovecot-imapd (system service left alone)
#   bench/dovecot-imap-peer.sh start     # write the config and start the instance
#   bench/dovecot-imap-peer.sh pids      # the instance's processes (master and its children)
#   bench/dovecot-imap-peer.sh mem       # their RSS and Pss, summed (kB), and how many
#   bench/dovecot-imap-peer.sh cpu       # CPU seconds: master, its live children and those it reaped
#   bench/dovecot-imap-peer.sh cpu-detail  # the same by process name ("reaped": exited children, mostly imap)
#   bench/dovecot-imap-peer.sh stop      # stop the instance
#   bench/dovecot-imap-peer.sh clean     # stop and remove /tmp/petrel-bench/dovecot-imap
#
# Settings (environment, read by start):
#   PETREL_BENCH_DOVECOT_IMAP_PORT        2614
#   PETREL_BENCH_DOVECOT_IMAP_PROCESSES   1000   service imap { process_limit }: one process per session
#   PETREL_BENCH_DOVECOT_HIBERNATE        0      imap_hibernate_timeout (0: off, Dovecot's default; "2s": on)
#   PETREL_BENCH_DOVECOT_AUTH_CACHE       0      auth_cache_size (0: off, Dovecot's default; "10M": on).
#                                                The cache keeps the passdb entry, not the outcome: each
#                                                login still verifies the SHA512-CRYPT hash
#                                                (auth_cache_verify_password_with_worker), so with a
#                                                passwd-file it saves nothing.
#   PETREL_BENCH_DOVECOT_SCHEME           SHA512-CRYPT  password scheme in the passwd-file (SSHA512: one
#                                                salted SHA-512, microseconds, about what Petrel's login
#                                                cache costs on a hit)
#   PETREL_BENCH_DOVECOT_LOGIN            performance   imap-login: "performance" (service_count = 0,
#                                                process_min_avail = 2) or "default" (a new
#                                                login process per connection, Dovecot's default)
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${PETREL_BENCH_DIR:-/tmp/petrel-bench}/dovecot-imap
CONF=$BASE/dovecot.conf
LISTEN_HOST=127.0.0.1
LISTEN_PORT=${PETREL_BENCH_DOVECOT_IMAP_PORT:-2614}
USERS=${PETREL_BENCH_IMAP_USERS:-20}
PROCESSES=${PETREL_BENCH_DOVECOT_IMAP_PROCESSES:-1000}
HIBERNATE=${PETREL_BENCH_DOVECOT_HIBERNATE:-0}
AUTH_CACHE=${PETREL_BENCH_DOVECOT_AUTH_CACHE:-0}
SCHEME=${PETREL_BENCH_DOVECOT_SCHEME:-SHA512-CRYPT}
LOGIN_MODE=${PETREL_BENCH_DOVECOT_LOGIN:-performance}
PASSWORD=pw
VUID_BASE=${PETREL_BENCH_VUID_BASE:-60000}   # testuserN: VUID_BASE + N
VGID=${PETREL_BENCH_VGID:-65534}             # nogroup

die() { echo "dovecot-imap-peer: $*" >&2; exit 1; }

install_dovecot() {
  if command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/imap ]; then return; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dovecot-core dovecot-imapd
}

write_config() {
  mkdir -p "$BASE/mail" "$BASE/home"
  local hash; hash=$(doveadm pw -s "$SCHEME" -p "$PASSWORD")
  local i u uid
  : >"$BASE/users"
  for i in $(seq "$USERS"); do
    u=testuser$i@bench.test; uid=$((VUID_BASE + i))
    mkdir -p "$BASE/mail/$u" "$BASE/home/$u"; chown "$uid:$VGID" "$BASE/mail/$u" "$BASE/home/$u"
    echo "$u:$hash:$uid:$VGID::$BASE/home/$u::" >>"$BASE/users"
  done
  chmod 0640 "$BASE/users"; chgrp dovecot "$BASE/users"
  # Every process of the instance (imap, login, auth, anvil, stats, log) may talk to the
  # others; with one imap process per session their client_limit must cover all of them.
  local clients=$((PROCESSES + 100)) hibernate_imap="" login
  case $LOGIN_MODE in
    performance) login="  # \"High-performance\" login mode: a login process serves many connections
  # (service_count = 0) and two are started before the first client, instead of
  # Dovecot's default of one freshly forked login process per connection, which
  # left most imaptest clients waiting for the greeting.
  service_count = 0
  process_min_avail = 2
  client_limit = $clients" ;;
    default) login="  # Dovecot's default: service_count = 1, a login process per connection" ;;
    *) die "PETREL_BENCH_DOVECOT_LOGIN: performance or default" ;;
  esac
  # Hibernation hands an IDLE session from its imap process (running as the mail
  # user) to imap-hibernate and back through these sockets.
  [ "$HIBERNATE" != 0 ] && hibernate_imap='  extra_groups = $default_internal_group
  unix_listener imap-master {
    user = $default_internal_user
  }
'
  cat >"$CONF" <<EOF
# Generated by bench/dovecot-imap-peer.sh: a private benchmark instance, not the system Dovecot.
instance_name = petrel-bench-dovecot-imap
base_dir = $BASE/run
state_dir = $BASE/state
log_path = $BASE/dovecot.log
protocols = imap
listen = $LISTEN_HOST
ssl = no
# Loopback only, no TLS: passwords in the clear are allowed (Petrel allows them from auth.plaintext_networks).
disable_plaintext_auth = no
login_trusted_networks = 127.0.0.0/8
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 100
mail_location = maildir:$BASE/mail/%u
# Left at Dovecot's defaults (stated in bench/README.md): mail_fsync = optimized,
# auth cache off unless PETREL_BENCH_DOVECOT_AUTH_CACHE is set, imap_hibernate_timeout
# as PETREL_BENCH_DOVECOT_HIBERNATE says (0, off, by default).
auth_cache_size = $AUTH_CACHE
imap_hibernate_timeout = $HIBERNATE
default_client_limit = $clients
passdb {
  driver = passwd-file
  args = scheme=$SCHEME $BASE/users
}
userdb {
  driver = passwd-file
  args = $BASE/users
}
protocol imap {
  # Default 10 per user and address; the load comes from one address for 20 users.
  mail_max_userip_connections = $PROCESSES
}
service imap-login {
  inet_listener imap {
    address = $LISTEN_HOST
    port = $LISTEN_PORT
  }
  inet_listener imaps {
    port = 0
  }
$login
}
service imap {
  # One imap process per logged-in session (Dovecot's default, client_limit = 1).
  process_limit = $PROCESSES
$hibernate_imap}
service imap-hibernate {
  # A hibernated session holds two descriptors (its socket, its inotify fd); with
  # RLIMIT_NOFILE at 20,000 here, 4,000 sessions per imap-hibernate process leave room.
  client_limit = 4000
  unix_listener imap-hibernate {
    mode = 0660
    group = \$default_internal_group
  }
}
EOF
}

master_pid() { cat "$BASE/run/master.pid" 2>/dev/null; }
running() { local p; p=$(master_pid) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

start() {
  install_dovecot
  if running; then echo "already running ($LISTEN_HOST:$LISTEN_PORT)"; return; fi
  write_config
  # A process per session: the master needs descriptors for all of them.
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  dovecot -c "$CONF"
  for _ in $(seq 100); do   # wait (bounded) until imap-login answers
    if (exec 3<>"/dev/tcp/$LISTEN_HOST/$LISTEN_PORT") 2>/dev/null; then
      echo "dovecot imap peer listening on $LISTEN_HOST:$LISTEN_PORT ($(dovecot --version)), master pid $(master_pid)"; return
    fi
    sleep 0.1
  done
  die "dovecot did not start listening on $LISTEN_HOST:$LISTEN_PORT (see $BASE/dovecot.log)"
}

pids() {
  local m; m=$(master_pid) || return 0
  echo "$m"; pgrep -P "$m" || true
}

mem() {   # rss_kb pss_kb processes
  local rss=0 pss=0 n=0 pid r p
  for pid in $(pids); do
    r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
    p=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
    rss=$((rss + ${r:-0})); pss=$((pss + ${p:-0})); n=$((n + 1))
  done
  echo "$rss $pss $n"
}

cpu() {   # the master's own time and that of reaped children (cutime, cstime), plus its live children's
  local m pid stat f ticks=0; m=$(master_pid) || { echo 0; return; }
  for pid in $(pids); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue   # exited meanwhile
    read -ra f <<<"${stat##*) }"     # f[11] utime, f[12] stime, f[13] cutime, f[14] cstime
    ticks=$((ticks + f[11] + f[12]))
    [ "$pid" = "$m" ] && ticks=$((ticks + f[13] + f[14]))
  done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f\n", t / hz }'
}

cpu_detail() {
  local m pid stat comm f hz; m=$(master_pid) || return 0; hz=$(getconf CLK_TCK)
  for pid in $(pids); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    comm=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | awk '{ print $1 }'); comm=${comm##*/}
    read -ra f <<<"${stat##*) }"
    echo "${comm:-?} $((f[11] + f[12]))"
    if [ "$pid" = "$m" ]; then echo "reaped $((f[13] + f[14]))"; fi
  done | awk -v hz="$hz" '{ t[$1] += $2; n[$1]++ } END { for (k in t) printf "%s %.2f s (%d)\n", k, t[k] / hz, n[k] }' | sort -k2 -rn
}

stop() {
  [ -f "$CONF" ] || return 0
  doveadm -c "$CONF" stop 2>/dev/null || true   # (master exits after its children)
  for _ in $(seq 100); do running || return 0; sleep 0.1; done
  die "dovecot master $(master_pid) still running after 10 s"
}

case "${1:-}" in
  install) install_dovecot ;;
  start) start ;;
  pids) pids ;;
  mem) mem ;;
  cpu) cpu ;;
  cpu-detail) cpu_detail ;;
  stop) stop ;;
  clean) stop; rm -rf "${BASE:?}" ;;
  *) sed -n '2,/^set /{/^#/p}' "$0"; exit 64 ;;
esac
