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

from hepsift.errors import HepsiftError

__all__ = ["add_arguments", "run", "main"]

EPILOG = """examples:
  hepsift generate --process zprime_tt --mass 1000 --events 20000 --seed 1 -o out.root
  hepsift generate --process ttbar --events 5000 --seed 2 -o data/ --workers 2
  hepsift generate --preset demo -o data/
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
    parser.add_argument("--events", "-n", type=int, help="number of events (with --process)")
    parser.add_argument("--seed", type=int, default=1, help="master seed (default 1)")
    parser.add_argument("-o", "--output", help="output ROOT file or folder (preset: folder, default hepsift-PRESET)")
    parser.add_argument("--workers", "-j", type=int, help="worker processes (default: all usable cores)")
    parser.add_argument("--chunk-size", type=int, default=1000, help="events per Pythia run (default 1000)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="SETTING",
                        help="extra Pythia setting, e.g. --set 'PartonLevel:MPI = off' (repeatable)")  # fmt: skip
    parser.add_argument("--detector", metavar="JSON", help="detector parameters as a JSON file (DetectorConfig)")
    parser.add_argument("--overwrite", action="store_true", help="regenerate even if the output is up to date")
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


def run(args: argparse.Namespace) -> int:
    """Execute ``hepsift generate`` with parsed ``args``; returns the exit status."""
    from hepsift.generate import DetectorConfig, generate, generate_preset

    if args.list:
        _list()
        return 0
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    try:
        start = time.perf_counter()
        if args.preset:
            out = Path(args.output or f"hepsift-{args.preset}")
            files = generate_preset(args.preset, out, seed=args.seed, workers=args.workers,
                                    progress=not args.no_progress, overwrite=args.overwrite, log=log)  # fmt: skip
            for name, path in files.items():
                print(f"{name}\t{path}")
        elif args.process:
            if args.events is None:
                print("hepsift generate: --events is required with --process", file=sys.stderr)
                return 2
            if not args.output:
                print("hepsift generate: -o/--output is required with --process", file=sys.stderr)
                return 2
            detector = None
            if args.detector:
                try:
                    detector = DetectorConfig.from_dict(json.loads(Path(args.detector).read_text()))
                except (OSError, json.JSONDecodeError) as exc:
                    print(f"hepsift generate: cannot read {args.detector}: {exc}", file=sys.stderr)
                    return 2
            path = generate(
                args.process, mass=args.mass, events=args.events, seed=args.seed, output=args.output,
                chunk_size=args.chunk_size, pythia_settings=args.settings, detector=detector,
                workers=args.workers, progress=not args.no_progress, overwrite=args.overwrite,
            )  # fmt: skip
            print(path)
        else:
            print("hepsift generate: give --process, --preset or --list", file=sys.stderr)
            return 2
        log(f"done in {time.perf_counter() - start:.1f} s")
    except HepsiftError as exc:
        print(f"hepsift generate: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m hepsift.generate._cli``)."""
    parser = argparse.ArgumentParser(prog="hepsift generate", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
