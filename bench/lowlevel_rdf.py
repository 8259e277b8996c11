"""Image and set models scored inside RDataFrame: per event, streamed and in two passes.

One process, one file of boosted events with constituents (generated here, or ``--input``),
read ``--copies`` times (a chain of the same file). A CNN (seed 001's 2 x 33 x 33 layout) and
a Deep Sets model over ``PFCand_pt, _eta, _phi`` are trained for one epoch on toy labels
(the rates do not depend on what they learned), then scored with ``hepsift.rdf.define``:

* **CNN**: ``define_jet_image`` (leading FatJet) + ``define`` of the CNN; the image alone
  is timed too;
* **Deep Sets**: ``define`` on the three RVec columns: per event (P = each event's
  constituents), streamed (the default: blocks of 4096 events read from the tree, grouped by
  equal numbers of constituents) and in two passes (every batch padded to its longest event
  with mask 0);
* **JetTagger**: the same network per FatJet (``PFCand_fatJetIdx``), ``define`` with the
  index and ``nFatJet`` from its metadata, one model call per event (``[1, J, P, F]``),
  checked against ``JetTagger.predict_jets`` (to 1e-5) before it is timed.

Rates are marginal: (copies - 1) x events / (time of ``copies`` files - time of one file), so
that one-off costs (cling compiling the Defines, loading the model) do not count. Every path
is checked to agree with the per-event scores (to 1e-5) before anything is timed.

    python bench/lowlevel_rdf.py                       # 300 Z' -> t tbar (2 TeV) events, 5 copies
    python bench/lowlevel_rdf.py --input boosted/zprime_tt_had_m2000.root --threads 2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> int:
    import numpy as np
    import uproot

    import hepsift.images as im
    import hepsift.rdf
    from hepsift.models import CNNClassifier, DeepSetsClassifier, JetTagger

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", help="ROOT file with PFCand_* (default: generate --events Z' -> t tbar events)")
    parser.add_argument("--events", type=int, default=300, help="events to generate (default 300)")
    parser.add_argument("--copies", type=int, default=5, help="times the file is read (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="RDataFrame ImplicitMT threads (default 1)")
    parser.add_argument("--batch-size", type=int, default=64, help="events per model call in two passes (default 64)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    ROOT = hepsift.rdf.load_library()
    with tempfile.TemporaryDirectory() as tmp:
        if args.input:
            path = Path(args.input)
        else:
            import hepsift.events as gen

            path = gen.generate("zprime_tt_had", mass=2000, events=args.events, output=Path(tmp) / "top.root",
                                seed=args.seed, chunk_size=args.events, workers=1, progress=False, constituents=True,
                                pythia_settings=("PartonLevel:MPI = off",))
        ev = uproot.open(path)["Events"].arrays()
        y = np.arange(len(ev)) % 2
        cnn = hepsift.rdf.Model(CNNClassifier(epochs=1, seed=args.seed).fit(im.jet_images(ev, 0), y)
                                .to_onnx(Path(tmp) / "cnn.onnx"))
        cols = ("PFCand_pt", "PFCand_eta", "PFCand_phi")
        ds = hepsift.rdf.Model(DeepSetsClassifier(inputs=cols, epochs=1, seed=args.seed).fit(ev, y)
                               .to_onnx(Path(tmp) / "ds.onnx"))
        tagger = JetTagger(inputs=cols, epochs=1, seed=args.seed).fit(ev, (ev.FatJet_truth == 1) * 1)
        tagged = hepsift.rdf.Model(tagger.to_onnx(Path(tmp) / "tagger.onnx"))
        if args.threads > 1:
            ROOT.EnableImplicitMT(args.threads)

        def frame(copies: int) -> Any:
            chain = ROOT.TChain("Events")
            for _ in range(copies):
                chain.Add(str(path))
            return ROOT.RDataFrame(chain), chain

        cases = {
            "jet image alone": lambda df: (im.define_jet_image(df, "s", 0), "s"),
            "CNN, per event": lambda df: (hepsift.rdf.define(im.define_jet_image(df, "img", 0), "s", cnn,
                                                             inputs=["img"], strategy="per-event"), "s"),
            "CNN, two passes": lambda df: (hepsift.rdf.define(im.define_jet_image(df, "img", 0), "s", cnn,
                                                              inputs=["img"], strategy="two-pass",
                                                              batch_size=args.batch_size), "s"),
            "Deep Sets, per event": lambda df: (hepsift.rdf.define(df, "s", ds, strategy="per-event"), "s"),
            "Deep Sets, streamed (default)": lambda df: (hepsift.rdf.define(df, "s", ds), "s"),
            "Deep Sets, two passes": lambda df: (hepsift.rdf.define(df, "s", ds, strategy="two-pass",
                                                                    batch_size=args.batch_size), "s"),
            "JetTagger (every FatJet), per event": lambda df: (hepsift.rdf.define(df, "s", tagged), "s"),
        }

        def run(case: str, copies: int) -> tuple[float, np.ndarray]:
            df, _chain = frame(copies)
            start = time.perf_counter()
            node, col = cases[case](df)
            values = node.AsNumpy([col])[col]
            return time.perf_counter() - start, values

        reference: dict[str, np.ndarray] = {}
        for case in cases:
            _, values = run(case, 1)
            if case.startswith(("CNN", "Deep Sets")):
                key = case.split(",")[0]
                reference.setdefault(key, np.asarray(values))
                worst = float(np.max(np.abs(np.asarray(values) - reference[key])))
                assert worst <= 1e-5, (case, worst)
            if case.startswith("JetTagger"):
                jets = tagger.predict_jets(ev)
                assert [len(v) for v in values] == [len(j) for j in jets], case
                worst = max((float(np.max(np.abs(np.asarray(v) - np.asarray(j)))) for v, j in zip(values, jets)
                             if len(j)), default=0.0)
                assert worst <= 1e-5, (case, worst)
        n = len(ev)
        print(f"{n} events, {float(np.mean([len(p) for p in ev.PFCand_pt])):.0f} constituents per event on average, "
              f"{float(np.mean([len(j) for j in ev.FatJet_pt])):.2f} FatJets per event, "
              f"{args.copies} copies, {args.threads} thread(s), batch size {args.batch_size}")
        print("| path | events/s |\n| --- | --- |")
        for case in cases:
            t1, _ = run(case, 1)
            tn, _ = run(case, args.copies)
            print(f"| {case} | {(args.copies - 1) * n / max(tn - t1, 1e-9):,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
