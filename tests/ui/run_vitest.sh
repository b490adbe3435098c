#!/usr/bin/env bash
# unit: the dashboard's Vitest tests (state handling, coordinates, sorting,
# lifecycle buttons). Exit 77 when ui/node_modules is not installed.
set -euo pipefail
ui=${FO_SOURCE_DIR:?}/ui
[[ -d $ui/node_modules ]] || { echo "SKIP: ui/node_modules missing (tools/fleetops build installs it)"; exit 77; }
cd "$ui" && exec npx --no-install vitest run
