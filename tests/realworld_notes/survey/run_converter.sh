#!/bin/bash
# Convert every real writer output in $SURVEY_OUT with this worktree's converter; one line per dataset.
OUT=${SURVEY_OUT:-/work/venvs/survey-out}
SRC=$(cd "$(dirname "$0")/../../.." && pwd)/src
RES=${RES:-/tmp/survey-converted}
rm -rf "$RES"; mkdir -p "$RES"
for d in "$OUT"/*.zarr "$OUT"/*/*.zarr; do
  [ -d "$d" ] || continue
  n=$(basename "$d" .ome.zarr); n=${n%.zarr}
  err=$(PYTHONPATH=$SRC python3 -m ome2024_ngff_challenge resave --cc-by "$d" "$RES/$n.zarr" 2>&1 >/dev/null); rc=$?
  v=""
  if [ $rc = 0 ]; then
    v=$(PYTHONPATH=$SRC python3 -m ome2024_ngff_challenge validate "$RES/$n.zarr" --against "$d" 2>&1 | tail -1)
  fi
  echo "$n rc=$rc | $(echo "$err" | grep -v '^$' | tr '\n' ' ' | cut -c1-400) | validate: $v"
done
