#!/usr/bin/env bash
# Prints the path of a Debian 12 root filesystem tarball for the package tests, made with
# debootstrap from the Debian archive apt uses, and cached (by its package list) under
# $SLUICE_TEST_CACHE (default /var/cache/sluice-tests) so later runs on the machine skip the
# ~3 minutes of debootstrap. A fresh machine makes it; a failed or partial build is never cached.
# Usage: rootfs.sh EXTRA_PACKAGE...   (the runtime libraries the .deb depends on)
set -euo pipefail
cache_dir=${SLUICE_TEST_CACHE:-/var/cache/sluice-tests}
# systemd to boot; the runtimes whose trust the tests check; the .deb's dependencies.
packages=(systemd systemd-sysv dbus libpam-systemd ca-certificates curl python3 python3-requests python3-httpx
  openjdk-17-jre-headless ca-certificates-java procps iproute2 "$@")
list=$(printf '%s\n' "${packages[@]}" | sort -u | paste -sd, -)
key=$(printf 'bookworm minbase %s' "$list" | sha256sum | cut -c1-16)
tarball="$cache_dir/bookworm-$key.tar"
if [[ -s "$tarball" ]]; then
  echo "$tarball"
  exit 0
fi
mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
mkdir -p "$cache_dir"
work=$(mktemp -d "$cache_dir/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include="$list" bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  exit 1
}
# Each test run gives its copy a machine ID of its own.
rm -f "$work/root/etc/machine-id"
tar -C "$work/root" -cf "$tarball.partial" .
mv "$tarball.partial" "$tarball"
# Roots made for an older package list are not used again.
find "$cache_dir" -maxdepth 1 -name 'bookworm-*.tar' ! -path "$tarball" -delete
echo "$tarball"
