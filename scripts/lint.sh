#!/usr/bin/env bash
# Style checks: clang-format 14 (pinned: its output differs between major
# versions) over every C file, and no module's private header included from
# another directory (its unit tests, tests/<module>/, and the fuzz targets,
# tests/fuzz/, may).
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
fmt=$(command -v clang-format-14 || command -v clang-format)
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find proto kv raftadapter server tests bench -name '*.[ch]')
if [ -n "$fmt" ]; then
    if ! "$fmt" --dry-run -Werror $files 2>/tmp/raftkv-lint.$$; then
        head -n 40 /tmp/raftkv-lint.$$
        echo "lint: files need clang-format (run: $fmt -i <file>)"
        rc=1
    fi
    rm -f /tmp/raftkv-lint.$$
fi
for m in proto kv raftadapter server; do
    for f in $(grep -rl --include='*.[ch]' "include \"$m/.*_internal.h\"" . 2>/dev/null | grep -v "^./$m/" | grep -v "^./tests/$m/" | grep -v "^./tests/fuzz/" | grep -v "^./build"); do
        echo "lint: $f includes a private header of $m"
        rc=1
    done
done
exit $rc
