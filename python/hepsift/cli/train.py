"""``hepsift train``: ROOT or DarkMachines CSV files + features + model type -> trained model + exported ONNX.

Examples::

    hepsift train ttbar.root zprime_m1000.root --model bdt --param n_estimators=300 \\
        --features full --luminosity 140000 -o trained/ --seed 1
    hepsift train background_chan1.csv glgl1400_neutralino1100_chan1.csv --model bdt \\
        --process-labels ttbar=0,wjets=0,z_jets=0,glgl1400_neutralino1100=1 --objects Jet=4 -o trained/
    hepsift train boosted/zprime_tt_had_m2000.root boosted/qcd_boosted.root --model jettagger \\
        --jet-label FatJet_truth --signal-codes 1 --background-codes 4,5 -o tagger/
    hepsift train boosted/zprime_tt_had_m2000.root boosted/qcd_boosted.root --model cnn --image jet0 \\
        --jet-label FatJet_truth --background-codes 4,5 --normalise sum -o cnn/

The models of particle sets and images (``deepsets``, ``jettagger``, ``cnn``, ``lcnn``) read jagged
branches (:mod:`hepsift.cli._lowlevel`); the others the flat features.

writes ``trained/model.hsm`` (the estimator, for ``hepsift.load``), ``trained/model.onnx`` (for ``hepsift apply`` or
``hepsift.rdf.define``), ``trained/config.json`` and ``trained/summary.json`` (test metrics).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from hepsift.cli._args import (UsageError, add_darkmachines_arguments, darkmachines_dataset, finite_float,
                               input_format, positive_float)
from hepsift.cli._lowlevel import LOWLEVEL_MODELS
from hepsift.cli._lowlevel import add_arguments as add_lowlevel_arguments
from hepsift.cli._lowlevel import check_options as check_lowlevel_options
from hepsift.cli._lowlevel import run as run_lowlevel

__all__ = ["add_arguments", "parse_params", "run"]

_MODELS = {"mlp": ("mlp", {}), "bdt": ("bdt", {}), "adaboost": ("bdt", {"boosting": "adaboost"}),
           "gbdt": ("bdt", {"boosting": "gradient"}), "rf": ("rf", {}), "pnn": ("pnn", {})}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``hepsift train``."""
    p.description = (p.description or "") + (
        "\n\nexamples:\n  hepsift train bkg.root sig.root --model mlp --param hidden_layers=[64,64] -o out/"
        "\n  hepsift train bkg.csv sig.csv --process-labels ttbar=0,wjets=0,glgl1400_neutralino1100=1 -o out/"
        "\n  hepsift train zprime.root qcd.root --model jettagger --jet-label FatJet_truth --background-codes 4,5 -o out/"
        "\n  hepsift train zprime.root qcd.root --model cnn --image jet0 --normalise sum -o out/")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("files", nargs="+", help="ROOT files (signal: signal_mass > 0, unless --label-branch), or "
                                            "DarkMachines CSV files (labels from --process-labels)")
    p.add_argument("--tree", default=None, help="tree name (default Events or the only tree)")
    p.add_argument("--features", nargs="+", default=None,
                   help="'full', 'sanitised' or branch names (DarkMachines: names of its flat fields) (default full)")
    p.add_argument("--model", choices=sorted([*_MODELS, *LOWLEVEL_MODELS]), default="mlp",
                   help="model type (default mlp; deepsets, jettagger, cnn, lcnn: see below)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="hyper-parameter (value parsed as JSON when possible); repeatable")
    p.add_argument("--config", help="JSON configuration of the model (fields of its config dataclass)")
    p.add_argument("--label-branch", help="branch with integer labels (default: signal_mass > 0)")
    p.add_argument("--luminosity", type=positive_float, default=1.0,
                   help="pb^-1 multiplying the weight branch or the DarkMachines event-weight column "
                        "(default 1: the weights as written)")
    p.add_argument("--missing", choices=["keep", "drop_events"], default=None,
                   help="missing-value (-999) policy (default keep)")
    p.add_argument("--require", nargs="+", default=[], help="features that must be present (events dropped otherwise)")
    p.add_argument("--test-size", type=finite_float, default=0.3, help="held-out fraction for the metrics (default 0.3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the model (default 0)")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace model.hsm, model.onnx, ... if they exist")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_darkmachines_arguments(p, "class label of each process ID (required for DarkMachines input): "
                                  "ttbar=0,wjets=0,glgl1400_neutralino1100=1 or a JSON file {\"ttbar\": 0, ...}")
    add_lowlevel_arguments(p)


def _value(text: str) -> Any:
    try:
        v = json.loads(text)
    except json.JSONDecodeError:
        return text
    return tuple(v) if isinstance(v, list) else v


def parse_params(items: list[str]) -> dict[str, Any]:
    """``--param KEY=VALUE`` items -> hyper-parameters (values parsed as JSON when possible)."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep:
            raise UsageError(f"--param expects KEY=VALUE; got {item!r}")
        params[key] = _value(val)
    return params


def run(args: argparse.Namespace) -> int:
    """Run ``hepsift train``; returns the exit status."""
    from hepsift import metrics
    from hepsift._atomic import atomic_output, check_output
    from hepsift._saved import EXTENSION
    from hepsift.data import Dataset
    from hepsift.models import MLPClassifier, make

    if not 0 < args.test_size < 1:
        raise UsageError(f"argument --test-size: must be between 0 and 1, got {args.test_size:g}")
    check_lowlevel_options(args)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o/--output '{out}' is a file; give a folder")
    outputs = {name: out / name for name in (f"model{EXTENSION}", "config.json", "model.onnx", "summary.json")}
    for path in outputs.values():  # refused now, not after the training
        if out.is_dir():
            check_output(path, inputs=args.files, overwrite=args.overwrite)
    user: dict[str, Any] = json.loads(Path(args.config).read_text()) if args.config else {}
    user.update(parse_params(args.param))
    if args.model in LOWLEVEL_MODELS:
        return run_lowlevel(args, outputs, user)

    args.features = args.features or ["full"]
    args.missing = args.missing or "keep"
    features: Any = args.features[0] if len(args.features) == 1 and args.features[0] in ("full", "sanitised") \
        else list(args.features)
    if input_format(args.files, args) == "darkmachines":
        ds = darkmachines_dataset(args.files, args, features, missing=args.missing, require=args.require)
    else:
        ds = Dataset.from_root(args.files, features, tree=args.tree, luminosity=args.luminosity,
                               labels=args.label_branch, missing=args.missing, require=args.require)
    kind, preset = _MODELS[args.model]
    params: dict[str, Any] = {**preset, **user}
    if kind == "pnn":
        inner = MLPClassifier(seed=args.seed, progress=not args.no_progress, **params)
        model = make("pnn", estimator=inner, seed=args.seed)
        ds = ds.with_mass_feature("mass")
    else:
        params.setdefault("seed", args.seed)
        if kind == "mlp":
            params.setdefault("progress", not args.no_progress)
        model = make(kind, **params)
    train, test = ds.split(args.test_size, seed=args.seed)
    print(ds.summary())
    start = time.perf_counter()
    model.fit(train.X, train.y, sample_weight=train.weight)
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    model.save(outputs[f"model{EXTENSION}"], overwrite=args.overwrite)
    model.to_config().save(outputs["config.json"], overwrite=args.overwrite)
    onnx_path = model.to_onnx(outputs["model.onnx"], ds.feature_names, sample=test.X[:512], overwrite=args.overwrite)
    summary: dict[str, Any] = {"model": type(model).__name__, "features": ds.feature_names, "n_train": len(train),
                               "n_test": len(test), "fit_seconds": seconds, "onnx": str(onnx_path)}
    if getattr(model, "task_", "binary") == "binary":
        score = model.predict_proba(test.X)[:, 1]
        summary["test"] = metrics.classification_report(test.y, score, test.weight)
        summary["test"]["signal_efficiency"] = {f"{k:g}": v for k, v in
                                                metrics.signal_efficiency_at(test.y, score, test.weight).items()}
    elif getattr(model, "task_", "") == "multiclass":
        summary["test"] = {"accuracy": metrics.accuracy(test.y, model.predict(test.X), test.weight)}
    with atomic_output(outputs["summary.json"], inputs=args.files, overwrite=True) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"hepsift train: {type(model).__name__} fitted on {len(train)} events in {seconds:.1f} s -> {onnx_path}")
    if "test" in summary:
        print("  test: " + ", ".join(f"{k} {v:.4f}" for k, v in summary["test"].items() if isinstance(v, float)))
    return 0
