#!/usr/bin/env bash
# Sets everything up on a fresh machine (Debian 12, Python 3.11): a virtual environment in
# .venv with hepsift's pinned dependencies, the ONNX Runtime headers when the system has
# none, and hepsift itself (its C++ library built by CMake through scikit-build-core).
# Safe to run again: it only adds what is missing and rebuilds what changed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
venv=${HEPSIFT_VENV:-$here/.venv}
python=${PYTHON:-$(command -v python3.11 || command -v python3)}

bash scripts/fetch_onnxruntime_headers.sh
if [ ! -x "$venv/bin/python" ]; then
  echo "hepsift: creating the virtual environment $venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade "pip>=24"
"${pip[@]}" install -c constraints.txt scikit-build-core
# The dependencies first, at the versions of constraints.txt (torch==2.13.0 is the CPU build), so
# that the C++ build finds this environment's ONNX Runtime; then hepsift itself with every extra.
deps=$(mktemp)
"$venv/bin/python" - > "$deps" <<'PY'
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = p["optional-dependencies"]
print("\n".join(p["dependencies"] + [d for name in extras for d in extras[name] if not d.startswith("hepsift")]))
PY
"${pip[@]}" install -c constraints.txt -r "$deps"
rm -f "$deps"
"${pip[@]}" install --no-build-isolation -c constraints.txt ".[all,test]"
"$venv/bin/hepsift" config --version >/dev/null
echo "hepsift: ready in $venv (activate with: source $venv/bin/activate)"
