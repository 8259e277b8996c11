#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite: the C++ library built
# on its own with CMake and its ctest suite (Model, Scorer in RDataFrame, install and a
# downstream find_package(hepsift) project), then the pytest suite against the installed
# package. Slow physics validations are not part of it: scripts/validate.sh runs them.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
venv=${HEPSIFT_VENV:-$here/.venv}
bash scripts/setup.sh

echo "== C++: cmake + ctest"
cmake -S . -B build/cpp -DPython3_EXECUTABLE="$venv/bin/python" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/cpp -j"$(nproc)"
ctest --test-dir build/cpp --output-on-failure

echo "== Python: pytest"
cd "$here/tests"
"$venv/bin/python" -m pytest -c "$here/pyproject.toml" --rootdir "$here" "$here/tests" "$@"
