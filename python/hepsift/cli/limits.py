"""``hepsift limits``: CLs upper limits from a ROOT tree of scores or from a pyhf workspace."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from hepsift.cli import _args
from hepsift.errors import DataError, HepsiftError

__all__ = ["add_arguments", "run"]

EPILOG = """examples:
  hepsift limits scores.root --tree events --score score --weight weight \\
      --signal 'label == 1' --background ttbar='label == 0 && proc == 1' \\
      --background wjets='label == 0 && proc == 2' --norm ttbar=0.05 \\
      --bins 20 --range 0 1 --luminosity 1000 --rebin 0.2 --output-dir limits/
  hepsift limits --workspace limits/workspace.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the options of ``hepsift limits`` on ``parser``."""
    parser.description = (
        "Expected (and observed, with --data) 95% CL CLs upper limit on the signal strength from score "
        "histograms (HistFactory model with pyhf, asymptotic q~mu); writes the pyhf JSON workspace. Every "
        "limit is verified (converged fits, CLs = 1 - CL at the limit) before it is printed; bins with too "
        "large background MC statistical uncertainties are refused (--max-mc-stat) or merged (--rebin)."
    )
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("file", nargs="?", help="ROOT file with a tree of scores and weights")
    parser.add_argument("--workspace", help="compute the limit of this pyhf JSON workspace instead")
    parser.add_argument("--tree", default="events", help="tree name (default: events)")
    parser.add_argument("--score", default="score", help="score branch or expression (default: score)")
    parser.add_argument("--weight", default=None, help="weight branch or expression (per event at 1/pb)")
    parser.add_argument("--signal", help="selection (C++ expression) of signal events")
    parser.add_argument(
        "--background",
        action="append",
        default=[],
        metavar="NAME=SELECTION",
        help="a background sample; repeat for several",
    )
    parser.add_argument("--data", help="selection of observed data events (default: expected limit only)")
    parser.add_argument(
        "--norm",
        action="append",
        default=[],
        metavar="NAME=REL",
        help="relative normalisation uncertainty of a sample (e.g. ttbar=0.05)",
    )
    parser.add_argument("--no-mc-stat", action="store_true", help="omit MC statistical uncertainties")
    parser.add_argument(
        "--max-mc-stat",
        type=_args.positive_float,
        default=0.5,
        metavar="REL",
        help="refuse bins whose background MC statistical relative uncertainty exceeds REL (default: 0.5)",
    )
    parser.add_argument(
        "--rebin",
        type=_args.positive_float,
        default=None,
        metavar="REL",
        help="first merge adjacent bins until each background MC statistical uncertainty is at most REL",
    )
    parser.add_argument("--bins", type=_args.int_at_least(1), default=20, help="number of score bins (default: 20)")
    parser.add_argument(
        "--range", type=_args.finite_float, nargs=2, default=(0.0, 1.0), metavar=("LO", "HI"),
        help="score range, LO < HI (default: 0 1)",
    )
    parser.add_argument("--luminosity", type=_args.positive_float, default=1.0,
                        help="integrated luminosity in 1/pb (default: 1)")
    parser.add_argument("--sigma-theory", type=_args.positive_float, default=None,
                        help="theory cross-section (pb) of the signal")
    parser.add_argument("--cl", type=_args.finite_float, default=0.95, help="confidence level (default: 0.95)")
    parser.add_argument("--output-dir", default="hepsift_limits", help="where limit.json and workspace.json go")
    parser.add_argument("--overwrite", action="store_true", help="replace limit.json and workspace.json if they exist")
    parser.add_argument("--seed", type=int, default=0, help="unused (asymptotic limits are deterministic)")


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise _args.UsageError(f"{what} must look like NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _histograms(args: Any) -> tuple[Any, dict[str, Any], Any]:
    from hepsift.cli import _signals
    from hepsift.rdf import column_names
    from hepsift.rdf._define import _cling_diagnostics, expression_problem
    from hepsift.stats.roostats import import_root

    if not args.signal or not args.background:
        raise _args.UsageError("give --signal and at least one --background selection (or --workspace)")
    _args.check_root_input(args.file, args.tree)
    ROOT = import_root()
    _signals.arm_native("hepsift limits")
    df = ROOT.RDataFrame(args.tree, args.file)
    names = column_names(df)

    def define(node: Any, column: str, expression: str, what: str) -> Any:
        with _cling_diagnostics() as diagnostics:
            try:
                return node.Define(column, expression)
            except Exception as exc:  # cling could not compile the expression
                failure = exc
        raise _args.UsageError(f"{what} '{expression}' is neither a branch of {args.file}:{args.tree} nor a valid "
                                  f"expression{expression_problem(expression, names, diagnostics.text)}") from failure

    df = define(df, "hepsift_score_", args.score, "--score")
    w = f"({args.weight}) * {args.luminosity!r}" if args.weight else repr(float(args.luminosity))
    df = define(df, "hepsift_weight_", w, "--weight")
    lo, hi = args.range
    model = ("h", "", int(args.bins), float(lo), float(hi))

    def histo(name: str, sel: str, what: str, weighted: bool = True) -> Any:
        failure: BaseException | None = None
        with _cling_diagnostics() as diagnostics:
            try:
                node = df.Filter(sel, name)
            except Exception as exc:  # cling could not compile the selection
                failure = exc
        if failure is not None:
            raise _args.UsageError(f"{what} '{sel}' is not a valid selection on {args.file}:{args.tree}"
                                      f"{expression_problem(sel, names, diagnostics.text)}") from failure
        return node.Histo1D(
            ROOT.RDF.TH1DModel(f"hepsift_{name}", "", *model[2:]),
            "hepsift_score_",
            *(["hepsift_weight_"] if weighted else []),
        )

    sig = histo("signal", args.signal, "--signal")
    bkgs = {name: histo(name, sel, f"--background {name}")
            for name, sel in _pairs(args.background, "--background").items()}
    data = histo("data", args.data, "--data", weighted=False) if args.data else None
    return sig.GetValue(), {k: v.GetValue() for k, v in bkgs.items()}, None if data is None else data.GetValue()


def _check_workspace(path: str) -> None:
    """Refuse a --workspace that is not a JSON object, naming the file."""
    expected = "a pyhf workspace (a JSON object with 'channels', 'measurements', 'observations', 'version')"
    if not os.path.isfile(path):
        raise DataError(f"cannot read --workspace '{path}': no such file")
    try:
        with open(path, encoding="utf-8") as fh:
            spec = json.load(fh)
    except UnicodeDecodeError:
        raise DataError(f"cannot read --workspace '{path}': not a text file (a ROOT file?); expected {expected}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"cannot read --workspace '{path}': not valid JSON ({exc}); expected {expected}") from None
    if not isinstance(spec, dict):
        raise DataError(f"--workspace '{path}' holds a JSON {type(spec).__name__}; expected {expected}")
    missing = [k for k in ("channels", "measurements", "observations") if k not in spec]
    if missing:
        raise DataError(f"--workspace '{path}' has no {', '.join(missing)}; expected {expected}")


def run(args: argparse.Namespace) -> int:
    """Run ``hepsift limits``; returns the exit status."""
    from hepsift._atomic import atomic_output, check_output
    from hepsift.stats.limits import upper_limit, upper_limit_from_workspace

    _args.check_range("--range", *args.range)
    if not 0 < args.cl < 1:
        raise _args.UsageError(f"argument --cl: must be between 0 and 1, got {args.cl:g}")
    if bool(args.workspace) == bool(args.file):
        raise _args.UsageError("give either a ROOT file or --workspace (see hepsift limits --help)")
    inputs = [args.workspace or args.file]
    limit_json = os.path.join(args.output_dir, "limit.json")
    workspace_json = os.path.join(args.output_dir, "workspace.json")
    if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
        raise _args.UsageError(f"--output-dir '{args.output_dir}' is a file, not a folder")
    for out in ([limit_json] if args.workspace else [limit_json, workspace_json]):
        if os.path.isdir(args.output_dir):
            check_output(out, inputs=inputs, overwrite=args.overwrite, what="output")
    try:
        if args.workspace:
            _check_workspace(args.workspace)
            res = upper_limit_from_workspace(
                args.workspace, cl=args.cl, sigma_theory=args.sigma_theory, max_mc_stat=args.max_mc_stat
            )
        else:
            sig, bkgs, data = _histograms(args)
            norms = {k: float(v) for k, v in _pairs(args.norm, "--norm").items()}
            with atomic_output(workspace_json, inputs=inputs, overwrite=args.overwrite, make_parents=True) as tmp:
                res = upper_limit(
                    sig,
                    bkgs,
                    data=data,
                    cl=args.cl,
                    norm_uncertainties=norms,
                    mc_stat=not args.no_mc_stat,
                    max_mc_stat=args.max_mc_stat,
                    rebin=args.rebin,
                    sigma_theory=args.sigma_theory,
                    workspace_path=tmp,
                    overwrite=True,
                )
            res.workspace_path = workspace_json
    except ValueError as exc:
        if isinstance(exc, HepsiftError):
            raise
        raise DataError(str(exc)) from exc
    print(res)
    if res.groups is not None:
        print(f"bins merged to meet --rebin {args.rebin:g}: {res.groups}")
    if res.diagnostics is not None:
        print("background per bin:")
        print("  " + res.diagnostics.describe().replace("\n", "\n  "))
    print("checks (CLs at each limit and 1% either side, from converged fits; pyhf hypotest agrees):")
    for chk in res.checks:
        print(f"  {chk}")
    if res.sigma_theory is not None:
        print(
            f"cross-section limit: expected {res.xsec_expected:.4g} pb"
            + ("" if res.xsec_observed is None else f", observed {res.xsec_observed:.4g} pb")
        )
    with atomic_output(limit_json, inputs=inputs, overwrite=args.overwrite, make_parents=True) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(res.to_dict(), fh, indent=2)
    if res.workspace_path:
        print(f"pyhf workspace: {res.workspace_path}")
    return 0
