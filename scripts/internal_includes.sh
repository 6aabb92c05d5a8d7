#!/usr/bin/env bash
# Rewrites references to the internal headers that moved from
# include/fhellm/<layer>/ to src/<layer>/ (scripts/move_internal_headers.sh):
#   #include "fhellm/he/linear.h"      ->  #include "he/linear.h"
#   include/fhellm/he/linear.h (docs)  ->  src/he/linear.h
# The public headers (fhellm/client.h, server.h, fhellm.h, error.h, status.h,
# version.h) are untouched. Idempotent: run it on work in flight.
# Usage: scripts/internal_includes.sh [FILE...]   (default: every tracked
#        source, header, CMake and Markdown file of the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
layers='math|he|quant|model|tokenizer|hybrid|net'
if (($#)); then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.h' '*.cpp' '*.c' '*.md' '*.txt' '*.cmake' '*.in' '*.sh' |
    grep -v -e '^scripts/internal_includes.sh$' -e '^scripts/move_internal_headers.sh$')
fi
((${#files[@]})) || exit 0
sed -i -E \
  -e "s#include/fhellm/(${layers})/#src/\\1/#g" \
  -e "s#([\"<( \`'])fhellm/(${layers})/([A-Za-z0-9_]+\\.h)#\\1\\2/\\3#g" \
  "${files[@]}"
