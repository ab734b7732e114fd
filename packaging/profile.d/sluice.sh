# sluice: login shells trust the system CA store in every runtime (Node, Python requests and
# certifi, OpenSSL's SSL_CERT_FILE users), so they accept sluice's local CA. Installed by the
# sluice package; removed with it. See /usr/share/doc/sluice/docs/operations.md.
if [ -x /usr/lib/sluice/sluice-setup ]; then
    for sluice_assignment in $(/usr/lib/sluice/sluice-setup env); do
        # shellcheck disable=SC2163 # each word is NAME=VALUE
        export "$sluice_assignment"
    done
    unset sluice_assignment
fi
