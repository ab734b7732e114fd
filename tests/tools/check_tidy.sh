#!/usr/bin/env bash
# Runs the repository's .clang-tidy checks over the daemon's and CLI's sources (compile_commands.json
# of the build). clang 14 does not detect Boost.Asio's C++20 coroutine support with libstdc++, so
# it is switched on by hand for the parse.
set -euo pipefail
source_dir=$1 build_dir=$2
cd "$source_dir"
mapfile -t files < <(git -c safe.directory='*' ls-files 'agent/*.cpp' 2>/dev/null || find agent -name '*.cpp')
findings=$(printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build_dir" --quiet \
  --extra-arg=-Wno-everything --extra-arg=-DBOOST_ASIO_HAS_CO_AWAIT=1 \
  --extra-arg=-DBOOST_ASIO_HAS_STD_COROUTINE=1 2>/dev/null | grep -E 'warning:|error:' || true)
if [[ -n "$findings" ]]; then
  echo "$findings"
  exit 1
fi
echo "${#files[@]} files pass clang-tidy"
