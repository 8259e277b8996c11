"""``hepsift anomaly``: train an anomaly detector on background ROOT or DarkMachines CSV files and export it to ONNX.

Example::

    hepsift anomaly ttbar.root wjets.root --detector hbos --feature-set sanitised \\
        -o hbos.onnx --save hbos.hsm --seed 1
    hepsift anomaly ttbar.root wjets.root --detector hbos -o hbos.onnx \\
        --limit-table limits.json --signals zprime.root --luminosity 140000
    hepsift anomaly background_chan1.csv --detector hbos --objects Jet=2 -o hbos.onnx
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from hepsift import errors
from hepsift.cli._args import (UsageError, add_darkmachines_arguments, darkmachines_dataset, input_format,
                               int_at_least, positive_float)

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``hepsift anomaly``."""
    from hepsift.anomaly import DETECTORS

    p.epilog = ("examples:\n  hepsift anomaly bkg.root --detector hbos --feature-set sanitised -o hbos.onnx --seed 1\n"
                "  hepsift anomaly bkg.csv --detector hbos --objects Jet=2 -o hbos.onnx")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("files", nargs="+", help="background ROOT files, or DarkMachines CSV files")
    p.add_argument("--tree", default=None, help="tree name of ROOT input (default: Events)")
    p.add_argument("--detector", choices=sorted(DETECTORS), default="hbos", help="detector (default: hbos)")
    p.add_argument("--features", default=None,
                   help="comma-separated feature branches, or DarkMachines flat fields (default: every flat hepsift "
                        "feature in the files)")
    p.add_argument("--feature-set", choices=["full", "sanitised"], default="full",
                   help="'sanitised' drops features holding -999 for absent objects")
    p.add_argument("--config", default=None, help="JSON file with the detector's configuration")
    p.add_argument("--max-events", type=int_at_least(1), default=None, help="use at most this many events")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("-o", "--output", required=True, help="ONNX file to write")
    p.add_argument("--save", default=None, help="also save the native detector to this file (hepsift.load reads it; e.g. hbos.hsm)")
    p.add_argument("--overwrite", action="store_true", help="replace the output files if they exist")
    p.add_argument("--progress", action="store_true", help="show progress bars")
    add_darkmachines_arguments(p, "class label of each process ID: the detector trains on the events labelled 0 "
                                  "(default: on every event), e.g. ttbar=0,wjets=0,glgl1400_neutralino1100=1 "
                                  "or a JSON file; detectors are trained unweighted")
    g = p.add_argument_group(
        "limit table", "expected CLs limits on mu of the detector against a supervised MLP and an H_T cut, per "
        "signal (hepsift ntuples: an 'event' branch splits training, even events, from evaluation, odd events; "
        "'signal_mass' > 0 marks signal)")
    g.add_argument("--limit-table", default=None, metavar="JSON",
                   help="write the table to this JSON file (and a .csv beside it)")
    g.add_argument("--signals", nargs="+", default=[], metavar="FILE", help="signal ROOT files, one signal per file")
    g.add_argument("--luminosity", type=positive_float, default=140_000.0, help="pb^-1 (default 140000)")
    g.add_argument("--eps-b", type=positive_float, nargs="+", default=[1e-2, 1e-3],
                   help="background efficiencies of the cuts (default 1e-2 1e-3)")
    g.add_argument("--no-supervised", action="store_true", help="leave out the supervised MLP baseline")


def _read(files: Sequence[str], tree: str, features: list[str] | None, max_events: int | None,
          selection: str | None = None) -> tuple[np.ndarray, list[str]]:
    from hepsift.io.features import FEATURE_NAMES
    from hepsift.io.root import read_tree

    if features is None:  # every flat hepsift feature of the first file
        names = list(read_tree(files[0], [], tree=tree, optional=FEATURE_NAMES, entry_stop=0))
        if not names:
            raise errors.MissingBranchError(f"tree '{tree}' of '{files[0]}' holds none of hepsift's flat features; "
                                            "pass --features")
    else:
        names = features
    arrays = read_tree(files, names, tree=tree, selection=selection)
    X = np.stack([np.asarray(arrays[n], dtype=np.float32) for n in names], axis=1)
    if max_events is not None:
        X = X[: int(max_events)]
    return X, list(names)


def run(args: argparse.Namespace) -> int:
    """Train, calibrate and export; print the thresholds. Returns the exit status."""
    from hepsift._atomic import check_output
    from hepsift.anomaly import DETECTORS

    if bool(args.limit_table) != bool(args.signals):
        raise UsageError("--limit-table and --signals go together: the table needs signal files and a file to write")
    if any(not 0.0 < e < 1.0 for e in args.eps_b):
        raise UsageError(f"--eps-b values must be in (0, 1), got {args.eps_b}")
    features = [s.strip() for s in args.features.split(",") if s.strip()] if args.features else None
    if input_format(args.files, args) == "darkmachines":
        ds = darkmachines_dataset(args.files, args, features or "full", background=True, max_events=args.max_events)
        X, names = ds.X, ds.feature_names
    else:
        args.tree = args.tree or "Events"
        # with a limit table the detector learns the even events and the table uses the odd ones
        X, names = _read(args.files, args.tree, features, args.max_events,
                         "event % 2 == 0" if args.limit_table else None)
    table_csv = str(Path(args.limit_table).with_suffix(".csv")) if args.limit_table else None
    outputs = [args.output, *([args.save] if args.save else []), *([args.limit_table, table_csv] if table_csv else [])]
    if len({os.path.abspath(o) for o in outputs}) != len(outputs):
        raise errors.OutputError(f"two outputs are the same file: {', '.join(outputs)}")
    for out in outputs:  # refused now, not after the training
        check_output(out, inputs=[*args.files, *args.signals, *([args.config] if args.config else [])],
                     overwrite=args.overwrite)
    cls = DETECTORS[args.detector]
    det = cls.from_config(args.config) if args.config else cls()
    det.set_params(seed=args.seed, feature_set=args.feature_set)
    det.fit(X, feature_names=names, progress=args.progress)
    path = det.to_onnx(args.output, overwrite=args.overwrite)
    if args.save:
        det.save(args.save, overwrite=args.overwrite)
    print(f"{type(det).__name__} trained on {len(X)} events, {det.n_features_in_} features "
          f"({', '.join(det.feature_names_in_)}); wrote {path}")
    for key, cut in det.threshold_.items():
        print(f"  background efficiency {key}: score > {cut:.6g}")
    if args.limit_table:
        from hepsift.anomaly import limit_table_from_root

        samples = {Path(f).stem: f for f in [*args.files, *args.signals]}
        if len(samples) != len(args.files) + len(args.signals):
            raise UsageError("two input files have the same name; the table names samples by file name")
        table = limit_table_from_root({args.detector: det}, samples, luminosity=args.luminosity, features=names,
                                      tree=args.tree, eps_b=tuple(args.eps_b), seed=args.seed,
                                      supervised=False if args.no_supervised else None)
        print(table)
        table.to_json(args.limit_table, overwrite=args.overwrite)
        table.to_csv(table_csv, overwrite=args.overwrite)
        print(f"wrote {args.limit_table} and {table_csv}")
    return 0

