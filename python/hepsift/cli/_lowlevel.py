"""``hepsift train --model deepsets|jettagger|cnn|lcnn``: the models of particle sets and images.

Inputs, labels and options (documented in ``hepsift train --help`` and the README):

* ``deepsets``: the per-object columns ``--inputs`` of one collection (default
  :data:`DEFAULT_INPUTS`), the first ``--max-objects`` of each event; one label per event.
* ``jettagger``: the constituents ``--inputs`` of every jet of ``--jets`` (grouped by
  ``--index``), one label per jet from the truth branch ``--jet-label``.
* ``cnn``, ``lcnn``: images made by :mod:`hepsift.images` from the file: ``--image jetN`` (jet
  N of ``--index``'s collection, :func:`hepsift.images.jet_images`) or ``--image event``
  (:func:`hepsift.images.event_images`), with ``--pixels``, ``--extent``, ``--channels``,
  ``--normalise``; one label per event, or with ``--jet-label`` the label of jet N.

Labels per event: ``--label-branch`` (integers 0/1), else ``signal_mass > 0`` (hepsift's
signal files), as for the flat models. Labels per jet: ``--jet-label BRANCH`` (e.g.
``FatJet_truth``) with ``--signal-codes`` (default 1) and ``--background-codes`` (default:
every other code); jets with neither take no part. Weights: the ``weight`` branch times
``--luminosity``, with ``class_weight="balanced"`` unless ``--param class_weight=null``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepsift.cli._args import UsageError, int_at_least, positive_float

__all__ = ["LOWLEVEL_MODELS", "DEFAULT_INPUTS", "add_arguments", "check_options", "run"]

#: ``--model`` name -> estimator class of :mod:`hepsift.models`.
LOWLEVEL_MODELS: dict[str, str] = {"deepsets": "DeepSetsClassifier", "jettagger": "JetTagger",
                                   "cnn": "CNNClassifier", "lcnn": "LCNNClassifier"}  # fmt: skip
#: Per-constituent columns of the set models when ``--inputs`` is not given.
DEFAULT_INPUTS: tuple[str, ...] = ("PFCand_pt", "PFCand_eta", "PFCand_phi", "PFCand_charge")

#: option dest -> flag, and the low-level models that take it
_OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "inputs": ("--inputs", ("deepsets", "jettagger")),
    "max_objects": ("--max-objects", ("deepsets", "jettagger")),
    "index": ("--index", ("jettagger", "cnn", "lcnn")),
    "jets": ("--jets", ("jettagger",)),
    "max_jets": ("--max-jets", ("jettagger",)),
    "jet_label": ("--jet-label", ("jettagger", "cnn", "lcnn")),
    "signal_codes": ("--signal-codes", ("jettagger", "cnn", "lcnn")),
    "background_codes": ("--background-codes", ("jettagger", "cnn", "lcnn")),
    "image": ("--image", ("cnn", "lcnn")),
    "pixels": ("--pixels", ("cnn", "lcnn")),
    "extent": ("--extent", ("cnn", "lcnn")),
    "channels": ("--channels", ("cnn", "lcnn")),
    "normalise": ("--normalise", ("cnn", "lcnn")),
}
#: options of the flat models only (dest -> flag)
_FLAT_ONLY = {"features": "--features", "missing": "--missing", "require": "--require"}


def _names(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected NAME[,NAME...], got {text!r}")
    return names


def _codes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in _names(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integer codes CODE[,CODE...] (e.g. 4,5), got {text!r}") from None


def _pixels(text: str) -> tuple[int, int]:
    rows, sep, cols = text.lower().partition("x")
    try:
        r, c = int(rows), int(cols if sep else rows)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or ROWSxCOLS (e.g. 33 or 25x40), got {text!r}") from None
    if r < 1 or c < 1:
        raise argparse.ArgumentTypeError(f"pixels must be positive, got {text!r}")
    return r, c


def _image(text: str) -> str:
    if text == "event" or (text.startswith("jet") and text[3:].isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"expected jetN (N-th jet, from 0: jet0 the leading one) or event, got {text!r}")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the low-level models (an argument group of ``hepsift train``)."""
    g = p.add_argument_group(
        "models of particle sets and images (--model deepsets, jettagger, cnn, lcnn)",
        "inputs from the jagged branches of ROOT files (e.g. hepsift generate --constituents); labels per event "
        "from --label-branch or signal_mass > 0, per jet from --jet-label")
    g.add_argument("--inputs", type=_names, metavar="COL,COL,...",
                   help=f"per-object columns of one collection (default {','.join(DEFAULT_INPUTS)})")
    g.add_argument("--max-objects", type=int_at_least(1), metavar="P",
                   help="keep the first P objects of each event (jet) in training (collection order)")
    g.add_argument("--index", metavar="BRANCH",
                   help="each constituent's jet index (default PFCand_fatJetIdx): the tagger's grouping, the jet of "
                        "--image jetN")
    g.add_argument("--jets", metavar="COLLECTION", help="jettagger: the jet collection scored (default FatJet)")
    g.add_argument("--max-jets", type=int_at_least(1), metavar="J",
                   help="jettagger: keep the first J jets of each event in training")
    g.add_argument("--jet-label", metavar="BRANCH",
                   help="per-jet truth codes (jettagger: default FatJet_truth; cnn/lcnn with --image jetN: the label "
                        "of jet N instead of the event's)")
    g.add_argument("--signal-codes", type=_codes, metavar="CODE,...", help="codes of signal jets (default 1: top)")
    g.add_argument("--background-codes", type=_codes, metavar="CODE,...",
                   help="codes of background jets (default: every other code; e.g. 4,5 for quark and gluon jets); "
                        "jets with neither take no part")
    g.add_argument("--image", type=_image, metavar="jetN|event", help="cnn/lcnn: the image (default jet0)")
    g.add_argument("--pixels", type=_pixels, metavar="N|RxC",
                   help="image size (default 33 for jet images, 32 for event images)")
    g.add_argument("--extent", type=positive_float,
                   help="half-width of the image in eta (and phi for jet images) (default 1.0 jet, 5.0 event)")
    g.add_argument("--channels", type=_names, metavar="NAME,...",
                   help="jet-image channels: names of hepsift.images.CHANNELS (default charged,neutral)")
    g.add_argument("--normalise", choices=["none", "sum"], help="pixels in GeV (none) or summing to 1 (sum); "
                                                                "default none")


def check_options(args: argparse.Namespace) -> None:
    """Refuse options that the chosen ``--model`` does not take.

    Raises
    ------
    UsageError
        A flat-model option with a low-level model, a low-level option with a flat model, or
        an option of another low-level model.
    """
    model = args.model
    given = {dest: flag for dest, (flag, _) in _OPTIONS.items() if getattr(args, dest, None) is not None}
    if model not in LOWLEVEL_MODELS:
        if given:
            raise UsageError(f"{', '.join(given.values())} applies to the models of particle sets and images "
                             f"({', '.join(LOWLEVEL_MODELS)}), not to --model {model}")
        return
    flat = [flag for dest, flag in _FLAT_ONLY.items() if getattr(args, dest, None)]
    if flat:
        raise UsageError(f"{', '.join(flat)} applies to the flat models (mlp, bdt, ...); --model {model} reads "
                         f"{'--inputs' if model in ('deepsets', 'jettagger') else '--image'} instead")
    other = [flag for dest, flag in given.items() if model not in _OPTIONS[dest][1]]
    if other:
        raise UsageError(f"{', '.join(other)} does not apply to --model {model}")
    if model in ("cnn", "lcnn"):
        image = args.image or "jet0"
        if image == "event" and (args.jet_label or args.channels or args.index):
            raise UsageError("--jet-label, --channels and --index apply to jet images (--image jetN), not to --image event")
    if model != "jettagger" and not args.jet_label and (args.signal_codes or args.background_codes):
        raise UsageError("--signal-codes and --background-codes need --jet-label")
    if args.label_branch and args.jet_label:
        raise UsageError("give --label-branch (one label per event) or --jet-label (per jet), not both")


def _jet_labels(codes: Any, signal: Sequence[int], background: Sequence[int] | None) -> Any:
    """Jagged truth codes -> jagged labels 1 (signal code), 0 (background code), -1 (neither)."""
    import awkward as ak

    flat = ak.to_numpy(ak.flatten(codes)).astype(np.int64)
    is_sig = np.isin(flat, signal)
    is_bkg = ~is_sig if background is None else np.isin(flat, background) & ~is_sig
    return ak.unflatten(np.where(is_sig, 1, np.where(is_bkg, 0, -1)), ak.num(codes, axis=1))


def run(args: argparse.Namespace, outputs: dict[str, Path], params: dict[str, Any]) -> int:
    """Train ``args.model`` on the ROOT files ``args.files`` and write ``outputs``; returns the exit status.

    ``params``: the hyper-parameters of ``--config`` and ``--param`` (constructor arguments of the model).
    """
    import json

    import awkward as ak

    import hepsift.images as im
    from hepsift import metrics, models
    from hepsift._atomic import atomic_output
    from hepsift._saved import EXTENSION
    from hepsift.cli._args import input_format
    from hepsift.io import read_tree

    if input_format(args.files, args) != "root":
        raise UsageError(f"--model {args.model} reads ROOT files with jagged branches, not DarkMachines CSV files")
    model_name = args.model
    index = args.index or "PFCand_fatJetIdx"
    jets = args.jets or "FatJet"
    image = args.image or "jet0"
    jet_label = args.jet_label or ("FatJet_truth" if model_name == "jettagger" else None)
    if model_name == "jettagger" and args.jet_label is None and not jet_label.startswith(f"{jets}_"):
        raise UsageError(f"--jets {jets}: give --jet-label, the branch of per-jet truth codes")
    signal_codes = args.signal_codes or (1,)
    inputs = list(args.inputs or DEFAULT_INPUTS)

    # the branches to read: each must exist (a MissingBranchError names the nearest ones)
    if model_name in ("deepsets", "jettagger"):
        branches = [*inputs, *([index] if model_name == "jettagger" else [])]
    elif image == "event":
        branches = list(im.EVENT_IMAGE_COLUMNS)
    else:
        branches = [*im.JET_IMAGE_COLUMNS, index]
    label_branch = jet_label or args.label_branch or "signal_mass"
    events = read_tree(args.files, [*branches, label_branch], tree=args.tree, optional=["weight", f"n{jets}"],
                       library="ak")
    n = len(events)
    if n == 0:
        raise UsageError(f"no events in {', '.join(args.files)}")
    weight = (ak.to_numpy(events["weight"]).astype(np.float64) if "weight" in events.fields else np.ones(n)) \
        * args.luminosity
    if jet_label:
        labels = _jet_labels(events[jet_label], signal_codes, args.background_codes)
    elif args.label_branch:
        labels = ak.to_numpy(events[args.label_branch]).astype(np.int64)
    else:
        labels = (ak.to_numpy(events["signal_mass"]) > 0).astype(np.int64)

    image_spec: dict[str, Any] = {}
    if model_name in ("cnn", "lcnn"):
        if image == "event":
            image_spec = {"image": "event", "pixels": list(args.pixels or (32, 32)), "extent": args.extent or 5.0,
                          "normalise": args.normalise or "none", "channels": list(im.EVENT_CHANNELS)}
            X = im.event_images(events, pixels=tuple(image_spec["pixels"]), extent=image_spec["extent"],
                                normalise=image_spec["normalise"])
        else:
            jet = int(image[3:])
            image_spec = {"image": image, "jet": jet, "index": index, "pixels": list(args.pixels or (33, 33)),
                          "extent": args.extent or 1.0, "normalise": args.normalise or "none",
                          "channels": list(args.channels or ("charged", "neutral"))}
            X = im.jet_images(events, jet, index=index, pixels=tuple(image_spec["pixels"]),
                              extent=image_spec["extent"], channels=image_spec["channels"],
                              normalise=image_spec["normalise"])
            if jet_label:  # the label of jet N; events without it, or with an ignored code, take no part
                labels = ak.to_numpy(ak.fill_none(ak.pad_none(labels, jet + 1, axis=1), -1)[:, jet]).astype(np.int64)
        keep = np.flatnonzero(labels >= 0)
        X, labels, weight = X[keep], labels[keep], weight[keep]
        n = len(keep)
        if n == 0:
            raise UsageError(f"no event has a labelled jet {image[3:]} ({jet_label} in {list(signal_codes)} or "
                             f"{'the background codes' if args.background_codes else 'any other code'})")
    else:
        X = events

    params: dict[str, Any] = {"class_weight": "balanced", **params}
    params.setdefault("seed", args.seed)
    params.setdefault("progress", not args.no_progress)
    if model_name in ("deepsets", "jettagger"):
        params.setdefault("inputs", tuple(inputs))
        if args.max_objects:
            params.setdefault("max_objects", args.max_objects)
    if model_name == "jettagger":
        params.setdefault("index", index)
        params.setdefault("jets", jets)
        if args.max_jets:
            params.setdefault("max_jets", args.max_jets)
    if model_name in ("cnn", "lcnn"):
        params.setdefault("channels", tuple(image_spec["channels"]))
    model = getattr(models, LOWLEVEL_MODELS[model_name])(**params)

    rng = np.random.default_rng(args.seed)
    order = rng.permutation(n)
    n_test = int(round(args.test_size * n))
    if n_test < 1 or n_test >= n:
        raise UsageError(f"--test-size {args.test_size:g} of {n} events leaves no training or no test event")
    test, train = np.sort(order[:n_test]), np.sort(order[n_test:])
    print(f"{model_name}: {n} events from {len(args.files)} file(s); {len(train)} train, {len(test)} test")
    start = time.perf_counter()
    model.fit(X[train], labels[train], sample_weight=weight[train])
    seconds = time.perf_counter() - start
    if model_name == "jettagger":
        score = ak.to_numpy(ak.flatten(model.predict_jets(X[test]))).astype(np.float64)
        y_test = ak.to_numpy(ak.flatten(labels[test]))
        w_test = np.repeat(weight[test], ak.to_numpy(ak.num(labels[test], axis=1)))
        sel = y_test >= 0
        score, y_test, w_test = score[sel], y_test[sel], w_test[sel]
    else:
        score = model.predict_proba(X[test])[:, 1].astype(np.float64)
        y_test, w_test = labels[test], weight[test]

    outputs[f"model{EXTENSION}"].parent.mkdir(parents=True, exist_ok=True)
    model.save(outputs[f"model{EXTENSION}"], overwrite=args.overwrite)
    model.to_config().save(outputs["config.json"], overwrite=args.overwrite)
    onnx_path = model.to_onnx(outputs["model.onnx"], overwrite=args.overwrite)
    summary: dict[str, Any] = {"model": type(model).__name__, "features": list(model.feature_names_in_),
                               "n_train": len(train), "n_test": len(test), "fit_seconds": seconds,
                               "onnx": str(onnx_path), "labels": {
                                   "per": "jet" if jet_label else "event", "branch": label_branch,
                                   **({"signal_codes": list(signal_codes),
                                       "background_codes": list(args.background_codes) if args.background_codes
                                       else "every other code"} if jet_label else {})}}  # fmt: skip
    if image_spec:
        summary["images"] = image_spec  # how to make the model's input images again
    if len(np.unique(y_test)) == 2:
        summary["test"] = metrics.classification_report(y_test, score, w_test)
    with atomic_output(outputs["summary.json"], inputs=args.files, overwrite=True) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    what = "jets of " if model_name == "jettagger" else ""
    print(f"hepsift train: {type(model).__name__} fitted on the {what}{len(train)} events in {seconds:.1f} s "
          f"-> {onnx_path}")
    if "test" in summary:
        print("  test: " + ", ".join(f"{k} {v:.4f}" for k, v in summary["test"].items() if isinstance(v, float)))
    return 0
