"""``hepsift tune``: hyper-parameter search on ROOT ntuples or DarkMachines CSV files.

Example::

    hepsift tune bkg.root sig.root --model bdt --method genetic \\
        --pool n_estimators=[50,100,200] --pool max_depth=[2,3,4] --objective asimov --luminosity 140000 \\
        --population 8 --parents 3 --generations 4 -o tune/ --seed 1

    hepsift tune bkg.csv sig.csv --process-labels ttbar=0,wjets=0,glgl1400_neutralino1100=1 \
        --features met_pt ht n_jets --objects Jet=2 --model bdt --pool max_depth=[2,3,4] -o tune/

Every trial goes to ``tune/trials.csv`` and ``tune/trials.json`` as it ends.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hepsift.cli._args import (UsageError, add_darkmachines_arguments, darkmachines_dataset, finite_float,
                               input_format, int_at_least)

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``hepsift tune``."""
    p.description = (p.description or "") + ("\n\nexample: hepsift tune bkg.root sig.root --model bdt "
                                             "--pool max_depth=[2,3,4] --objective auc -o tune/")
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("files", nargs="+", help="ROOT files (signal: signal_mass > 0), or DarkMachines CSV files "
                   "(labels from --process-labels)")
    p.add_argument("--features", nargs="+", default=["full"],
                   help="'full', 'sanitised' or branch names (DarkMachines: names of its flat fields)")
    p.add_argument("--model", choices=["mlp", "bdt", "gbdt", "rf"], default="bdt")
    p.add_argument("--method", choices=["genetic", "bayesian"], default="genetic")
    p.add_argument("--pool", action="append", default=[], metavar="KEY=JSON",
                   help="genetic: KEY=[v1,v2,...]; bayesian: KEY=[choices], KEY=[low,high] or KEY=[\"log\",low,high]")
    p.add_argument("--objective", choices=["auc", "accuracy", "asimov", "ams"], default="auc")
    p.add_argument("--rel-sigma-b", type=float, default=0.0, help="relative background uncertainty (asimov)")
    p.add_argument("--luminosity", type=float, default=1.0,
                   help="pb^-1 applied to the weight branch or the DarkMachines event-weight column")
    p.add_argument("--population", type=int_at_least(1), default=10)
    p.add_argument("--parents", type=int_at_least(1), default=4)
    p.add_argument("--generations", type=int_at_least(1), default=5)
    p.add_argument("--mutation", type=finite_float, default=0.1, help="mutation rate in [0, 1]")
    p.add_argument("--trials", type=int_at_least(1), default=20, help="bayesian: number of trials")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace trials.csv and trials.json if they exist")
    p.add_argument("--no-progress", action="store_true")
    add_darkmachines_arguments(p, "class label of each process ID (required for DarkMachines input): "
                                  "ttbar=0,wjets=0,glgl1400_neutralino1100=1 or a JSON file {\"ttbar\": 0, ...}")


def run(args: argparse.Namespace) -> int:
    """Run ``hepsift tune``; returns the exit status."""
    from hepsift.data import Dataset
    from hepsift.models import make
    from hepsift.tune import BayesianSearch, GeneticSearch

    from hepsift._atomic import check_output

    if not args.pool:
        raise UsageError("give at least one --pool KEY=[values]")
    if not 0 <= args.mutation <= 1:
        raise UsageError(f"argument --mutation: must be in [0, 1], got {args.mutation:g}")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UsageError(f"-o/--output '{out}' is a file; give a folder")
    if out.is_dir():
        for name in ("trials.csv", "trials.json"):  # refused now, not after the search
            check_output(out / name, inputs=args.files, overwrite=args.overwrite)
    pools: dict[str, Any] = {}
    for item in args.pool:
        key, sep, val = item.partition("=")
        try:
            values = json.loads(val)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--pool {item!r}: the value must be a JSON list ({exc})") from exc
        if not sep or not isinstance(values, list) or not values:
            raise UsageError(f"--pool expects KEY=[v1,v2,...]; got {item!r}")
        pools[key] = [tuple(v) if isinstance(v, list) else v for v in values]
    features: Any = args.features[0] if len(args.features) == 1 and args.features[0] in ("full", "sanitised") \
        else list(args.features)
    if input_format(args.files, args) == "darkmachines":
        ds = darkmachines_dataset(args.files, args, features)
    else:
        ds = Dataset.from_root(args.files, features, luminosity=args.luminosity)
    print(ds.summary())
    train, val = ds.split(0.3, seed=args.seed)
    kind = {"gbdt": "bdt"}.get(args.model, args.model)
    extra = {"boosting": "gradient"} if args.model == "gbdt" else {}
    est = make(kind, seed=args.seed, **extra)
    options = {"rel_sigma_b": args.rel_sigma_b} if args.objective == "asimov" else {}
    out.mkdir(parents=True, exist_ok=True)
    common = dict(objective=args.objective, objective_options=options, seed=args.seed, record=out / "trials.csv",
                  progress=not args.no_progress)
    if args.method == "genetic":
        search: Any = GeneticSearch(est, pools, population=args.population, n_parents=args.parents,
                                    generations=args.generations, mutation_rate=args.mutation, **common)
    else:
        space: dict[str, Any] = {}
        for k, v in pools.items():
            numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
            if len(v) == 3 and v[0] == "log":
                space[k] = tuple(v)
            elif len(v) == 2 and numeric:
                space[k] = tuple(v)
            else:
                space[k] = list(v)
        search = BayesianSearch(est, space, n_trials=args.trials, **common)
    weight = train.balanced_weights() if args.objective in ("auc", "accuracy") else train.weight
    res = search.run(train.X, train.y, val.X, val.y, weight, val.weight)
    print(f"hepsift tune: best {args.objective} = {res.best_objective:.4f} with {res.best_params}")
    for g in res.generation_summary():
        print(f"  generation {g['generation']}: best {g['best']:.4f}, mean {g['mean']:.4f}")
    return 0
