"""Batched scoring (define(..., batch_size=N)), streamed and in two passes: the same score as
the per-event path on every entry, with ImplicitMT, upstream and downstream Filters, Range,
TChains of several files, ROOT- and uproot-written trees and RNTuple input."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MIXED, mixed_arrays, threads, write_tree

import hepsift
import hepsift.rdf


def both_paths(ROOT, node, model, batch_size=257, strategy="auto"):
    """Batched and per-event scores of the same node, in one event loop (the batched score is
    defined first, on the node itself, so that it may stream)."""
    bat = hepsift.rdf.define(node, "bat", model, batch_size=batch_size, strategy=strategy)
    return hepsift.rdf.define(bat, "pe", model).AsNumpy(["pe", "bat"])


@pytest.mark.parametrize("strategy", ["stream", "two-pass"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_batched_equals_per_event(ROOT, mixed_file, mlp_onnx, n_threads, strategy):
    path, _ = mixed_file
    with threads(ROOT, n_threads):
        out = both_paths(ROOT, ROOT.RDataFrame("Events", str(path)), hepsift.rdf.Model(mlp_onnx), strategy=strategy)
    assert len(out["pe"]) == 5000
    assert np.max(np.abs(out["pe"] - out["bat"])) <= 1e-6


def test_auto_streams_on_the_data_frame_and_makes_two_passes_elsewhere(ROOT, mixed_file, mlp_onnx):
    path, _ = mixed_file
    df = ROOT.RDataFrame("Events", str(path))
    hepsift.rdf.define(df, "s", mlp_onnx, batch_size=64)
    assert df.GetNRuns() == 0  # streamed: nothing ran yet
    hepsift.rdf.define(df.Filter("x_b"), "s", mlp_onnx, batch_size=64)
    assert df.GetNRuns() == 1  # a Filter before the score: first pass of the two-pass path


@pytest.mark.parametrize("n_threads", [1, 2])
def test_stream_over_a_chain_of_multi_basket_trees_with_lazy_downstream(ROOT, tmp_path, mlp_onnx, n_threads):
    sizes = (3000, 3500, 4100)
    arrays = [mixed_arrays(n, seed=30 + i) for i, n in enumerate(sizes)]
    files = [str(write_tree(tmp_path / f"c{i}.root", a, basket=700)) for i, a in enumerate(arrays)]
    model = hepsift.rdf.Model(mlp_onnx)
    with threads(ROOT, n_threads):
        df = ROOT.RDataFrame("Events", ROOT.std.vector["std::string"](files))
        bat = hepsift.rdf.define(df, "bat", model, batch_size=500, strategy="stream")
        # downstream of a Filter the score is computed for some entries only (RDataFrame is lazy)
        out = hepsift.rdf.define(bat.Filter("x_i > 0"), "pe", model).AsNumpy(["pe", "bat"])
    assert len(out["pe"]) == sum(int(np.sum(a["x_i"] > 0)) for a in arrays)
    assert np.max(np.abs(out["pe"] - out["bat"])) <= 1e-6


@pytest.mark.parametrize("n_threads", [1, 2])
def test_stream_on_a_root_written_tree_with_unaligned_baskets(ROOT, tmp_path, mlp_onnx, n_threads):
    import uproot

    src = write_tree(tmp_path / "src.root", mixed_arrays(20000, seed=8))
    dst = tmp_path / "root_written.root"
    opts = ROOT.RDF.RSnapshotOptions()
    opts.fBasketSize = 4096  # bytes: 8-byte branches fill twice as many baskets as 4-byte ones
    opts.fAutoFlush = 0
    ROOT.RDataFrame("Events", str(src)).Snapshot("Events", str(dst), ROOT.std.vector["std::string"](MIXED), opts)
    tree = uproot.open(dst)["Events"]
    assert tree["x_d"].num_baskets > tree["x_f"].num_baskets > 1
    with threads(ROOT, n_threads):
        out = both_paths(ROOT, ROOT.RDataFrame("Events", str(dst)), hepsift.rdf.Model(mlp_onnx), 1000, "stream")
    assert len(out["pe"]) == 20000
    assert np.max(np.abs(out["pe"] - out["bat"])) <= 1e-6


def test_stream_refusals(ROOT, mixed_file, mlp_onnx, tmp_path):
    path, _ = mixed_file
    df = ROOT.RDataFrame("Events", str(path))
    with pytest.raises(hepsift.ConfigurationError, match="not the RDataFrame itself"):
        hepsift.rdf.define(df.Filter("x_b"), "s", mlp_onnx, batch_size=64, strategy="stream")
    with pytest.raises(hepsift.ConfigurationError, match="'x_f\\*2' is an expression or a Define"):
        hepsift.rdf.define(df, "s", mlp_onnx, ["x_f*2", *MIXED[1:]], batch_size=64, strategy="stream")
    with pytest.raises(hepsift.ConfigurationError, match="not the RDataFrame itself"):
        hepsift.rdf.define(df.Range(10), "s", mlp_onnx, batch_size=64, strategy="stream")
    with pytest.raises(hepsift.ConfigurationError, match="'x_f' is an expression or a Define"):
        hepsift.rdf.define(df.Redefine("x_f", "2 * x_f"), "s", mlp_onnx, batch_size=64, strategy="stream")
    with pytest.raises(hepsift.ConfigurationError, match="strategy must be"):
        hepsift.rdf.define(df, "s", mlp_onnx, batch_size=64, strategy="fast")
    opts = ROOT.RDF.RSnapshotOptions()
    opts.fOutputFormat = ROOT.RDF.ESnapshotOutputFormat.kRNTuple
    df.Snapshot("Events", str(tmp_path / "rnt.root"), ROOT.std.vector["std::string"](MIXED), opts)
    with pytest.raises(hepsift.ConfigurationError, match="RNTupleDS, not a TTree"):
        hepsift.rdf.define(ROOT.RDataFrame("Events", str(tmp_path / "rnt.root")), "s", mlp_onnx, batch_size=64,
                           strategy="stream")


@pytest.mark.parametrize("n_threads", [1, 2])
def test_filter_range_and_chain(ROOT, tmp_path, mlp_onnx, n_threads):
    files = [write_tree(tmp_path / f"part{i}.root", mixed_arrays(3000 + 500 * i, seed=i)) for i in range(3)]
    model = hepsift.rdf.Model(mlp_onnx)
    with threads(ROOT, n_threads):
        chain = ROOT.std.vector["std::string"]([str(f) for f in files])
        filtered = ROOT.RDataFrame("Events", chain).Filter("x_i > 0 && x_f < 1.0")
        out = both_paths(ROOT, filtered, model, batch_size=1000)
        expected = sum(int(np.sum((a["x_i"] > 0) & (a["x_f"] < 1.0)))
                       for a in (mixed_arrays(3000 + 500 * i, seed=i) for i in range(3)))
        assert len(out["pe"]) == expected
        assert np.max(np.abs(out["pe"] - out["bat"])) <= 1e-6
    # Range runs single-threaded only (ROOT's rule).
    ranged = ROOT.RDataFrame("Events", str(files[0])).Range(100, 2100, 3)
    out = both_paths(ROOT, ranged, model, batch_size=64)
    assert len(out["pe"]) == 667 and np.max(np.abs(out["pe"] - out["bat"])) <= 1e-6


def test_rntuple_input(ROOT, tmp_path, mlp_onnx):
    arrays = mixed_arrays(4000, seed=4)
    src = write_tree(tmp_path / "ttree.root", arrays)
    opts = ROOT.RDF.RSnapshotOptions()
    opts.fOutputFormat = ROOT.RDF.ESnapshotOutputFormat.kRNTuple
    rnt = tmp_path / "rntuple.root"
    cols = ROOT.std.vector["std::string"](MIXED)
    ROOT.RDataFrame("Events", str(src)).Snapshot("Events", str(rnt), cols, opts)
    df = ROOT.RDataFrame("Events", str(rnt))
    assert "RNTuple" in str(df.Describe().AsString()) or "rntuple" in str(df.Describe().AsString()).lower()
    out = both_paths(ROOT, df.Filter("x_b"), hepsift.rdf.Model(mlp_onnx), batch_size=300)
    assert len(out["pe"]) == int(arrays["x_b"].sum())
    assert np.max(np.abs(out["pe"] - out["bat"])) <= 1e-6


def test_batched_feeds_histograms_and_snapshot(ROOT, mixed_file, mlp_onnx, tmp_path):
    import uproot

    path, _ = mixed_file
    node = hepsift.rdf.define(ROOT.RDataFrame("Events", str(path)), "score", mlp_onnx, batch_size=512)
    h = node.Histo1D(("h", "", 10, 0.0, 1.0), "score")
    n_cut = node.Filter("score > 0.5").Count()
    node.Snapshot("Events", str(tmp_path / "out.root"), ROOT.std.vector["std::string"](["score", "x_f"]))
    scores = uproot.open(tmp_path / "out.root")["Events"]["score"].array(library="np")
    assert h.GetEntries() == 5000 and n_cut.GetValue() == int(np.sum(scores > 0.5))


def test_batched_errors(ROOT, tmp_path, mlp_onnx):
    arrays = mixed_arrays(500)
    arrays["x_u"] = arrays["x_u"].copy()
    arrays["x_d"][321] = np.inf
    path = write_tree(tmp_path / "inf.root", arrays)
    df = ROOT.RDataFrame("Events", str(path))
    with pytest.raises(hepsift.NonFiniteInputError, match="'x_d' is infinite at entry 321"):
        hepsift.rdf.define(df, "s", mlp_onnx, batch_size=100, strategy="two-pass")
    node = hepsift.rdf.define(df, "s", mlp_onnx, batch_size=100, strategy="stream")  # runs in the loop
    with pytest.raises(hepsift.NonFiniteInputError, match="'x_d' is infinite at entry 321"):
        node.Sum("s").GetValue()
    with pytest.raises(hepsift.ConfigurationError, match="batch_size must be None or a positive integer"):
        hepsift.rdf.define(df, "s", mlp_onnx, batch_size=0)


def test_many_small_files_multithreaded_with_lazy_downstream(ROOT, tmp_path, mlp_onnx):
    """Under ImplicitMT over several files rdfentry_ depends on the order in which files are
    opened and differs between event loops; the batched score must not depend on it, also
    when a downstream Filter evaluates the score only for some entries."""
    files = [str(write_tree(tmp_path / f"s{i}.root", mixed_arrays(150 + 40 * i, seed=20 + i))) for i in range(8)]
    model = hepsift.rdf.Model(mlp_onnx)
    with threads(ROOT, 2):
        for _ in range(2):
            df = ROOT.RDataFrame("Events", ROOT.std.vector["std::string"](files))
            both = hepsift.rdf.define(hepsift.rdf.define(df, "pe", model), "bat", model, batch_size=64)
            out = both.Filter("x_i > 0").AsNumpy(["pe", "bat"])
            assert len(out["pe"]) == sum(int(np.sum(mixed_arrays(150 + 40 * i, seed=20 + i)["x_i"] > 0))
                                         for i in range(8))
            assert np.max(np.abs(out["pe"] - out["bat"])) <= 1e-6


def test_friend_tree_inputs_make_two_passes(ROOT, tmp_path, mlp_onnx):
    arrays = mixed_arrays(3000, seed=9)
    main = write_tree(tmp_path / "main.root", {k: v for k, v in arrays.items() if k != "x_b"})
    friend = write_tree(tmp_path / "friend.root", {"x_b": arrays["x_b"]})
    f = ROOT.TFile.Open(str(main))
    tree = f.Get("Events")
    tree.AddFriend("fr=Events", str(friend))
    df = ROOT.RDataFrame(tree)
    inputs = [*MIXED[:-1], "fr.x_b"]
    assert "fr.x_b" in {str(c) for c in df.GetColumnNames()}
    with pytest.raises(hepsift.ConfigurationError, match="'fr.x_b' is a branch of a friend tree"):
        hepsift.rdf.define(df, "s", mlp_onnx, inputs, batch_size=64, strategy="stream")
    model = hepsift.rdf.Model(mlp_onnx)
    bat = hepsift.rdf.define(df, "bat", model, inputs, batch_size=300)  # auto: two passes
    out = hepsift.rdf.define(bat, "pe", model, inputs).AsNumpy(["pe", "bat"])
    assert df.GetNRuns() == 2 and len(out["pe"]) == 3000  # first pass, then the analysis loop
    assert np.max(np.abs(out["pe"] - out["bat"])) <= 1e-6
    f.Close()


def test_entry_list_makes_two_passes(ROOT, mixed_file, mlp_onnx):
    path, arrays = mixed_file
    f = ROOT.TFile.Open(str(path))
    tree = f.Get("Events")
    tree.Draw(">>hepsift_elist", "x_i > 0", "entrylist")
    tree.SetEntryList(ROOT.gDirectory.Get("hepsift_elist"))
    df = ROOT.RDataFrame(tree)
    with pytest.raises(hepsift.ConfigurationError, match="entry list"):
        hepsift.rdf.define(df, "s", mlp_onnx, batch_size=64, strategy="stream")
    out = both_paths(ROOT, df, hepsift.rdf.Model(mlp_onnx), batch_size=100)  # auto: two passes
    assert len(out["pe"]) == int(np.sum(arrays["x_i"] > 0))
    assert np.max(np.abs(out["pe"] - out["bat"])) <= 1e-6
    f.Close()


def test_default_streams_where_it_can_and_scores_per_event_elsewhere(ROOT, mixed_file, mlp_onnx):
    """No batching arguments: streamed batches on the data frame itself (nothing runs at define
    time), per event behind a Filter (no hidden first pass either); the same scores."""
    path, arrays = mixed_file
    model = hepsift.rdf.Model(mlp_onnx)
    df = ROOT.RDataFrame("Events", str(path))
    assert hepsift.rdf.strategy_for(df, MIXED) == "stream"
    assert hepsift.rdf.strategy_for(df.Filter("x_b"), MIXED) == "per-event"
    assert hepsift.rdf.strategy_for(df.Filter("x_b"), MIXED, batch_size=64) == "two-pass"
    assert hepsift.rdf.strategy_for(df, MIXED, batch_size=1) == "per-event"
    fast = hepsift.rdf.define(df, "fast", model)
    behind = hepsift.rdf.define(df.Filter("x_b"), "behind", model)
    assert df.GetNRuns() == 0
    out = hepsift.rdf.define(fast, "pe", model, strategy="per-event").AsNumpy(["pe", "fast"])
    cut = hepsift.rdf.define(behind, "pe", model, strategy="per-event").AsNumpy(["pe", "behind"])
    assert len(out["pe"]) == 5000 and np.max(np.abs(out["pe"] - out["fast"])) <= 1e-6
    assert len(cut["pe"]) == int(arrays["x_b"].sum()) and np.array_equal(cut["pe"], cut["behind"])
    with pytest.raises(hepsift.ConfigurationError, match="strategy 'per-event' calls the model once per event"):
        hepsift.rdf.define(df, "s", model, batch_size=64, strategy="per-event")


@pytest.mark.parametrize("batch_size", [1, 7, 4096, 100_000])
def test_every_batch_size_equals_per_event(ROOT, mixed_file, mlp_onnx, batch_size):
    """Streamed and two-pass batches of any size give the per-event scores; batches above
    Model(cpu_chunk=4096) events are evaluated in several model calls."""
    path, _ = mixed_file
    model = hepsift.rdf.Model(mlp_onnx)
    df = ROOT.RDataFrame("Events", str(path))
    node = hepsift.rdf.define(df, "st", model, batch_size=batch_size, strategy="stream")
    node = hepsift.rdf.define(node, "tp", model, batch_size=batch_size, strategy="two-pass")
    out = hepsift.rdf.define(node, "pe", model, strategy="per-event").AsNumpy(["pe", "st", "tp"])
    assert len(out["pe"]) == 5000
    assert np.max(np.abs(out["pe"] - out["st"])) <= 1e-6 and np.max(np.abs(out["pe"] - out["tp"])) <= 1e-6
    X = np.stack([_arrays_of(path)[c].astype(np.float32) for c in MIXED], axis=1)
    whole = hepsift.rdf.Model(mlp_onnx, cpu_chunk=0).evaluate(X)
    chunked = hepsift.rdf.Model(mlp_onnx, cpu_chunk=batch_size).evaluate(X)
    np.testing.assert_array_equal(chunked, whole)  # the same arithmetic, chunk by chunk
    np.testing.assert_allclose(out["st"], whole, atol=1e-6, rtol=0)


def _arrays_of(path):
    import uproot

    return uproot.open(path)["Events"].arrays(MIXED, library="np")


def test_varied_input_gives_varied_scores_by_default(ROOT, mixed_file, mlp_onnx):
    """An input with systematic variations (Vary) is scored per event by default, so the score
    follows the variations: each varied histogram of the score is the histogram of the score
    of the shifted input; "stream" and "two-pass" refuse such an input."""
    path, _ = mixed_file
    model = hepsift.rdf.Model(mlp_onnx)
    df = ROOT.RDataFrame("Events", str(path))
    varied = df.Vary("x_d", "ROOT::RVecD{x_d - 0.5, x_d + 0.5}", ["down", "up"], "shift")
    assert hepsift.rdf.strategy_for(varied, MIXED) == "per-event"
    assert hepsift.rdf.strategy_for(varied, [c for c in MIXED if c != "x_d"] + ["x_f"]) == "stream"
    h = hepsift.rdf.define(varied, "score", model).Histo1D(("h", "", 40, 0.0, 1.0), "score")
    hists = ROOT.RDF.Experimental.VariationsFor(h)
    for tag, shift in (("nominal", "x_d"), ("shift:down", "x_d - 0.5"), ("shift:up", "x_d + 0.5")):
        inputs = [shift if c == "x_d" else c for c in MIXED]
        want = hepsift.rdf.define(df, "score", model, inputs).Histo1D(("w", "", 40, 0.0, 1.0), "score").GetValue()
        got = hists[tag]
        assert [got.GetBinContent(i) for i in range(42)] == [want.GetBinContent(i) for i in range(42)], tag
    assert hists["shift:up"].GetMean() != hists["nominal"].GetMean() != hists["shift:down"].GetMean()
    for strategy in ("stream", "two-pass"):
        with pytest.raises(hepsift.ConfigurationError, match="input 'x_d' has systematic variations"):
            hepsift.rdf.define(varied, "s", model, batch_size=64, strategy=strategy)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_stream_over_a_data_set_with_a_global_range(ROOT, tmp_path, mlp_onnx, n_threads):
    """A data set with a global entry range (as distributed workers run) gives entry ranges in
    the chain's numbering (single-threaded: the whole range for every tree); the streamed score
    places each tree's own range and gives the per-event scores, with and without ImplicitMT."""
    sizes = (3000, 2500, 2000)
    files = [str(write_tree(tmp_path / f"g{i}.root", mixed_arrays(n, seed=50 + i), basket=600))
             for i, n in enumerate(sizes)]
    model = hepsift.rdf.Model(mlp_onnx)
    for start, end in ((3000, 7500), (1234, 6789), (0, sum(sizes))):
        spec = ROOT.RDF.Experimental.RDatasetSpec()
        spec.AddSample(("", ["Events"] * 3, files))
        if (start, end) != (0, sum(sizes)):  # the last: no global range (ranges in each tree's numbering)
            spec.WithGlobalRange((start, end))
        with threads(ROOT, n_threads):
            out = both_paths(ROOT, ROOT.RDataFrame(spec), model, batch_size=700, strategy="stream")
        assert len(out["pe"]) == end - start
        assert np.max(np.abs(out["pe"] - out["bat"])) <= 1e-6


@pytest.mark.parametrize("n_threads", [1, 2])
def test_several_streamed_scores_share_one_loop(ROOT, tmp_path, mlp_onnx, n_threads):
    """A second (and third) score defined right after a streamed one streams too (it reuses the
    first one's entry counting); all equal the per-event scores, also behind a later Filter."""
    files = [str(write_tree(tmp_path / f"m{i}.root", mixed_arrays(2500 + 900 * i, seed=60 + i), basket=800))
             for i in range(2)]
    model = hepsift.rdf.Model(mlp_onnx)
    with threads(ROOT, n_threads):
        df = ROOT.RDataFrame("Events", ROOT.std.vector["std::string"](files))
        node = hepsift.rdf.define(df, "a", model)
        assert hepsift.rdf.strategy_for(node, MIXED) == "stream"
        node = hepsift.rdf.define(node, "b", model, batch_size=333)
        node = hepsift.rdf.define(node, "c", model, batch_size=5000, strategy="stream")
        assert hepsift.rdf.strategy_for(node.Filter("x_b"), MIXED) == "per-event"
        out = hepsift.rdf.define(node.Filter("x_i > 0"), "pe", model).AsNumpy(["pe", "a", "b", "c"])
    assert df.GetNRuns() == 1
    assert len(out["pe"]) == sum(int(np.sum(mixed_arrays(2500 + 900 * i, seed=60 + i)["x_i"] > 0)) for i in range(2))
    for col in ("a", "b", "c"):
        assert np.max(np.abs(out["pe"] - out[col])) <= 1e-6, col


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("global_range", [None, (1234, 3900)])
def test_stream_places_chain_entries_by_rdfentry_or_by_counting(ROOT, tmp_path, mlp_onnx, n_threads, global_range):
    """A single-threaded loop places each entry by rdfentry_ (its number in the chain) without a
    counting Filter; under ImplicitMT, where rdfentry_ is a running count over tasks, a Filter
    named "hepsift" counts each task's entries. Either way the streamed scores of a chain of
    files with different entry counts equal the per-event scores bit for bit, when a downstream
    Filter asks for a few scores only and with a global entry range (as distributed workers
    run)."""
    sizes = (1000, 2500, 700)
    arrays = [mixed_arrays(n, seed=70 + i) for i, n in enumerate(sizes)]
    files = [str(write_tree(tmp_path / f"r{i}.root", a, basket=300)) for i, a in enumerate(arrays)]
    model = hepsift.rdf.Model(mlp_onnx)
    start, end = global_range or (0, sum(sizes))
    x_l = np.concatenate([a["x_l"] for a in arrays])[start:end]
    with threads(ROOT, n_threads):
        spec = ROOT.RDF.Experimental.RDatasetSpec()
        spec.AddSample(("", ["Events"] * 3, files))
        if global_range:
            spec.WithGlobalRange(global_range)
        df = ROOT.RDataFrame(spec)
        bat = hepsift.rdf.define(df, "bat", model, batch_size=256, strategy="stream")
        counting = "hepsift" in [str(f) for f in bat.GetFilterNames()]
        out = hepsift.rdf.define(bat.Filter("x_l >= 950"), "pe", model).AsNumpy(["pe", "bat", "x_l"])
    assert counting == (n_threads > 1)
    assert 0 < len(out["pe"]) == int(np.sum(x_l >= 950)) < 0.1 * (end - start)
    assert np.array_equal(np.sort(out["x_l"]), np.sort(x_l[x_l >= 950]))
    assert np.array_equal(out["pe"], out["bat"])
