"""``hepsift apply``: score ROOT files with a model inside RDataFrame and write the result.

Example::

    hepsift apply model.onnx events.root -o scored.root --threads 2
"""

from __future__ import annotations

import argparse
import time

from hepsift import _atomic, errors
from hepsift.cli import _args

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``hepsift apply``."""
    p.add_argument("model", help="ONNX file")
    p.add_argument("input", nargs="+", help="ROOT file(s)")
    p.add_argument("-t", "--tree", default="Events", help="tree name (default Events)")
    p.add_argument("-o", "--output", required=True, help="output ROOT file (never one of the inputs)")
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.add_argument("--name", default="score", help="score column (default score)")
    p.add_argument("--inputs", nargs="+", help="input columns/expressions (default: the model's feature names)")
    p.add_argument("--branches", nargs="+", help="branches to keep (default: all)")
    p.add_argument("--threads", type=_args.int_at_least(0), default=0,
                   help="ImplicitMT threads (0: single-threaded)")
    p.add_argument("--batch-size", type=_args.int_at_least(1), default=None,
                   help="events per model call (default: define's rule, batches of 4096 streamed from the file "
                        "where that applies, one call per event elsewhere; 1: one call per event)")
    p.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--allow-fallback", action="store_true", help="fall back to CPU when CUDA is not usable")


def run(args: argparse.Namespace) -> int:
    """Score the input files and write the output; returns the exit status."""
    import hepsift.rdf
    from hepsift.cli import _signals

    # Everything that can be wrong is found before the event loop starts.
    _atomic.check_output(args.output, inputs=[*args.input, args.model], overwrite=args.overwrite,
                         what="-o/--output")
    for f in args.input:
        _args.check_root_input(f, args.tree)
    ROOT = hepsift.rdf.load_library()
    _signals.arm_native("hepsift apply")
    model = hepsift.rdf.Model(args.model, provider=args.provider, allow_fallback=args.allow_fallback)
    if args.threads > 0:
        ROOT.EnableImplicitMT(args.threads)
    files = ROOT.std.vector["std::string"](args.input)
    df = ROOT.RDataFrame(args.tree, files)
    existing = hepsift.rdf.column_names(df)
    if args.branches:
        _args.check_names("--branches", args.branches, existing, f"tree '{args.tree}' of '{args.input[0]}'")
    branches = args.branches or existing
    start = time.perf_counter()
    with _atomic.atomic_output(args.output, inputs=[*args.input, args.model], overwrite=args.overwrite,
                               what="-o/--output") as tmp:
        try:
            # ROOT notes on stderr that a loop stopped by an error was interrupted; the one-line
            # error says more. (A two-pass batched score runs its first loop inside define.)
            with _args.drop_stderr_lines("RDataFrame::Run: event loop was interrupted"):
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
