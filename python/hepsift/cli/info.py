"""``hepsift info``: a model's inputs, outputs and metadata.

Example::

    hepsift info model.onnx --json
"""

from __future__ import annotations

import argparse
import json

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``hepsift info``."""
    p.add_argument("model", help="ONNX file")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    """Print what the model file holds; returns the exit status."""
    from hepsift.rdf import Model

    m = Model(args.model)
    info = {
        "path": m.path,
        "kind": m.kind or None,
        "hepsift_version": m.version or None,
        "inputs": m.input_names,
        "input_kind": m.input_kind,
        "input_shape": list(m.input_shape),
        "n_features": m.n_features,
        "feature_names": m.feature_names,
        "outputs": m.output_names,
        "n_scores": m.n_scores,
        "digest": m.metadata.get("hepsift.digest", "none (plain ONNX)") + (" (verified)" if "hepsift.digest" in m.metadata else ""),
        "metadata": m.metadata,
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            if key != "metadata":
                print(f"{key:16s} {value}")
    return 0
