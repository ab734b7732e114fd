#!/usr/bin/env bash
# Sourced by end-to-end tests: run build/bin/fake-openai in the background.
#
#   start_fake_openai BIN_DIR DIR ADDR [extra fake-openai args...]
#       Serves TLS on ADDR (e.g. 127.10.0.1:443, or 127.0.0.1:0 for any port) with
#       DIR/api.openai.com.{crt,key} (make_test_ca.sh DIR), waits until it listens, and sets
#         FAKE_OPENAI_PID    its PID
#         FAKE_OPENAI_ADDR   the first address it listens on, real port (host:port)
#         FAKE_OPENAI_PORT   that port
#         FAKE_OPENAI_LOG    DIR/fake-openai.log (stdout and stderr)
#       Pass --plain in the extra args to serve plain HTTP (no cert needed).
#   stop_fake_openai
#       Stops the one started above (TERM, then KILL after 5 s). Safe to call twice,
#       and from an EXIT trap.

start_fake_openai() {
    local bin_dir="${1:?usage: start_fake_openai BIN_DIR DIR ADDR [args...]}"
    local dir="${2:?usage: start_fake_openai BIN_DIR DIR ADDR [args...]}"
    local addr="${3:?usage: start_fake_openai BIN_DIR DIR ADDR [args...]}"
    shift 3
    local bin="$bin_dir/fake-openai"
    if [[ ! -x "$bin" ]]; then
        echo "start_fake_openai: $bin is not built" >&2
        return 1
    fi
    local tls_args=()
    local arg
    local plain=0
    for arg in "$@"; do [[ "$arg" == "--plain" ]] && plain=1; done
    if [[ $plain -eq 0 ]]; then
        tls_args=(--cert "$dir/api.openai.com.crt" --key "$dir/api.openai.com.key")
    fi
    FAKE_OPENAI_LOG="$dir/fake-openai.log"
    : >"$FAKE_OPENAI_LOG"
    "$bin" --listen "$addr" "${tls_args[@]}" "$@" >>"$FAKE_OPENAI_LOG" 2>&1 &
    FAKE_OPENAI_PID=$!
    local deadline=$((SECONDS + 10))
    while ! grep -q '^listening on ' "$FAKE_OPENAI_LOG"; do
        if ! kill -0 "$FAKE_OPENAI_PID" 2>/dev/null; then
            echo "start_fake_openai: fake-openai exited:" >&2
            cat "$FAKE_OPENAI_LOG" >&2
            FAKE_OPENAI_PID=
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "start_fake_openai: fake-openai did not start listening within 10 s" >&2
            cat "$FAKE_OPENAI_LOG" >&2
            stop_fake_openai
            return 1
        fi
        sleep 0.05
    done
    FAKE_OPENAI_ADDR=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$FAKE_OPENAI_LOG" | head -n1)
    FAKE_OPENAI_PORT=${FAKE_OPENAI_ADDR##*:}
    export FAKE_OPENAI_PID FAKE_OPENAI_ADDR FAKE_OPENAI_PORT FAKE_OPENAI_LOG
}

stop_fake_openai() {
    local pid="${FAKE_OPENAI_PID:-}"
    [[ -n "$pid" ]] || return 0
    FAKE_OPENAI_PID=
    kill -TERM "$pid" 2>/dev/null || return 0
    local deadline=$((SECONDS + 5))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.05
    done
    wait "$pid" 2>/dev/null || true
}
