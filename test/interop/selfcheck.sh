#!/usr/bin/env bash
# Checks the interop peers against each other (no ztunnel involved): every
# client (Go, Python) against every server (Go, Python), through a plain TCP
# echo. Builds the Go peers, makes a throwaway PKI, and cleans up after itself.
# Exits non-zero if any check fails.
#
#   test/interop/selfcheck.sh
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py=/usr/bin/python3 # Debian's: python3-h2 is installed for it only
work="$(mktemp -d /tmp/hbone-interop.XXXXXX)"
pids=()
failures=0
client_timeout_s=${HBONE_CLIENT_TIMEOUT_S:-120}
sa_b=spiffe://cluster.local/ns/default/sa/b

cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# Make a signal end the script through the EXIT trap, so servers are stopped.
trap 'exit 130' INT
trap 'exit 143' TERM

pass() { echo "ok   $*"; }
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}

# start NAME COMMAND...: runs a server in the background and sets $address from
# its "listening <addr>" line. (Not called as $(start ...): the pid must be
# recorded in this shell, not a subshell, for cleanup to stop the server.)
start() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=("$!")
  for _ in $(seq 100); do
    if grep -q '^listening ' "$work/$name.out"; then
      address=$(awk '/^listening /{print $2; exit}' "$work/$name.out")
      return 0
    fi
    sleep 0.1
  done
  echo "$name did not start:" >&2
  cat "$work/$name.err" >&2
  exit 1
}

# client KIND IDENTITY SERVER AUTHORITY [FLAGS...] < input > output: one tunnel.
client() {
  local kind=$1 identity=$2 server=$3 authority=$4
  shift 4
  local certs=(--cert "$work/pki/$identity/cert-chain.pem" --key "$work/pki/$identity/key.pem" --roots "$work/pki/$identity/root-cert.pem")
  case $kind in
    go) timeout "$client_timeout_s" "$here/bin/hbone-client" --connect "$server" --authority "$authority" "${certs[@]}" "$@" ;;
    python) timeout "$client_timeout_s" "$py" "$here/python/hbone_client.py" --connect "$server" --authority "$authority" "${certs[@]}" "$@" ;;
  esac
}

# expect_exit WANT GOT LABEL
expect_exit() {
  if [[ $2 == "$1" ]]; then pass "$3 (exit $2)"; else fail "$3: exit $2, want $1: $(tail -n 3 "$work/client.err" | tr '\n' ' ')"; fi
}

echo "building Go peers"
"$here/build-go.sh" >/dev/null || exit 1
echo "making PKI"
"$here/make-pki.sh" "$work/pki" || exit 1
head -c 64M /dev/urandom >"$work/big"
big_sha=$(sha256sum <"$work/big" | cut -d' ' -f1)
printf 'hello over hbone\n' >"$work/small"
printf 'sent first, echoed only after our half-close\n' >"$work/halfclose"

server_certs=(--cert "$work/pki/b/cert-chain.pem" --key "$work/pki/b/key.pem" --roots "$work/pki/b/root-cert.pem")
start echo "$py" "$here/python/tcp_echo.py" --listen 127.0.0.1:0
echo_addr=$address
start late-echo "$py" "$here/python/tcp_echo.py" --listen 127.0.0.1:0 --after-eof
late_echo_addr=$address
start greeter "$py" "$here/python/tcp_echo.py" --listen 127.0.0.1:0 --greet 'hi from the target'
greeter_addr=$address
declare -A servers
start go-server "$here/bin/hbone-server" --listen 127.0.1.2:0 "${server_certs[@]}"
servers[go]=$address
start python-server "$py" "$here/python/hbone_server.py" --listen 127.0.1.3:0 "${server_certs[@]}"
servers[python]=$address
# A port nothing listens on: bind one, note it, let it go.
refused_addr="127.0.0.1:$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

for server_kind in go python; do
  for client_kind in go python; do
    server=${servers[$server_kind]}
    pair="$client_kind client -> $server_kind server"

    out=$(client "$client_kind" a "$server" "$echo_addr" --expect-san "$sa_b" <"$work/small" 2>"$work/client.err")
    code=$?
    if [[ $code == 0 && $out == "hello over hbone" ]]; then pass "$pair: round trip"; else fail "$pair: round trip: exit $code, got '$out'"; fi

    got_sha=$(client "$client_kind" a "$server" "$echo_addr" --expect-san "$sa_b" <"$work/big" 2>"$work/client.err" | sha256sum | cut -d' ' -f1)
    code=${PIPESTATUS[0]}
    if [[ $code == 0 && $got_sha == "$big_sha" ]]; then pass "$pair: 64 MiB echo byte-exact"; else fail "$pair: 64 MiB: exit $code, sha $got_sha want $big_sha"; fi

    out=$(client "$client_kind" a "$server" "$late_echo_addr" <"$work/halfclose" 2>"$work/client.err")
    code=$?
    if [[ $code == 0 && $out == "$(cat "$work/halfclose")" ]]; then pass "$pair: half-close, reply after our END_STREAM"; else fail "$pair: half-close: exit $code, got '$out'"; fi

    # The target speaks and half-closes first; only once its words are out
    # does the client send, and those bytes must still reach the target.
    rm -f "$work/in"
    mkfifo "$work/in"
    greeted_before=$(grep -c '^received' "$work/greeter.out")
    client "$client_kind" a "$server" "$greeter_addr" <"$work/in" >"$work/greet.out" 2>"$work/client.err" &
    client_pid=$!
    exec 3>"$work/in"
    for _ in $(seq 100); do
      [[ -s $work/greet.out ]] && break
      sleep 0.1
    done
    head -c 1048576 "$work/big" >&3
    exec 3>&-
    wait "$client_pid"
    code=$?
    for _ in $(seq 100); do
      (($(grep -c '^received' "$work/greeter.out") > greeted_before)) && break
      sleep 0.1
    done
    target_saw=$(grep '^received' "$work/greeter.out" | tail -n 1)
    if [[ $code == 0 && $(cat "$work/greet.out") == "hi from the target" && $target_saw == "received 1048576 bytes" ]]; then
      pass "$pair: half-close by the target first, client bytes still delivered"
    else
      fail "$pair: target half-closes first: exit $code, got '$(cat "$work/greet.out")', target '$target_saw'"
    fi

    client "$client_kind" a "$server" "$echo_addr" --method GET </dev/null >/dev/null 2>"$work/client.err"
    code=$?
    if [[ $code == 3 ]] && grep -q '^status 400' "$work/client.err"; then pass "$pair: GET -> 400"; else fail "$pair: GET: exit $code, $(cat "$work/client.err")"; fi

    client "$client_kind" a "$server" "echo.default.svc:80" </dev/null >/dev/null 2>"$work/client.err"
    code=$?
    if [[ $code == 3 ]] && grep -q '^status 400' "$work/client.err"; then pass "$pair: host-name authority -> 400"; else fail "$pair: host-name authority: exit $code, $(cat "$work/client.err")"; fi

    client "$client_kind" a "$server" "$refused_addr" </dev/null >/dev/null 2>"$work/client.err"
    code=$?
    if [[ $code == 3 ]] && grep -q '^status 503' "$work/client.err"; then pass "$pair: refused target -> 503"; else fail "$pair: refused target: exit $code, $(cat "$work/client.err")"; fi

    client "$client_kind" a "$server" "$echo_addr" --expect-san spiffe://cluster.local/ns/default/sa/other </dev/null >/dev/null 2>"$work/client.err"
    expect_exit 2 $? "$pair: wrong server SAN refused by client"

    client "$client_kind" stranger "$server" "$echo_addr" </dev/null >/dev/null 2>"$work/client.err"
    expect_exit 2 $? "$pair: client certificate from another root refused by server"
  done
done

for server_kind in go python; do
  if grep -q 'tunnel open peer=spiffe://cluster.local/ns/default/sa/a ' "$work/$server_kind-server.err"; then
    pass "$server_kind server logs the client's SPIFFE identity"
  else
    fail "$server_kind server did not log the client's SPIFFE identity"
  fi
done

if ((failures > 0)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
