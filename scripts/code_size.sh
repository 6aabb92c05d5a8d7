#!/usr/bin/env bash
# Line counts of the biggest files and functions (the house-keeping figures of
# docs/architecture.md). Usage: scripts/code_size.sh [N] (default 15 of each).
# Needs universal-ctags (functions: first to last line, lambdas excluded).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-15}
dirs=(src tools include)
echo "== biggest files (lines) =="
find "${dirs[@]}" -name '*.cpp' -o -name '*.h' | xargs wc -l | grep -v ' total$' | sort -rn | head -n "$n"
echo "== biggest functions (lines) =="
find "${dirs[@]}" -name '*.cpp' | xargs ctags --fields=+ne --c++-kinds=f --output-format=u-ctags -o - 2>/dev/null |
  awk -F'\t' '$1 !~ /^__anon/ {
      line = ""; end = ""; scope = "";
      for (i = 4; i <= NF; ++i) {
        if ($i ~ /^line:/) line = substr($i, 6);
        else if ($i ~ /^end:/) end = substr($i, 5);
        else if ($i ~ /^(class|function|namespace|struct):/) { scope = $i; sub(/^[a-z]*:/, "", scope); }
      }
      if (line != "" && end != "") {
        name = $1; sub(/^fhellm::/, "", scope); gsub(/(::)?__anon[0-9a-f]*/, "", scope);
        if (scope != "") name = scope "::" $1;
        printf "%6d %s:%s %s\n", end - line + 1, $2, line, name;
      }
    }' | sort -rn | head -n "$n"
