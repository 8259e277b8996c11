#!/usr/bin/env bash
# GPU checks, on a machine with an NVIDIA GPU: replaces onnxruntime by onnxruntime-gpu in the
# environment of scripts/setup.sh, runs the tests that need CUDA (they skip elsewhere) and the
# GPU benchmark (4 x 512 MLP end to end from a ROOT file, streamed batches of 10^3 to 10^6
# events on the GPU, which takes whole batches, against the default path on two CPU threads).
# The bench file has 250 000-entry clusters: under ImplicitMT a streamed batch stays within one
# cluster, so batches above that size are reached with one thread only.
#   bash scripts/gpu_check.sh [events for the benchmark, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
version=$(.venv/bin/python -c "import onnxruntime; print(onnxruntime.__version__)")
.venv/bin/pip uninstall -y onnxruntime onnxruntime-gpu >/dev/null 2>&1 || true
.venv/bin/pip install "onnxruntime-gpu==${version}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
.venv/bin/python -c "import onnxruntime as o; print('providers:', o.get_available_providers())"
(cd tests && ../.venv/bin/python -m pytest -c ../pyproject.toml -q -rs test_rdf.py -k "cuda")
.venv/bin/python bench/rdf_scoring.py --provider cuda --large-events "${1:-1000000}" --cluster-events 250000 --repeat 3
