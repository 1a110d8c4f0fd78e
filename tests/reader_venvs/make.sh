#!/usr/bin/env bash
# The readers that cannot live beside the test extras (spatialdata 0.8 needs Python 3.12;
# webknossos 4.3 and the spatialdata 0.4 writer pin older click/psutil/zarr; ngff-zarr 0.50 a newer
# typing_extensions), each in its own venv under DIR, pinned by the freeze files beside this script.
# usage: make.sh DIR   (what exists already is kept; a venv that cannot be built is reported and
# left out, and the tests that need it say why they skip)
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: make.sh DIR}"
mkdir -p "$dir"
py312=""  # the first Python 3.12 that runs (pyenv's shims may name one that is not selected)
for candidate in $(command -v python3.12) /root/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12; do
  if [ -x "$candidate" ] && "$candidate" -c pass 2>/dev/null; then py312="$candidate"; break; fi
done
build() {  # NAME PYTHON FREEZE
  local name=$1 python=$2 freeze=$3
  if [ -x "$dir/$name/bin/python" ] && [ -f "$dir/$name/.complete" ]; then return 0; fi
  if [ -z "$python" ]; then echo "reader venvs: $name: no Python interpreter for it here" >&2; return 0; fi
  rm -rf "$dir/$name"
  if "$python" -m venv "$dir/$name" && "$dir/$name/bin/python" -m pip install -q --disable-pip-version-check \
      -r "$here/$freeze" >"$dir/$name.log" 2>&1; then
    touch "$dir/$name/.complete"; echo "reader venvs: $name ready"
  else
    echo "reader venvs: $name could not be built (see $dir/$name.log)" >&2
  fi
}
build containers-sd "$py312" spatialdata-0.8.txt &
build containers-sd04 python3 spatialdata-0.4.txt &
build containers-wk python3 webknossos-4.3.txt &
build v06-ngffzarr python3 ngff-zarr.txt &
wait
