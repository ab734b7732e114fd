#!/usr/bin/env bash
# make_test_ca.sh DIR — a throwaway test PKI for end-to-end tests (ECDSA P-256, openssl CLI):
#   DIR/ca.crt, DIR/ca.key                       test CA
#   DIR/upstream-ca.crt                          the same CA, named for sluice's upstream.ca_file
#   DIR/api.openai.com.crt, DIR/api.openai.com.key   leaf for the fake upstream (chain: leaf + CA)
#   DIR/other.example.crt, DIR/other.example.key     leaf for passthrough (not intercepted) tests
#   make_test_leaf DIR NAME SAN: DIR/NAME.crt (leaf + CA) and DIR/NAME.key (0600) for a test
#   server of the test's own, e.g. make_test_leaf DIR web "IP:127.18.0.2"
# Usable both as a script and sourced (then call make_test_ca DIR).

make_test_ca() {
    local dir="${1:?usage: make_test_ca DIR}"
    mkdir -p "$dir"
    (
        set -euo pipefail
        umask 077
        cd "$dir"
        openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
        openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=sluice e2e test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" \
            -addext "subjectKeyIdentifier=hash" \
            -out ca.crt 2>/dev/null
        cp ca.crt upstream-ca.crt
        local host
        for host in api.openai.com other.example; do
            openssl ecparam -name prime256v1 -genkey -noout -out "$host.key.tmp" 2>/dev/null
            # PKCS#8, which every TLS library loads.
            openssl pkcs8 -topk8 -nocrypt -in "$host.key.tmp" -out "$host.key"
            rm -f "$host.key.tmp"
            openssl req -new -key "$host.key" -subj "/CN=$host" -out "$host.csr" 2>/dev/null
            printf '%s\n' \
                "basicConstraints=critical,CA:FALSE" \
                "keyUsage=critical,digitalSignature" \
                "extendedKeyUsage=serverAuth" \
                "subjectAltName=DNS:$host" \
                "authorityKeyIdentifier=keyid" \
                "subjectKeyIdentifier=hash" >"$host.ext"
            openssl x509 -req -in "$host.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
                -sha256 -days 30 -extfile "$host.ext" -out "$host.leaf.crt" 2>/dev/null
            cat "$host.leaf.crt" ca.crt >"$host.crt"
            rm -f "$host.csr" "$host.ext" "$host.leaf.crt"
        done
        rm -f ca.srl
        chmod 644 ca.crt upstream-ca.crt api.openai.com.crt other.example.crt
    )
}

make_test_leaf() {
    local dir="${1:?usage: make_test_leaf DIR NAME SAN}" name="${2:?}" san="${3:?}"
    (
        set -euo pipefail
        umask 077
        cd "$dir"
        openssl ecparam -name prime256v1 -genkey -noout -out "$name.key.tmp" 2>/dev/null
        openssl pkcs8 -topk8 -nocrypt -in "$name.key.tmp" -out "$name.key"
        rm -f "$name.key.tmp"
        openssl req -new -key "$name.key" -subj "/CN=$name" -out "$name.csr" 2>/dev/null
        printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
            "extendedKeyUsage=serverAuth" "subjectAltName=$san" >"$name.ext"
        openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
            -days 30 -extfile "$name.ext" -out "$name.leaf.crt" 2>/dev/null
        cat "$name.leaf.crt" ca.crt >"$name.crt"
        rm -f "$name.csr" "$name.ext" "$name.leaf.crt" ca.srl
        chmod 644 "$name.crt"
    )
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    make_test_ca "$@"
fi
