#!/usr/bin/env bash
# One-time move (already done on main): the internal headers leave the public
# include/fhellm/ for src/<layer>/, next to their code, so include/fhellm/
# holds only the public API (client.h, server.h, fhellm.h, error.h, status.h;
# version.h is generated). Then every reference is rewritten by
# scripts/internal_includes.sh, which also serves work written before the move.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
for dir in include/fhellm/*/; do
  layer=$(basename "$dir")
  for header in "$dir"*.h; do
    git mv "$header" "src/$layer/$(basename "$header")"
  done
  rmdir "$dir" 2>/dev/null || true
done
bash scripts/internal_includes.sh
