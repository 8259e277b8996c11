"""The same graph (define score, filter, histogram) on distributed RDataFrame with a Dask
LocalCluster of 2 worker processes gives the same histogram as the local run."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MIXED, mixed_arrays, write_tree

import hepsift
import hepsift.rdf

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    # No dashboard, and the scheduler's HTTP server on a free port (its default 8787 may be taken).
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                           scheduler_kwargs={"dashboard": False}, worker_dashboard_address=None)
    with Client(cluster) as c:
        yield c
    cluster.close()


def graph(df, model):
    node = hepsift.rdf.define(df, "score", model)
    return node.Filter("score > 0.3").Histo1D(("h", "", 20, 0.0, 1.0), "score", "x_d")


def test_dask_histogram_equals_local(ROOT, tmp_path, mlp_onnx, client):
    files = [str(write_tree(tmp_path / f"d{i}.root", mixed_arrays(4000, seed=10 + i))) for i in range(2)]
    local = graph(ROOT.RDataFrame("Events", ROOT.std.vector["std::string"](files)), str(mlp_onnx)).GetValue()
    ddf = ROOT.RDataFrame("Events", files, executor=client, npartitions=4)
    remote = graph(ddf, str(mlp_onnx)).GetValue()
    got = np.array([remote.GetBinContent(i) for i in range(22)])
    want = np.array([local.GetBinContent(i) for i in range(22)])
    assert remote.GetEntries() == local.GetEntries() > 1000
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_names_from_a_model_file_are_never_compiled_on_workers(ROOT, tmp_path, mlp_onnx, client):
    """A stored feature name that is not a column is refused on distributed data frames too."""
    import json

    from conftest import MIXED
    from test_security import set_metadata

    marker = tmp_path / "pwned"
    names = list(MIXED)
    names[2] = f'x_i + 0*gSystem->Exec("touch {marker}")'
    crafted = set_metadata(mlp_onnx, tmp_path / "crafted.onnx", "hepsift.features", json.dumps(names))
    files = [str(write_tree(tmp_path / "d.root", mixed_arrays(1000, seed=3)))]
    ddf = ROOT.RDataFrame("Events", files, executor=client, npartitions=2)
    with pytest.raises(hepsift.MetadataError, match="hepsift.features"):
        hepsift.rdf.define(ddf, "score", str(crafted))
    assert not marker.exists()


def test_dask_workers_stream_batches_with_per_event_scores(ROOT, tmp_path, mlp_onnx, client):
    """By default each worker streams its own entry ranges in batches (also batches larger
    than a range); the scores equal the per-event scores entry by entry, and a varied input
    is scored per event on the workers too."""
    files = [str(write_tree(tmp_path / f"b{i}.root", mixed_arrays(3000 + 700 * i, seed=40 + i), basket=900))
             for i in range(2)]
    model = hepsift.rdf.Model(mlp_onnx)
    ddf = ROOT.RDataFrame("Events", files, executor=client, npartitions=3)
    assert hepsift.rdf.strategy_for(ddf, MIXED) == "stream"
    assert hepsift.rdf.strategy_for(ddf.Filter("x_b"), MIXED) == "per-event"
    for kwargs in ({}, {"batch_size": 100_000, "strategy": "stream"}):
        node = hepsift.rdf.define(ddf, "fast", model, **kwargs)
        out = hepsift.rdf.define(node, "pe", model, strategy="per-event").AsNumpy(["pe", "fast"])
        assert len(out["pe"]) == 6700 and np.max(np.abs(out["pe"] - out["fast"])) <= 1e-6
    with pytest.raises(hepsift.ConfigurationError, match="'two-pass' is not supported on distributed"):
        hepsift.rdf.define(ddf, "s", model, batch_size=64, strategy="two-pass")
