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
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hepsift import _atomic, _cliargs, _paths, errors
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
    p.add_argument("-o", "--output", required=True, help="output ROOT file (never one of the inputs)")
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.add_argument("--name", default="score", help="score column (default score)")
    p.add_argument("--inputs", nargs="+", help="input columns/expressions (default: the model's feature names)")
    p.add_argument("--branches", nargs="+", help="branches to keep (default: all)")
    p.add_argument("--threads", type=_cliargs.int_at_least(0), default=0,
                   help="ImplicitMT threads (0: single-threaded)")
    p.add_argument("--batch-size", type=_cliargs.int_at_least(1), default=4096,
                   help="events per model call (default 4096; 1: one call per event)")
    p.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--allow-fallback", action="store_true", help="fall back to CPU when CUDA is not usable")


def _apply_run(args: argparse.Namespace) -> int:
    import hepsift.rdf
    from hepsift import _signals

    # Everything that can be wrong is found before the event loop starts.
    _atomic.check_output(args.output, inputs=[*args.input, args.model], overwrite=args.overwrite,
                         what="-o/--output")
    for f in args.input:
        _cliargs.check_root_input(f, args.tree)
    ROOT = hepsift.rdf.load_library()
    _signals.arm_native("hepsift apply")
    model = hepsift.rdf.Model(args.model, provider=args.provider, allow_fallback=args.allow_fallback)
    if args.threads > 0:
        ROOT.EnableImplicitMT(args.threads)
    files = ROOT.std.vector["std::string"](args.input)
    df = ROOT.RDataFrame(args.tree, files)
    existing = hepsift.rdf.column_names(df)
    if args.branches:
        _cliargs.check_names("--branches", args.branches, existing, f"tree '{args.tree}' of {args.input[0]}")
    branches = args.branches or existing
    start = time.perf_counter()
    with _atomic.atomic_output(args.output, inputs=[*args.input, args.model], overwrite=args.overwrite,
                               what="-o/--output") as tmp:
        try:
            # ROOT notes on stderr that a loop stopped by an error was interrupted; the one-line
            # error says more. (A two-pass batched score runs its first loop inside define.)
            with _cliargs.drop_stderr_lines("RDataFrame::Run: event loop was interrupted"):
                node = hepsift.rdf.define(df, args.name, model, args.inputs, batch_size=args.batch_size)
                cols = ROOT.std.vector["std::string"]([*branches, args.name])
                opts = ROOT.RDF.RSnapshotOptions()
                opts.fLazy = True
                count = node.Count()
                snap = node.Snapshot(args.tree, str(tmp), cols, opts)
                n = int(count.GetValue())  # runs the event loop (the Snapshot with it)
                snap.GetValue()
        except errors.HepsiftError as exc:
            from hepsift.rdf._library import _reraise

            _reraise(exc)  # the plain Python class, without cppyy's call prefix
        del snap
    dt = time.perf_counter() - start
    print(f"hepsift: scored {n} events from {len(args.input)} file(s) in {dt:.1f} s -> {args.output}")
    return 0


# ---- demo -----------------------------------------------------------------------------
def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="hepsift-demo",
                   help="output folder (default hepsift-demo): a new folder or one the demo wrote before")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=_cliargs.int_at_least(0), default=2, help="ImplicitMT threads for the scoring step")
    p.add_argument("--quick", action="store_true", help="a smaller, faster run")


#: Marks a folder as the demo's own: it may overwrite its own files there, nothing else.
DEMO_MARKER = ".hepsift-demo"


def _demo_run(args: argparse.Namespace) -> int:
    from hepsift import _signals

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise _cliargs.UsageError(f"-o/--output '{out}' is a file; the demo writes a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / DEMO_MARKER).is_file():
        raise _cliargs.UsageError(f"-o/--output '{out}' is a folder the demo did not write; "
                                  "give a new folder (the demo overwrites only its own files)")
    out.mkdir(parents=True, exist_ok=True)
    with _atomic.atomic_output(out / DEMO_MARKER, overwrite=True) as tmp:
        tmp.write_text("written by hepsift demo; it may overwrite the files in this folder\n")
    _signals.arm_native("hepsift demo")
    from hepsift.demo import run_demo

    run_demo(out, seed=args.seed, threads=args.threads, quick=args.quick)
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
    parser = _cliargs.Parser(
        prog="hepsift",
        description="Machine learning for new-physics searches inside ROOT analyses.",
        epilog="example: hepsift apply model.onnx events.root -o scored.root --threads 2",
    )
    parser.add_argument("--version", action="version", version=f"hepsift {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
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
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error")
        p.set_defaults(_run=run)
    return parser


#: Exit status of an error class: 2 for a wrong command line (argument, output refused), 1 for
#: a failure while running (file contents, model, events).
def _status(exc: BaseException) -> int:
    return 2 if isinstance(exc, (_cliargs.UsageError, errors.OutputError)) else 1


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    if "=>" in text:  # an exception raised through cppyy: "<C++ signature> =>\n    <Class>: <what()>"
        text = text.split("=>", 1)[1].strip()
        head, sep, rest = text.partition(": ")
        if sep and head.isidentifier():
            text = rest
    text = " ".join(text.split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hepsift`` command; returns the exit status.

    Exit status: 0 success; 1 a failure while running; 2 a wrong command line (bad argument,
    output refused); 130 Ctrl-C (SIGINT); 143 SIGTERM. Every failure is one line on stderr;
    ``--debug`` shows the traceback instead.
    """
    from hepsift import _signals

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    _signals.install()
    prog = "hepsift"
    try:
        try:
            parser = _parser(argv)
        except errors.HepsiftError as exc:
            print(f"hepsift: error: {_one_line(exc)}", file=sys.stderr)
            return 1
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help()
            return 2
        prog = f"hepsift {args.command}"
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted by SIGINT; previous files unchanged", file=sys.stderr)
        return _signals.EXIT_CODES[signal.SIGINT]
    except _signals.Terminated:
        print(f"{prog}: interrupted by SIGTERM; previous files unchanged", file=sys.stderr)
        return _signals.EXIT_CODES[signal.SIGTERM]
    except errors.HepsiftError as exc:
        if debug:
            raise
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return _status(exc)
    except Exception as exc:
        if debug:
            raise
        print(f"{prog}: error: unexpected {type(exc).__name__}: {_one_line(exc)} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
