#!/usr/bin/env bash
# Fails when a tracked C or C++ file differs from the repository's .clang-format, naming the files.
set -euo pipefail
cd "$1"
mapfile -t files < <(git -c safe.directory='*' ls-files '*.cpp' '*.h' '*.c' 2>/dev/null || find agent bpf tests -name node_modules -prune -o \( -name '*.cpp' -o -name '*.h' -o -name '*.c' \) -print)
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  echo "not formatted (run: clang-format -i ${bad[*]})"
  exit 1
fi
echo "${#files[@]} files formatted"
