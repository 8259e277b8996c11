"""``hepsift nplm``: the model-independent NPLM goodness-of-fit test on ROOT trees or arrays."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import numpy as np

from hepsift.cli._args import UsageError, int_at_least, positive_float
from hepsift.errors import ConfigurationError, DataError, HepsiftError, MissingBranchError

__all__ = ["add_arguments", "run"]

EPILOG = """examples:
  hepsift nplm --reference sm.root --data data.root --tree events --features mjj met ht \\
      --n-expected 2000 --mode kernel --toys 200 --output-dir nplm/
  hepsift nplm --reference ref.npy --data data.npy --mode neural --toys 100 --save-toys nplm/toys.jsonl
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``hepsift nplm`` on ``parser``."""
    parser.description = (
        "NPLM test (D'Agnolo & Wulzer): learn log n(x|D)/n(x|R), compute t, calibrate it with reference "
        "toys and report the global p-value and Z; exports f(x) to ONNX."
    )
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--reference", required=True, help="reference sample: ROOT file, .npy, .npz or .csv")
    parser.add_argument("--data", required=True, help="data sample: ROOT file, .npy, .npz or .csv")
    parser.add_argument("--tree", default="events", help="tree name in ROOT files (default: events)")
    parser.add_argument("--features", nargs="+", default=None, help="branches (or CSV columns) to use")
    parser.add_argument("--reference-weight", default=None, help="weight branch of the reference sample")
    parser.add_argument(
        "--n-expected",
        type=positive_float,
        default=None,
        help="N(R), events expected in data under the reference (default: sum of reference weights, or the data size)",
    )
    parser.add_argument("--mode", choices=("neural", "kernel"), default="kernel", help="NPLM mode (default: kernel)")
    parser.add_argument("--toys", type=int_at_least(1), default=100, help="number of reference toys (default: 100)")
    parser.add_argument("--jobs", type=int, default=-1, help="parallel toy processes (default: all cores)")
    parser.add_argument("--epochs", type=int_at_least(1), default=None, help="training epochs (neural mode)")
    parser.add_argument("--centers", type=int_at_least(1), default=None, help="Nystroem centres (kernel mode)")
    parser.add_argument("--device", default="cpu", help="torch device for the neural mode (cpu, cuda, auto)")
    parser.add_argument("--save-toys", default=None, help="JSON-lines file for toy results (resumable)")
    parser.add_argument("--output-dir", default="hepsift_nplm", help="where nplm.json, plots and f.onnx go")
    parser.add_argument("--overwrite", action="store_true", help="replace nplm.json, nplm_null.png, nplm_f.onnx")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def _read(path: str, tree: str, features: list[str] | None, weight: str | None) -> tuple[np.ndarray, list[str], Any]:
    if not os.path.exists(path):
        raise DataError(f"no such file: {path}")
    if path.endswith(".npy"):
        x = np.load(path)
        return x, features or [f"x{i}" for i in range(1 if x.ndim == 1 else x.shape[1])], None
    if path.endswith(".npz"):
        z = np.load(path)
        x = z["x"] if "x" in z else z[z.files[0]]
        w = z["weights"] if "weights" in z else None
        return x, features or [f"x{i}" for i in range(1 if x.ndim == 1 else x.shape[1])], w
    if path.endswith(".csv"):
        arr = np.genfromtxt(path, delimiter=",", names=True)
        names = list(arr.dtype.names or [])
        use = features or [n for n in names if n != weight]
        missing = [f for f in use if f not in names]
        if missing:
            raise MissingBranchError(missing, names, f"'{path}'", what="column")
        x = np.stack([arr[f] for f in use], axis=1)
        return x, use, arr[weight] if weight else None
    from hepsift.io.root import read_tree

    if not features:
        raise ConfigurationError("--features is required for ROOT input")
    arrays = read_tree(path, [*features, *([weight] if weight else [])], tree=tree)
    x = np.stack([np.asarray(arrays[f], dtype=np.float64) for f in features], axis=1)
    return x, list(features), None if weight is None else np.asarray(arrays[weight], dtype=np.float64)


def run(args: argparse.Namespace) -> int:
    """Run ``hepsift nplm``; returns the exit status."""
    from hepsift.nplm import calibrate, p_value, test_statistic
    from hepsift.nplm import plot_nplm_null

    from hepsift._atomic import atomic_output, check_output

    if args.jobs == 0 or args.jobs < -1:
        raise UsageError(f"argument --jobs: must be -1 (all cores) or >= 1, got {args.jobs}")
    if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
        raise UsageError(f"--output-dir '{args.output_dir}' is a file, not a folder")
    outputs = {k: os.path.join(args.output_dir, k) for k in ("nplm_null.png", "nplm_f.onnx", "nplm.json")}
    inputs = [args.reference, args.data]
    if os.path.isdir(args.output_dir):
        for path in outputs.values():  # refused now, not after the toys
            check_output(path, inputs=inputs, overwrite=args.overwrite)
    try:
        ref, names, w = _read(args.reference, args.tree, args.features, args.reference_weight)
        dat, _, _ = _read(args.data, args.tree, args.features, None)
        opts: dict[str, Any] = {"mode": args.mode, "device": args.device}
        if args.epochs is not None:
            opts["epochs"] = args.epochs
        if args.centers is not None:
            opts["n_centers"] = args.centers
        n_exp = args.n_expected
        if n_exp is None:
            n_exp = float(np.sum(w)) if w is not None else float(np.shape(dat)[0])
        t, model = test_statistic(
            ref, dat, n_expected=n_exp, reference_weights=w, seed=args.seed, return_model=True, **opts
        )
        if w is not None and not np.allclose(w, w.flat[0]):
            print("note: toys draw pseudo-data from the reference events without their weights", file=sys.stderr)
        null = calibrate(
            ref,
            n_exp,
            args.toys,
            seed=args.seed,
            n_jobs=args.jobs,
            save_path=args.save_toys,
            progress=not args.no_progress,
            **opts,
        )
        pv = p_value(t, null)
    except ValueError as exc:
        if isinstance(exc, HepsiftError):
            raise
        raise DataError(str(exc)) from exc
    os.makedirs(args.output_dir, exist_ok=True)
    plot_nplm_null(null, t_obs=t, path=outputs["nplm_null.png"])
    model.to_onnx(outputs["nplm_f.onnx"], names, overwrite=args.overwrite)
    print(f"t = {t:.4g}")
    print(null)
    print(
        f"global p-value: {pv.p_chi2:.3g} (Z = {pv.z_chi2:.2f}, chi-square); "
        f"{pv.p_empirical:.3g} (Z = {pv.z_empirical:.2f}, empirical from {null.n_toys} toys)"
    )
    with atomic_output(outputs["nplm.json"], inputs=inputs, overwrite=True) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "t": t,
                    "null": null.to_dict(),
                    "p_chi2": pv.p_chi2,
                    "z_chi2": pv.z_chi2,
                    "p_empirical": pv.p_empirical,
                    "z_empirical": pv.z_empirical,
                },
                fh,
                indent=2,
            )
    return 0
