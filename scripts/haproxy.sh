#!/usr/bin/env bash
# A real load balancer on loopback for replicas (issue 14 item 4): installs Debian's HAProxy
# when missing (as root), writes a configuration with one frontend per service, each
# balancing round-robin over its replicas (so consecutive requests land on different
# replicas: a session started on one finishes on the other) with `/health` checks, starts it
# in the background and prints the line to eval.
#
#   eval "$(./scripts/haproxy.sh DIR issuer:7700=127.0.0.1:7701,127.0.0.1:7702 \
#                                  verifier:7710=127.0.0.1:7711,127.0.0.1:7712)"
#   # sets TESSERA_HAPROXY_PID and TESSERA_HAPROXY_CFG
#   ./scripts/haproxy.sh --stop DIR
#
# Idempotent per DIR: a running balancer of that DIR is stopped and started with the new
# configuration. Its log goes to DIR/haproxy.log.
set -euo pipefail

fail() { echo "haproxy.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || fail "usage: haproxy.sh DIR NAME:PORT=HOST:PORT,HOST:PORT... | --stop DIR"

stop() {
  local pidfile="$1/haproxy.pid"
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}

if [ "$1" = "--stop" ]; then
  stop "$2"
  exit 0
fi

BIN=$(command -v haproxy || true)
if [ -z "$BIN" ] && [ -x /usr/sbin/haproxy ]; then BIN=/usr/sbin/haproxy; fi
if [ -z "$BIN" ]; then
  [ "$(id -u)" = 0 ] || fail "HAProxy is not installed and we are not root: install the haproxy package"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq haproxy; } >/dev/null 2>&1 || fail "apt-get install haproxy failed"
  BIN=/usr/sbin/haproxy
  # The package starts a system instance on its default configuration: not ours.
  { service haproxy stop || true; } >/dev/null 2>&1
fi

DIR=$1
shift
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
CFG="$DIR/haproxy.cfg"

{
  cat <<EOF
global
    log stdout format raw local0 info
    maxconn 4096
    # Wallet attestations with their trust chain ride in headers (OAuth-Client-Attestation):
    # larger than the default 16 kB buffer, which HAProxy would refuse as a bad request.
    tune.bufsize 131072

defaults
    mode http
    log global
    option httplog
    option dontlognull
    # The replicas' per-client rate limits read the client from X-Forwarded-For, the last
    # entry, which this appends (a client's own X-Forwarded-For entries come before it).
    option forwardfor
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # Server-sent events (the verifier's session state) stay open.
    timeout tunnel 1h
    # A health check may wait behind the load (without this, a check's whole time is 'inter':
    # under 200 concurrent citizens both replicas failed 1 s checks and were taken out).
    # A dead replica refuses connections at once: out after 3 checks, and meanwhile
    # 'retries' with 'redispatch' send its requests to the other one.
    timeout check 5s
    # A replica killed mid-request: the request goes to the other one, whether the
    # connection failed or the request was sent and no answer came (L7 retries, the request
    # kept in the buffer). Retrying a POST is safe here: every single-use value is consumed in
    # the shared database, so a request the dead replica did commit is refused on retry, never
    # accepted twice.
    retries 2
    option redispatch
    retry-on conn-failure empty-response junk-response
EOF
  for spec in "$@"; do
    name=${spec%%:*}
    rest=${spec#*:}
    port=${rest%%=*}
    backends=${rest#*=}
    [ -n "$name" ] && [ -n "$port" ] && [ -n "$backends" ] && [ "$backends" != "$spec" ] || fail "bad service spec: $spec"
    printf '\nfrontend %s\n    bind 127.0.0.1:%s\n    default_backend %s_replicas\n' "$name" "$port" "$name"
    printf '\nbackend %s_replicas\n    balance roundrobin\n    option httpchk GET /health\n    default-server inter 1s fall 3 rise 2\n' "$name"
    i=0
    IFS=, read -r -a addrs <<<"$backends"
    for a in "${addrs[@]}"; do
      i=$((i + 1))
      printf '    server %s%d %s check\n' "$name" "$i" "$a"
    done
  done
} >"$CFG"

"$BIN" -c -q -f "$CFG" >/dev/null 2>&1 || fail "configuration refused: $("$BIN" -c -f "$CFG" 2>&1 | tail -3)"
stop "$DIR"
nohup "$BIN" -f "$CFG" -p "$DIR/haproxy.pid" -db >"$DIR/haproxy.log" 2>&1 &
echo $! >"$DIR/haproxy.pid"
sleep 0.3
kill -0 "$(cat "$DIR/haproxy.pid")" 2>/dev/null || fail "haproxy did not start: $(tail -5 "$DIR/haproxy.log")"

echo "export TESSERA_HAPROXY_PID=$(cat "$DIR/haproxy.pid") TESSERA_HAPROXY_CFG=$CFG"
