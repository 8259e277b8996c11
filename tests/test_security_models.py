"""A model file is data: names stored in its metadata are bound only to existing columns and
never compiled, so opening or applying a crafted file runs no code; errors point at the
caller's own names."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MIXED, mixed_arrays, run, write_tree

import hepsift
import hepsift.rdf


def set_metadata(src: Path, dst: Path, key: str, value: str, reseal: bool = True) -> Path:
    """Copy an ONNX file with one metadata property replaced (what a hostile editor would do;
    ``reseal``: one who also recomputes the digest)."""
    import onnx

    from hepsift.export._metadata import seal

    model = onnx.load(str(src))
    for prop in model.metadata_props:
        if prop.key == key:
            prop.value = value
            break
    else:
        raise AssertionError(f"{src} has no metadata property {key}")
    if reseal:
        seal(model)
    onnx.save(model, str(dst))
    return dst


def payload(marker: Path) -> str:
    return f'x_i + 0*gSystem->Exec("touch {marker}")'


@pytest.fixture
def crafted(tmp_path, mlp_onnx):
    """The MLP fixture with its third stored feature name replaced by a C++ payload."""
    marker = tmp_path / "pwned"
    names = list(MIXED)
    names[2] = payload(marker)
    path = set_metadata(mlp_onnx, tmp_path / "crafted.onnx", "hepsift.features", json.dumps(names))
    return path, marker


def test_crafted_feature_name_is_refused_and_never_compiled(ROOT, mixed_file, crafted):
    path, marker = crafted
    df = ROOT.RDataFrame("Events", str(mixed_file[0]))
    with pytest.raises(hepsift.MetadataError) as info:
        hepsift.rdf.define(df, "score", str(path))
    text = str(info.value)
    assert "hepsift.features" in text and "feature 2" in text and "gSystem" in text
    assert "inputs=" in text
    assert not marker.exists()


def test_crafted_feature_name_in_apply(tmp_path, mixed_file, crafted):
    path, marker = crafted
    out = tmp_path / "scored.root"
    res = run([sys.executable, "-m", "hepsift.cli", "apply", str(path), str(mixed_file[0]), "-o", str(out)])
    assert res.returncode == 1, res.stderr
    assert "hepsift.features" in res.stderr and "not columns" in res.stderr
    assert not marker.exists()
    assert not out.exists()


def test_expressions_come_from_the_caller(ROOT, mixed_file, crafted):
    """The same computation passed explicitly through inputs= is the caller's code and runs."""
    path, _ = crafted
    df = ROOT.RDataFrame("Events", str(mixed_file[0]))
    inputs = list(MIXED)
    inputs[2] = "x_i + 0"
    node = hepsift.rdf.define(df, "score", str(path), inputs)
    ref = hepsift.rdf.define(ROOT.RDataFrame("Events", str(mixed_file[0])), "score", str(path), list(MIXED))
    assert np.array_equal(np.asarray(node.AsNumpy(["score"])["score"]), np.asarray(ref.AsNumpy(["score"])["score"]))


def test_renamed_feature_that_is_a_column_typo_gets_near_names(ROOT, mixed_file, mlp_onnx, tmp_path):
    names = list(MIXED)
    names[1] = "x_dd"
    path = set_metadata(mlp_onnx, tmp_path / "typo.onnx", "hepsift.features", json.dumps(names))
    df = ROOT.RDataFrame("Events", str(mixed_file[0]))
    with pytest.raises(hepsift.MetadataError, match=r"feature 1 'x_dd' \(nearest columns: x_d"):
        hepsift.rdf.define(df, "score", str(path))


def test_nan_from_an_expression_is_reported_under_the_expression(ROOT, tmp_path, mlp_onnx):
    arrays = mixed_arrays(200)
    arrays["x_d"] = arrays["x_d"].copy()
    arrays["x_d"][57] = -1000.0
    path = write_tree(tmp_path / "neg.root", arrays)
    inputs = list(MIXED)
    inputs[1] = "x_d > -500. ? x_d / 10. : std::nan(\"\")"
    df = ROOT.RDataFrame("Events", str(path))
    node = hepsift.rdf.define(df, "score", mlp_onnx, inputs)
    with pytest.raises(hepsift.NonFiniteInputError) as info:
        node.Sum("score").GetValue()
    text = str(info.value)
    assert inputs[1] in text and "entry 57" in text, text
    assert "__hepsift" not in text


def test_misspelled_column_in_an_expression(ROOT, mixed_file, mlp_onnx):
    inputs = list(MIXED)
    inputs[1] = "x_dd / 1000."
    df = ROOT.RDataFrame("Events", str(mixed_file[0]))
    with pytest.raises(hepsift.MissingBranchError) as info:
        hepsift.rdf.define(df, "score", mlp_onnx, inputs)
    text = str(info.value)
    assert "unknown name(s) 'x_dd' (did you mean x_d" in text
    assert "the compiler said:" in text and "x_dd" in text.split("the compiler said:")[1]


def test_generated_feature_names_must_be_plain_names(ROOT, tmp_path):
    """A generator's stored output names become column names: anything but an identifier is refused."""
    from hepsift.generative import BetaVAE

    X = np.random.default_rng(0).normal(size=(256, 2)).astype(np.float32)
    vae = BetaVAE(latent_dim=1, hidden=(8,), epochs=1, seed=1).fit(X, feature_names=["a", "b"])
    path = vae.to_onnx(tmp_path / "gen.onnx")
    assert sorted(hepsift.rdf.generate(str(path), 10, seed=1).AsNumpy(["a", "b"])) == ["a", "b"]
    marker = tmp_path / "pwned"
    bad = set_metadata(path, tmp_path / "bad.onnx", "hepsift.generated_features",
                       json.dumps(["a", f'b; gSystem->Exec("touch {marker}")']))
    with pytest.raises(hepsift.MetadataError, match="hepsift.generated_features"):
        hepsift.rdf.generate(str(bad), 10, seed=1)
    assert not marker.exists()


def test_edit_after_export_is_detected_by_the_digest(ROOT, mixed_file, mlp_onnx, tmp_path):
    """Swapping two stored feature names (both real columns) would silently bind the wrong
    columns: the digest written at export refuses the file; verify=False opts out."""
    from hepsift.export import read_metadata, verify_digest

    assert read_metadata(mlp_onnx)["digest"].startswith("sha256:") and verify_digest(mlp_onnx) is True
    names = list(MIXED)
    names[0], names[1] = names[1], names[0]
    swapped = set_metadata(mlp_onnx, tmp_path / "swapped.onnx", "hepsift.features", json.dumps(names), reseal=False)
    assert verify_digest(swapped) is False
    df = ROOT.RDataFrame("Events", str(mixed_file[0]))
    with pytest.raises(hepsift.MetadataError, match="modified after export"):
        hepsift.rdf.define(df, "score", str(swapped))
    model = hepsift.rdf.Model(str(swapped), verify=False)
    assert model.feature_names[:2] == [MIXED[1], MIXED[0]]
    res = run([sys.executable, "-m", "hepsift.cli", "info", str(swapped)])
    assert res.returncode == 1 and "modified after export" in res.stderr
