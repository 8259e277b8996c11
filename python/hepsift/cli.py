"""The ``hepsift`` command: one group, subcommands registered in :data:`COMMANDS`.

Examples::

    hepsift demo                                   # the whole chain on the embedded data
    hepsift info model.onnx                        # inputs, outputs, metadata of a model
    hepsift apply model.onnx events.root -o scored.root --threads 2
    hepsift config --cflags --ldflags              # flags for C++ programs and ROOT macros
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hepsift import _paths, errors
from hepsift._version import __version__

__all__ = ["main", "COMMANDS"]


# ---- config ---------------------------------------------------------------------------
def _config_args(p: argparse.ArgumentParser) -> None:
    for flag, text in [
        ("--cflags", "compiler flags (C++17, hepsift's and ROOT's include folders)"),
        ("--ldflags", "linker flags for libhepsift and ROOT's RDataFrame libraries (with rpaths)"),
        ("--libdir", "folder of libhepsift.so"),
        ("--includedir", "folder holding hepsift/*.hxx"),
        ("--cmake-prefix", "prefix for CMAKE_PREFIX_PATH (find_package(hepsift))"),
        ("--cmake-dir", "folder of hepsiftConfig.cmake (-Dhepsift_DIR=)"),
        ("--onnxruntime-lib", "the ONNX Runtime library hepsift loads"),
        ("--env", "shell lines that let ROOT macros and programs find hepsift"),
        ("--version", "hepsift version"),
    ]:
        p.add_argument(flag, action="store_true", help=text)


def _config_run(args: argparse.Namespace) -> int:
    lib = _paths.library_path()
    inc = _paths.include_dir()
    out: list[str] = []
    if args.version:
        out.append(__version__)
    root = _paths.root_flags()
    if args.cflags:
        out.append(" ".join([f"-std=c++17 -I{inc}", *(root[0] if root else [])]))
    if args.ldflags:
        out.append(" ".join([f"-L{lib.parent} -lhepsift -Wl,-rpath,{lib.parent}", *(root[1] if root else [])]))
    if args.libdir:
        out.append(str(lib.parent))
    if args.includedir:
        out.append(str(inc))
    if args.cmake_prefix:
        out.append(str(lib.parent.parent))
    if args.cmake_dir:
        out.append(str(_paths.cmake_dir()))
    if args.onnxruntime_lib:
        out.append(str(_paths.onnxruntime_library()))
    if args.env:
        out += [
            f"export HEPSIFT_ONNXRUNTIME_LIB={_paths.onnxruntime_library()}",
            f"export LD_LIBRARY_PATH={lib.parent}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}",
            f"export ROOT_INCLUDE_PATH={inc}${{ROOT_INCLUDE_PATH:+:$ROOT_INCLUDE_PATH}}",
            f"export CMAKE_PREFIX_PATH={lib.parent.parent}${{CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}}",
        ]
    if not out:
        print("nothing asked: pass e.g. --cflags --ldflags (see hepsift config --help)", file=sys.stderr)
        return 2
    print(" ".join(out) if not args.env else "\n".join(out))
    return 0


# ---- info -----------------------------------------------------------------------------
def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX file")
    p.add_argument("--json", action="store_true", help="print JSON")


def _info_run(args: argparse.Namespace) -> int:
    from hepsift.rdf import Model

    m = Model(args.model)
    info = {
        "path": m.path,
        "kind": m.kind or None,
        "hepsift_version": m.version or None,
        "inputs": m.input_names,
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


# ---- apply ----------------------------------------------------------------------------
def _apply_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX file")
    p.add_argument("input", nargs="+", help="ROOT file(s)")
    p.add_argument("-t", "--tree", default="Events", help="tree name (default Events)")
    p.add_argument("-o", "--output", required=True, help="output ROOT file")
    p.add_argument("--name", default="score", help="score column (default score)")
    p.add_argument("--inputs", nargs="+", help="input columns/expressions (default: the model's feature names)")
    p.add_argument("--branches", nargs="+", help="branches to keep (default: all)")
    p.add_argument("--threads", type=int, default=0, help="ImplicitMT threads (0: single-threaded)")
    p.add_argument("--batch-size", type=int, default=4096,
                   help="events per model call (default 4096; 1: one call per event)")
    p.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--allow-fallback", action="store_true", help="fall back to CPU when CUDA is not usable")


def _apply_run(args: argparse.Namespace) -> int:
    import hepsift.rdf

    ROOT = hepsift.rdf.load_library()
    if args.threads > 0:
        ROOT.EnableImplicitMT(args.threads)
    for f in args.input:
        if not Path(f).is_file():
            raise errors.DataError(f"input file '{f}' does not exist")
    files = ROOT.std.vector["std::string"](args.input)
    df = ROOT.RDataFrame(args.tree, files)
    branches = args.branches or hepsift.rdf.column_names(df)
    start = time.perf_counter()
    node = hepsift.rdf.define(df, args.name, args.model, args.inputs, provider=args.provider,
                              allow_fallback=args.allow_fallback, batch_size=args.batch_size)
    cols = ROOT.std.vector["std::string"]([*branches, args.name])
    snap = node.Snapshot(args.tree, args.output, cols)
    n = snap.Count().GetValue()
    dt = time.perf_counter() - start
    print(f"hepsift: scored {n} events from {len(args.input)} file(s) in {dt:.1f} s -> {args.output}")
    return 0


# ---- demo -----------------------------------------------------------------------------
def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="hepsift-demo", help="output folder (default hepsift-demo)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2, help="ImplicitMT threads for the scoring step")
    p.add_argument("--quick", action="store_true", help="a smaller, faster run")


def _demo_run(args: argparse.Namespace) -> int:
    from hepsift.demo import run_demo

    run_demo(Path(args.output), seed=args.seed, threads=args.threads, quick=args.quick)
    return 0


Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

#: (name, help, add_arguments, run); optional sub-packages register theirs in _OPTIONAL.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "demo": ("run the whole chain on the embedded default data", _demo_args, _demo_run),
    "info": ("show a model's inputs, outputs and metadata", _info_args, _info_run),
    "apply": ("score ROOT files with a model inside RDataFrame and write the result", _apply_args, _apply_run),
    "config": ("print flags and paths for C++ programs, ROOT macros and CMake", _config_args, _config_run),
}
_OPTIONAL = {
    "generate": ("hepsift.generate._cli", "generate events with Pythia 8 and the detector model"),
    "train": ("hepsift.models._cli", "train a classifier on ROOT files and export it to ONNX"),
    "tune": ("hepsift.tune._cli", "hyper-parameter search (genetic algorithm, Bayesian optimisation)"),
    "anomaly": ("hepsift.anomaly._cli", "train an anomaly detector on background and export it to ONNX"),
    "limits": ("hepsift.stats._cli", "CLs upper limits from score histograms"),
    "nplm": ("hepsift.nplm._cli", "model-independent NPLM test"),
}


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The command group; optional sub-packages are imported only for their own command."""
    parser = argparse.ArgumentParser(
        prog="hepsift",
        description="Machine learning for new-physics searches inside ROOT analyses.",
        epilog="example: hepsift apply model.onnx events.root -o scored.root --threads 2",
    )
    parser.add_argument("--version", action="version", version=f"hepsift {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    commands = dict(COMMANDS)
    for name, (module, text) in _OPTIONAL.items():
        if name != chosen:
            commands[name] = (text, lambda p: None, lambda a: 2)
            continue
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            raise errors.DependencyError(f"`hepsift {name}` needs {module}: {exc}") from exc
        commands[name] = (text, mod.add_arguments, mod.run)
    for name in sorted(commands):
        text, add, run = commands[name]
        p = sub.add_parser(name, help=text, description=text)
        add(p)
        p.set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hepsift`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = _parser(argv)
    except errors.HepsiftError as exc:
        print(f"hepsift: error: {exc}", file=sys.stderr)
        return 1
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except errors.HepsiftError as exc:
        print(f"hepsift {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
