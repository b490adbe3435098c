#!/usr/bin/env bash
# Unit: every tracked C source follows the committed .clang-format.
# Exit 0 pass, 1 fail (lists the files), 77 skip (no clang-format).
set -u
cd "${FO_SOURCE_DIR:-$(dirname "$0")/..}" || exit 1
command -v clang-format >/dev/null || { echo "SKIP: clang-format not installed"; exit 77; }
if ! command -v git >/dev/null || ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "SKIP: not a git checkout"
  exit 77
fi
bad=0
while IFS= read -r f; do
  [ -f "$f" ] || continue
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (clang-format -i $f)"
    bad=1
  fi
done < <(git ls-files '*.c' '*.h')
[ $bad = 0 ] && echo "check_format: all C sources formatted"
exit $bad
