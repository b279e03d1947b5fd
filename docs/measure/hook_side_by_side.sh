#!/usr/bin/env bash
# The hook path side by side with /bin/true, with `perf stat -r 300`, three rounds:
# each build's served `memory retrieve` and durable `memory store` of a 1 KiB document,
# each build against its own memory server in its own project of three lines.
# (docs/BENCHMARKS.md, session 17.)
#
# Usage: docs/measure/hook_side_by_side.sh LABEL:BINARY [LABEL:BINARY ...]
#   e.g. docs/measure/hook_side_by_side.sh dynamic:target/release/baton static:target/release/static/baton
set -euo pipefail
DOC=$(python3 -c 'import json;print(json.dumps({"components":[{"id":f"service-{i}","capacity_rps":800,"notes":"x"*80} for i in range(8)]}))')
export BATON_SERVER=auto
declare -A dirs bins
labels=()
for spec in "$@"; do
  IFS=: read -r label binary <<< "$spec"
  labels+=("$label")
  bins[$label]=$(realpath "$binary")
  dirs[$label]=$(mktemp -d)
  printf '[pipeline]\nname = "bench"\nnamespace = "coding-pipeline"\n' > "${dirs[$label]}/pipeline.toml"
  (cd "${dirs[$label]}" && "${bins[$label]}" memory store coding/architecture/system "$DOC" 2>/dev/null)
done
ms() { perf stat -r 300 "$@" 2>&1 >/dev/null | awk '/elapsed/{print $1*1000}'; }
for round in 1 2 3; do
  bare=$(cd /tmp && ms /bin/true)
  line="round $round: /bin/true $bare ms"
  for label in "${labels[@]}"; do
    cd "${dirs[$label]}"
    r=$(ms "${bins[$label]}" memory retrieve -k coding/architecture/system)
    s=$(ms "${bins[$label]}" memory store coding/architecture/system "$DOC")
    line="$line | $label retrieve $r ms ($(python3 -c "print(round($r/$bare,2))") x) store $s ms ($(python3 -c "print(round($s/$bare,2))") x)"
  done
  echo "$line"
done
for label in "${labels[@]}"; do
  (cd "${dirs[$label]}" && "${bins[$label]}" memory server stop >/dev/null 2>&1 || true)
  rm -rf "${dirs[$label]}"
done
