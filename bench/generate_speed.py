"""Event-generation speed: events/s on one core for each process, and file size per event.

Runs one chunk of each process in this process (one core): Pythia 8 (hard process, shower,
multiple interactions, hadronisation), then the detector model and the flat features, then
writes the ROOT file. Prints events per CPU second for the whole chain and for Pythia alone
(CPU time, so that other load on the machine does not bias the per-core rate), the wall-clock
rate, bytes per event of the output, and the share of the CPU time that the N-subjettiness of
the large-R jets (``FatJet_tau1``, ``_tau2``, ``_tau3``) takes.

    python bench/generate_speed.py                 # 300 events per process
    python bench/generate_speed.py --events 1000 --processes ttbar zprime_tt
    python bench/generate_speed.py --set "PartonLevel:MPI = off"
    python bench/generate_speed.py --constituents --processes zprime_tt_had qcd_boosted   # also with PFCand_*
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> int:
    from hepsift.events import PROCESSES, GenerationConfig, generate
    from hepsift.events import detector
    from hepsift.events._worker import make_pythia

    # CPU time spent in the N-subjettiness of the large-R jets (workers=1: this process)
    tau_cpu = [0.0]
    nsubjettiness = detector.nsubjettiness

    def timed_nsubjettiness(*args, **kwargs):  # type: ignore[no-untyped-def]
        t0 = time.process_time()
        try:
            return nsubjettiness(*args, **kwargs)
        finally:
            tau_cpu[0] += time.process_time() - t0

    detector.nsubjettiness = timed_nsubjettiness

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300, help="events per process (default 300)")
    parser.add_argument("--processes", nargs="+", default=list(PROCESSES), help="processes (default: all)")
    parser.add_argument("--set", dest="settings", action="append", default=[], help="extra Pythia setting")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--constituents", action="store_true",
                        help="also generate with the PFCand_* constituents and print their cost")
    args = parser.parse_args()

    extra = f" {'+PF ev/s':>9s} {'+PF bytes/ev':>12s}" if args.constituents else ""
    print(f"{'process':18s} {'chain ev/s':>10s} {'pythia ev/s':>11s} {'wall ev/s':>9s} {'bytes/ev':>9s} "
          f"{'sigma [pb]':>11s} {'tau CPU %':>9s}{extra}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.processes:
            proc = PROCESSES[name]
            mass = proc.default_mass if proc.signal else None
            cfg = GenerationConfig(name, events=args.events, seed=args.seed, mass=mass,
                                   chunk_size=args.events, pythia_settings=tuple(args.settings)).validated()  # fmt: skip
            # Pythia alone (first slice), for the share of the chain it takes
            py = make_pythia(tuple(cfg.slice_settings()[0]), 12345)
            t0 = time.process_time()
            py.nextBatch(args.events)
            t_pythia = time.process_time() - t0
            out = Path(tmp) / f"{name}.root"
            tau_cpu[0] = 0.0
            t0, w0 = time.process_time(), time.perf_counter()
            generate(name, mass=mass, events=args.events, seed=args.seed, output=out, chunk_size=args.events,
                     pythia_settings=args.settings, workers=1, progress=False)  # fmt: skip
            t_chain, wall = time.process_time() - t0, time.perf_counter() - w0
            tau_cpu_chain = tau_cpu[0]
            from hepsift.io import read_provenance

            sigma = read_provenance(out)["xsec_pb"]
            label = name if not proc.signal else f"{name}_m{mass:g}"
            extra = ""
            if args.constituents:
                out_pf = Path(tmp) / f"{name}_pf.root"
                t0 = time.process_time()
                generate(name, mass=mass, events=args.events, seed=args.seed, output=out_pf, chunk_size=args.events,
                         pythia_settings=args.settings, workers=1, progress=False, constituents=True)  # fmt: skip
                t_pf = time.process_time() - t0
                extra = f" {args.events / t_pf:9.1f} {os.path.getsize(out_pf) / args.events:12.0f}"
            print(f"{label:18s} {args.events / t_chain:10.1f} {args.events / t_pythia:11.1f} {args.events / wall:9.1f} "
                  f"{os.path.getsize(out) / args.events:9.0f} {sigma:11.4g} {100 * tau_cpu_chain / t_chain:9.1f}{extra}",
                  flush=True)  # fmt: skip
    print("ev/s per core from CPU time (robust on a shared machine); wall ev/s for comparison.")
    print("chain: Pythia init + generation + detector model + features + ROOT output; pythia: generation only")
    print("tau CPU %: share of the chain's CPU time spent in the FatJet N-subjettiness")
    if args.constituents:
        print("+PF: the same chain (same events) also storing the PFCand_* constituents")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
