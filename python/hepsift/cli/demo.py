"""``hepsift demo``: the whole chain on the embedded default data (:mod:`hepsift.demo`).

Example::

    hepsift demo --quick -o hepsift-demo
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hepsift import _atomic
from hepsift.cli import _args

__all__ = ["add_arguments", "run", "DEMO_MARKER"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``hepsift demo``."""
    p.add_argument("-o", "--output", default="hepsift-demo",
                   help="output folder (default hepsift-demo): a new folder or one the demo wrote before")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=_args.int_at_least(0), default=2, help="ImplicitMT threads for the scoring step")
    p.add_argument("--quick", action="store_true", help="a smaller, faster run")


#: Marks a folder as the demo's own: it may overwrite its own files there, nothing else.
DEMO_MARKER = ".hepsift-demo"


def run(args: argparse.Namespace) -> int:
    """Run the demo into its output folder; returns the exit status."""
    from hepsift.cli import _signals

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise _args.UsageError(f"-o/--output '{out}' is a file; the demo writes a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / DEMO_MARKER).is_file():
        raise _args.UsageError(f"-o/--output '{out}' is a folder the demo did not write; "
                                  "give a new folder (the demo overwrites only its own files)")
    out.mkdir(parents=True, exist_ok=True)
    with _atomic.atomic_output(out / DEMO_MARKER, overwrite=True) as tmp:
        tmp.write_text("written by hepsift demo; it may overwrite the files in this folder\n")
    _signals.arm_native("hepsift demo")
    from hepsift.demo import run_demo

    run_demo(out, seed=args.seed, threads=args.threads, quick=args.quick)
    return 0
