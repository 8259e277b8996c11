"""``hepsift cwola``: weakly supervised bump hunt (CWoLa hunting) on ROOT or DarkMachines CSV files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hepsift.cli._args import (UsageError, add_darkmachines_arguments, check_range, darkmachines_dataset,
                               finite_float, input_format, int_at_least, positive_float)

__all__ = ["add_arguments", "run"]

EPILOG = """example:
  hepsift cwola data.root --tree Events --mass mjj --features mj1 mj2 tau21_1 tau21_2 \\
      --signal-region 3300 3700 --sidebands 2700 3300 3700 4500 \\
      --efficiencies 1 0.1 0.01 0.001 --fit dijet --seed 1 -o cwola.json
  hepsift cwola events.csv --mass m_ll --features n_jets ht --objects Jet=2 \
      --signal-region 900 1100 --sidebands 700 900 1100 1500 --seed 1
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``hepsift cwola`` on ``parser``."""
    from hepsift.weak import FITS

    parser.description = (
        "CWoLa hunting: train signal region against sidebands (out of fold), cut at fixed sideband "
        "efficiencies, fit the sideband mass spectrum and report the local significance in the signal region."
    )
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("inputs", nargs="+", help="ROOT files, or DarkMachines CSV files (.csv, .csv.gz)")
    parser.add_argument("-t", "--tree", default=None, help="tree name (default: Events or the only tree)")
    parser.add_argument("--mass", required=True, help="branch of the resonance mass (e.g. mjj; DarkMachines: a flat "
                        "field such as m_ll); never a feature")
    parser.add_argument("--features", nargs="+", required=True, help="feature branches of the classifier "
                        "(DarkMachines: flat fields; --objects adds the leading objects)")
    parser.add_argument("--weight", default=None, help="event weight branch (default: unit weights; DarkMachines: "
                        "'weight', the event-weight column)")
    parser.add_argument("--selection", default=None, help="NumPy expression over branches selecting events (ROOT only)")
    parser.add_argument("--signal-region", nargs=2, type=finite_float, required=True, metavar=("LO", "HI"))
    parser.add_argument("--sidebands", nargs=4, type=finite_float, required=True, metavar=("LO1", "HI1", "LO2", "HI2"),
                        help="lower and upper sideband, LO1 < HI1 <= LO < HI <= LO2 < HI2")
    parser.add_argument("--efficiencies", nargs="+", type=positive_float, default=[1.0, 0.1, 0.01, 0.001],
                        help="background (sideband) efficiencies of the score cut; 1 = no cut (default 1 0.1 0.01 0.001)")
    parser.add_argument("--fit", choices=FITS, default="dijet", help="background shape (default dijet, 4 parameters)")
    parser.add_argument("--bins", type=int_at_least(2), default=30, help="mass bins from LO1 to HI2 (default 30)")
    parser.add_argument("--sqrt-s", type=positive_float, default=13000.0, help="centre-of-mass energy for the dijet function")
    parser.add_argument("--order", type=int_at_least(1), default=3, help="degree of the logpoly fit (default 3)")
    parser.add_argument("--max-chi2-ndf", type=positive_float, default=3.0, help="refuse fits above this chi2/ndf (default 3)")
    parser.add_argument("--folds", type=int_at_least(2), default=5, help="cross-validation folds (default 5)")
    parser.add_argument("--threads", type=int_at_least(1), default=1, help="threads of the BDT (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("-o", "--output", default=None, help="JSON file for the results")
    parser.add_argument("--overwrite", action="store_true", help="replace the JSON file if it exists")
    add_darkmachines_arguments(parser, "optional class label of each process ID: only the events labelled 0 enter "
                                       "the hunt (e.g. ttbar=0,wjets=0,signal=1 leaves the signal out); default: every event")


def run(args: argparse.Namespace) -> int:
    """Run ``hepsift cwola``; returns the exit status."""
    from hepsift._atomic import atomic_output, check_output
    from hepsift._version import __version__
    from hepsift.data import Dataset
    from hepsift.models import BDTClassifier
    from hepsift.weak import cwola_hunt

    lo, hi = args.signal_region
    lo1, hi1, lo2, hi2 = args.sidebands
    check_range("--signal-region", lo, hi)
    if not lo1 < hi1 <= lo < hi <= lo2 < hi2:
        raise UsageError(f"need LO1 < HI1 <= LO < HI <= LO2 < HI2; got sidebands {lo1:g} {hi1:g} {lo2:g} {hi2:g} "
                         f"and signal region {lo:g} {hi:g}")
    if any(e > 1 for e in args.efficiencies):
        raise UsageError(f"argument --efficiencies: each must be in (0, 1], got {args.efficiencies}")
    if args.mass in args.features:
        raise UsageError(f"--features holds the mass {args.mass!r}: a classifier of signal region against "
                         "sidebands would learn the mass itself and sculpt the spectrum; remove it")
    if len(set(args.inputs)) != len(args.inputs):
        raise UsageError("an input file is given twice")
    if args.output:
        check_output(args.output, inputs=args.inputs, overwrite=args.overwrite, what="-o/--output")
    if input_format(args.inputs, args) == "darkmachines":
        if args.selection:
            raise UsageError("--selection applies to ROOT input only; the inputs are DarkMachines CSV files")
        if args.weight not in (None, "weight"):
            raise UsageError(f"--weight {args.weight!r}: DarkMachines CSV files have one event-weight column, "
                             "--weight weight")
        ds = darkmachines_dataset(args.inputs, args, [*args.features, args.mass], background=True)
    else:
        files = {str(Path(p)): p for p in args.inputs}
        ds = Dataset.from_root(files, [*args.features, args.mass], tree=args.tree, labels={k: 0 for k in files},
                               weight_branch=args.weight, process_branch=None, mass_branch=None,
                               selection=args.selection)
    column = ds.feature_names.index(args.mass)
    mass = ds.X[:, column].astype(np.float64)
    X = np.delete(ds.X, column, axis=1)
    features = [f for j, f in enumerate(ds.feature_names) if j != column]
    weights = ds.weight if args.weight else None
    sidebands = ((lo1, hi1), (lo2, hi2))
    hunt = cwola_hunt(mass, X, signal_region=(lo, hi), sidebands=sidebands, efficiencies=args.efficiencies,
                      estimator=BDTClassifier(seed=args.seed, threads=args.threads), folds=args.folds,
                      seed=args.seed, sample_weight=weights, fit=args.fit, bins=args.bins, sqrt_s=args.sqrt_s,
                      order=args.order, max_chi2_ndf=args.max_chi2_ndf)
    print(f"hepsift cwola: {len(ds)} events from {len(args.inputs)} file(s); signal region [{lo:g}, {hi:g}), "
          f"sidebands [{lo1:g}, {hi1:g}) and [{lo2:g}, {hi2:g}); {args.fit} fit; BDT, {args.folds} folds, seed {args.seed}")
    print(hunt.table())
    if args.output:
        report = {
            "hepsift_version": __version__,
            "inputs": [str(p) for p in args.inputs],
            "tree": args.tree, "mass": args.mass, "features": features, "weight": args.weight,
            "selection": args.selection, "signal_region": [lo, hi], "sidebands": [[lo1, hi1], [lo2, hi2]],
            "fit": args.fit, "bins": args.bins, "sqrt_s": args.sqrt_s, "order": args.order,
            "estimator": "BDTClassifier", "folds": args.folds, "seed": args.seed, "n_events": len(ds),
            **hunt.to_dict(),
        }
        with atomic_output(args.output, inputs=args.inputs, overwrite=args.overwrite, what="-o/--output") as tmp:
            tmp.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
        print(f"hepsift cwola: results -> {args.output}")
    return 0
