#!/bin/sh
# ctest check of scripts/demo.py (make demo):
#  1. a tiny run with stdout not a terminal prints the per-second lines and
#     the final table, and exits 0;
#  2. SIGINT, then SIGTERM, in the middle of a step: demo.py exits 130 within
#     a bounded time and every server/loadgen it started is gone.
# Children run in sessions of their own (so that the room's Ctrl-C reaches
# only demo.py), so they are found as demo.py's child pids, not by name.
# Usage: scripts/demo_test.sh [BUILD_DIR]    (default: build)
set -u
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "demo_test: FAIL: $*" >&2; [ -f "$TMP/out" ] && sed 's/^/  | /' "$TMP/out" >&2; exit 1; }

# 1. Tiny configuration, output to a file.
"$PY" "$HERE/demo.py" --build "$BUILD" --models epoll --connections 1,10 --seconds 1 \
    --scenario hello >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] || { cat "$TMP/err" >&2; fail "tiny run exited $rc"; }
grep -q '^model  *conns  *req/s  *p50  *p99  *RSS  *threads  *ctx sw/s  *CPU %  *errors  *served$' "$TMP/out" \
    || fail "no table header"
grep -q '^final table$' "$TMP/out" || fail "no final table"
# The final rows: the model, its connection count and figures (RSS and
# threads included, however short the step), no marker.
for c in 1 10; do
    # A percentile may be marked as a lower bound (≥): a request still open
    # when the step ended can do that to a sparse tail even at 1 connection.
    grep -Eq "^epoll +$c +[0-9,]+ +(≥)?[0-9.]+(us|ms|s) +(≥)?[0-9.]+(us|ms|s) +[0-9.]+MiB +1 .* 100%$" "$TMP/out" \
        || fail "no final row for epoll at $c connections"
done
# The blocking server answers one client at a time: of 3 connections it
# serves one for the whole step: the served column says a third, and a note
# names the two that waited.
"$PY" "$HERE/demo.py" --build "$BUILD" --models blocking --connections 3 --seconds 1 \
    --scenario hello >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -eq 0 ] || { cat "$TMP/err" >&2; fail "blocking run exited $rc"; }
grep -Eq "^blocking +3 .* 33\.3%$" "$TMP/out" || fail "blocking at 3: served is not 33.3%"
grep -q "^blocking at 3: 2 of 3 connections got no answer" "$TMP/out" \
    || fail "blocking at 3: no note on the two connections that waited"
ESC=$(printf '\033')
if grep -q "$ESC" "$TMP/out"; then fail "ANSI escapes in non-terminal output"; fi

# 2. Interrupt in the middle of a step, once with each signal.
for sig in INT TERM; do
    "$PY" "$HERE/demo.py" --build "$BUILD" --models threaded-pool0 --connections 10,20 \
        --seconds 3 >"$TMP/out" 2>"$TMP/err" &
    demo=$!
    pids=""
    i=0
    while [ $i -lt 25 ]; do  # 2.5 s: collect the children as they come
        for p in $(pgrep -P "$demo" 2>/dev/null); do
            case " $pids " in *" $p "*) ;; *) pids="$pids $p" ;; esac
        done
        sleep 0.1
        i=$((i + 1))
    done
    for p in $pids; do [ -r /proc/$p/cmdline ] && echo "  child $p: $(tr "\0" " " </proc/$p/cmdline)"; done
    [ -n "$pids" ] || { kill -KILL "$demo"; fail "SIG$sig: saw no server or loadgen started"; }
    kill -"$sig" "$demo"
    i=0
    while kill -0 "$demo" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$demo" 2>/dev/null; then
        kill -KILL "$demo"
        for p in $pids; do kill -KILL "$p" 2>/dev/null; done
        fail "SIG$sig: demo.py still running 15 s after the signal"
    fi
    wait "$demo"
    rc=$?
    [ $rc -eq 130 ] || fail "SIG$sig: exit status $rc, expected 130"
    left=""
    for p in $pids; do
        # A pid still there and still one of ours (not reused by another program).
        if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -Eq 'server-|loadgen'; then
            left="$left $p"
            kill -KILL "$p" 2>/dev/null
        fi
    done
    [ -z "$left" ] || fail "SIG$sig: left behind:$left"
    grep -q '^interrupted' "$TMP/out" || fail "SIG$sig: no 'interrupted' note"
    echo "demo_test: SIG$sig stopped demo.py (exit 130) and its $(echo $pids | wc -w) children"
done
echo "demo_test: OK"
