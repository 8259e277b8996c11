"""``hepsift generate``: Pythia 8 events through the detector model into ROOT files.

Examples::

    hepsift generate --process zprime_tt --mass 1000 --events 20000 --seed 1 -o out.root
    hepsift generate --preset demo -o data/
    hepsift generate --list
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from hepsift._cliargs import UsageError, int_at_least
from hepsift.errors import OutputError

__all__ = ["add_arguments", "run", "main"]

EPILOG = """examples:
  hepsift generate --process zprime_tt --mass 1000 --events 20000 --seed 1 -o out.root
  hepsift generate --process ttbar --events 5000 --seed 2 -o data/ --workers 2
  hepsift generate --preset demo -o data/
  hepsift generate --preset boosted -o boosted/        # top/W/Z and QCD jets with constituents
  hepsift generate --list
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``generate`` options to ``parser``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--process", "-p", help="process name (see --list)")
    what.add_argument("--preset", help="named set of samples, e.g. demo")
    what.add_argument("--list", action="store_true", help="list processes and presets, then exit")
    parser.add_argument("--mass", type=float, help="signal mass in GeV (signals only)")
    parser.add_argument("--events", "-n", type=int_at_least(1), help="number of events (with --process)")
    parser.add_argument("--seed", type=int, default=1, help="master seed (default 1)")
    parser.add_argument("-o", "--output", help="output ROOT file or folder (preset: folder, default hepsift-PRESET)")
    parser.add_argument("--workers", "-j", type=int_at_least(1), help="worker processes (default: all usable cores)")
    parser.add_argument("--chunk-size", type=int_at_least(1), default=1000, help="events per Pythia run (default 1000)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="SETTING",
                        help="extra Pythia setting, e.g. --set 'PartonLevel:MPI = off' (repeatable)")  # fmt: skip
    parser.add_argument("--detector", metavar="JSON", help="detector parameters as a JSON file (DetectorConfig)")
    parser.add_argument("--constituents", action=argparse.BooleanOptionalAction, default=None,
                        help="store every visible particle as PFCand_* (default: on for --preset boosted, else off)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an output that holds other events, and regenerate even if it is up to date")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _list() -> None:
    from hepsift.generate import PRESETS, PROCESSES

    print("processes:")
    for p in PROCESSES.values():
        masses = f" masses {', '.join(f'{m:g}' for m in p.masses)} GeV" if p.signal else ""
        print(f"  {p.name:12s} id {p.pid:3d}  {p.description}{masses}")
    print("presets:")
    for name, jobs in PRESETS.items():
        print(f"  {name:12s} {len(jobs)} samples, {sum(n for _, _, n in jobs)} events")


def _refuse_other_files(jobs: list[tuple[Any, Path]], overwrite: bool) -> None:
    """Refuse, before any event is generated, to replace an existing file that does not hold
    these very events (an up-to-date file is reused, not rewritten)."""
    from hepsift.generate.core import _reusable, sample_name

    if overwrite:
        return
    for cfg, out in jobs:
        cfg = cfg.validated()
        path = out / f"{sample_name(cfg.process, cfg.mass)}.root" if out.is_dir() else out
        if path.is_dir():
            raise OutputError(f"-o/--output '{path}' is a folder; give a file name")
        if path.exists() and not _reusable(path, cfg.digest()):
            raise OutputError(f"-o/--output '{path}' exists and holds other events; pass --overwrite to replace it")


def run(args: argparse.Namespace) -> int:
    """Execute ``hepsift generate`` with parsed ``args``; returns the exit status."""
    from hepsift.generate import DetectorConfig, GenerationConfig, generate, generate_preset
    from hepsift.generate.core import CONSTITUENT_PRESETS, PRESETS

    if args.list:
        _list()
        return 0
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    start = time.perf_counter()
    if args.preset:
        if args.preset not in PRESETS:
            raise UsageError(f"argument --preset: unknown preset {args.preset!r}; known: {', '.join(PRESETS)}")
        out = Path(args.output or f"hepsift-{args.preset}")
        if out.exists() and not out.is_dir():
            raise UsageError(f"-o/--output '{out}' is a file; a preset writes a folder")
        store = args.preset in CONSTITUENT_PRESETS if args.constituents is None else args.constituents
        if out.is_dir():
            configs = [GenerationConfig(process=p, events=n, seed=args.seed, mass=m, constituents=store)
                       for p, m, n in PRESETS[args.preset]]  # fmt: skip
            _refuse_other_files([(cfg, out) for cfg in configs], args.overwrite)
        files = generate_preset(args.preset, out, seed=args.seed, workers=args.workers, constituents=store,
                                progress=not args.no_progress, overwrite=args.overwrite, log=log)  # fmt: skip
        for name, path in files.items():
            print(f"{name}\t{path}")
    elif args.process:
        if args.events is None:
            raise UsageError("--events is required with --process")
        if not args.output:
            raise UsageError("-o/--output is required with --process")
        detector = None
        if args.detector:
            try:
                detector = DetectorConfig.from_dict(json.loads(Path(args.detector).read_text()))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise UsageError(f"--detector '{args.detector}' is not a readable JSON file: {exc}") from None
        cfg = GenerationConfig(process=args.process, events=args.events, seed=args.seed, mass=args.mass,
                               chunk_size=args.chunk_size, pythia_settings=tuple(args.settings),
                               detector=detector or DetectorConfig(),
                               constituents=bool(args.constituents))
        _refuse_other_files([(cfg, Path(args.output))], args.overwrite)
        path = generate(
            args.process, mass=args.mass, events=args.events, seed=args.seed, output=args.output,
            chunk_size=args.chunk_size, pythia_settings=args.settings, detector=detector,
            constituents=bool(args.constituents), workers=args.workers, progress=not args.no_progress, overwrite=args.overwrite,
        )  # fmt: skip
        print(path)
    else:
        raise UsageError("give --process, --preset or --list")
    log(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m hepsift.generate._cli``), the same as ``hepsift generate``."""
    from hepsift.cli import main as cli_main

    return cli_main(["generate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
