#!/usr/bin/env bash
# Unit: ops/embed_migrations.cmake turns NNNN_name.sql files into the C
# table, and refuses (failing the build) files it cannot order safely:
# a bad name, a gap, a repeated version, an empty directory.
# Exit 0 pass, 1 fail.
set -u
src="${FO_SOURCE_DIR:-$(dirname "$0")/../..}"
script="$src/ops/embed_migrations.cmake"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

run() { # DIR -> exit status, output in $tmp/out
  cmake -DDIR="$1" -DOUT="$tmp/gen.c" -P "$script" >"$tmp/out" 2>&1
}
expect_refused() { # DIR WHAT TEXT
  if run "$1"; then
    echo "FAIL: $2 was accepted"; fail=1
  elif ! grep -q "$3" "$tmp/out"; then
    echo "FAIL: $2: error does not say '$3':"; cat "$tmp/out"; fail=1
  fi
}

mkdir -p "$tmp/ok" && printf -- '-- a\nSELECT 1;\n' >"$tmp/ok/0001_first.sql" &&
  printf -- '-- b "quoted" \\ back\nSELECT 2;\n' >"$tmp/ok/0002_second_one.sql"
if ! run "$tmp/ok"; then
  echo "FAIL: good migrations refused:"; cat "$tmp/out"; fail=1
else
  grep -q '{1, "first", "'"$(sha256sum "$tmp/ok/0001_first.sql" | cut -c1-64)"'", sql_1}' "$tmp/gen.c" ||
    { echo "FAIL: entry 1 wrong:"; grep '{1,' "$tmp/gen.c"; fail=1; }
  grep -q '{2, "second_one", ' "$tmp/gen.c" || { echo "FAIL: entry 2 missing"; fail=1; }
  grep -q 'fo_migrations_count = 2;' "$tmp/gen.c" || { echo "FAIL: count"; fail=1; }
  # the generated file compiles and holds the exact bytes
  cat >"$tmp/main.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "migrations.h"
int main(void) { fputs(fo_migrations[1].sql, stdout); return fo_migrations_count != 2; }
C
  if cc -I"$src/ops" -o "$tmp/prog" "$tmp/main.c" "$tmp/gen.c" 2>"$tmp/out"; then
    "$tmp/prog" | cmp -s - "$tmp/ok/0002_second_one.sql" ||
      { echo "FAIL: embedded text differs from the file"; fail=1; }
  else
    echo "FAIL: generated C does not compile:"; cat "$tmp/out"; fail=1
  fi
fi

mkdir -p "$tmp/name" && cp "$tmp/ok/0001_first.sql" "$tmp/name/0001-First.sql"
expect_refused "$tmp/name" "a bad name" "NNNN_lower_snake.sql"
mkdir -p "$tmp/gap" && cp "$tmp/ok/0001_first.sql" "$tmp/gap/" &&
  cp "$tmp/ok/0001_first.sql" "$tmp/gap/0003_third.sql"
expect_refused "$tmp/gap" "a gap" "version 3, expected"
mkdir -p "$tmp/dup" && cp "$tmp/ok/"*.sql "$tmp/dup/" && cp "$tmp/ok/0001_first.sql" "$tmp/dup/0002_again.sql"
expect_refused "$tmp/dup" "a repeated version" "version 2, expected"
mkdir -p "$tmp/empty"
expect_refused "$tmp/empty" "no migrations" "no migrations"

[ $fail = 0 ] && echo "check_embed_migrations: ok"
exit $fail
