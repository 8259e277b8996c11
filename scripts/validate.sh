#!/usr/bin/env bash
# The slow physics validations (pytest -m validation), after setting everything up.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${HEPSIFT_VENV:-$here/.venv}
bash "$here/scripts/setup.sh"
cd "$here/tests"
"$venv/bin/python" -m pytest -c "$here/pyproject.toml" --rootdir "$here" "$here/tests" -m validation "$@"
