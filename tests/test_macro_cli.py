"""The ROOT macro and the hepsift command, run as a user runs them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MIXED, REPO, run

from hepsift.export import onnx_predict


def _root_exe() -> str:
    exe = shutil.which("root", path=os.path.dirname(os.path.abspath(sys.executable))) or shutil.which("root")
    if exe is None:
        pytest.skip("no `root` executable")
    return exe


def test_score_tree_macro(mixed_file, mlp_onnx, tmp_path):
    import uproot

    path, arrays = mixed_file
    out = tmp_path / "scored.root"
    call = f'macros/score_tree.C("{path}","Events","{mlp_onnx}","{out}")'
    res = run([_root_exe(), "-l", "-b", "-q", call], cwd=REPO, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "wrote 5000 entries" in res.stdout
    t = uproot.open(out)["Events"]
    assert t.num_entries == 5000
    got = t.arrays(["score", *MIXED], library="np")
    X = np.stack([got[n].astype(np.float32) for n in MIXED], axis=1)
    assert np.max(np.abs(got["score"] - onnx_predict(mlp_onnx, X))) <= 1e-5
    np.testing.assert_array_equal(got["x_l"], arrays["x_l"])


def test_macro_refuses_wrong_inputs(mixed_file, mlp_onnx, tmp_path):
    path, _ = mixed_file
    call = f'macros/score_tree.C("{path}","Events","{mlp_onnx}","{tmp_path / "o.root"}","s","x_f,x_d")'
    res = run([_root_exe(), "-l", "-b", "-q", call], cwd=REPO, timeout=300)
    assert "takes 6 features but 2 inputs were given" in res.stdout + res.stderr
    assert not (tmp_path / "o.root").exists()


def test_cli_apply_and_info(mixed_file, mlp_onnx, tmp_path):
    import uproot

    path, _ = mixed_file
    out = tmp_path / "applied.root"
    res = run([sys.executable, "-m", "hepsift.cli", "apply", str(mlp_onnx), str(path), "-o", str(out),
               "--threads", "2", "--name", "nn"], timeout=300)
    assert res.returncode == 0, res.stderr
    got = uproot.open(out)["Events"].arrays(["nn", *MIXED], library="np")
    X = np.stack([got[n].astype(np.float32) for n in MIXED], axis=1)
    assert len(got["nn"]) == 5000
    assert np.max(np.abs(got["nn"] - onnx_predict(mlp_onnx, X))) <= 1e-5

    info = run([sys.executable, "-m", "hepsift.cli", "info", str(mlp_onnx), "--json"], timeout=120)
    assert info.returncode == 0, info.stderr
    assert '"feature_names": [\n    "x_f"' in info.stdout and '"kind": "classifier"' in info.stdout


def test_cli_errors_are_clear(tmp_path, mixed_file):
    res = run([sys.executable, "-m", "hepsift.cli", "apply", str(tmp_path / "none.onnx"), str(mixed_file[0]),
               "-o", str(tmp_path / "o.root")], timeout=120)
    assert res.returncode == 1
    assert "hepsift apply: error: hepsift: model file" in res.stderr and "does not exist" in res.stderr
    assert "Traceback" not in res.stderr


def test_cli_config(tmp_path):
    res = run([sys.executable, "-m", "hepsift.cli", "config", "--cflags", "--ldflags"], timeout=60)
    assert res.returncode == 0
    inc = res.stdout.split("-I", 1)[1].split()[0]
    assert (Path(inc) / "hepsift" / "Scorer.hxx").is_file()
    assert "-lhepsift" in res.stdout
    prefix = run([sys.executable, "-m", "hepsift.cli", "config", "--cmake-dir"], timeout=60).stdout.strip()
    assert (Path(prefix) / "hepsiftConfig.cmake").is_file()


def build_with_config_flags(src, code: str):
    """Compile ``code`` written to ``src`` with `hepsift config --cflags --ldflags` alone; the executable."""
    src.write_text(code)
    flags = run([sys.executable, "-m", "hepsift.cli", "config", "--cflags", "--ldflags"], timeout=60).stdout.split()
    exe = src.with_suffix("")
    build = run(["g++", str(src), "-o", str(exe), *flags], timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    return exe


def test_compiled_program_with_config_flags(tmp_path, mlp_onnx):
    """A C++ program built with `hepsift config --cflags --ldflags` scores like ONNX Runtime."""
    exe = build_with_config_flags(
        tmp_path / "app.cxx",
        '#include <hepsift/Model.hxx>\n#include <cstdio>\n'
        "int main(int, char **argv) { hepsift::Model m(argv[1]); std::vector<float> x(6, 0.5f);\n"
        '  std::printf("%.7f %zu\\n", m.evaluate(x)[0], m.featureNames().size()); return 0; }\n',
    )
    res = run([str(exe), str(mlp_onnx)], timeout=60)
    assert res.returncode == 0, res.stderr
    value, nfeat = res.stdout.split()
    assert int(nfeat) == 6
    assert float(value) == pytest.approx(float(onnx_predict(mlp_onnx, np.full((1, 6), 0.5))[0]), abs=1e-6)


def test_rdataframe_program_with_config_flags_alone(tmp_path, mixed_file, mlp_onnx):
    """The README's one-line build: an RDataFrame program that includes hepsift/Scorer.hxx
    compiles and links with `hepsift config --cflags --ldflags` and nothing else."""
    exe = build_with_config_flags(
        tmp_path / "rdf_app.cxx",
        "#include <hepsift/Scorer.hxx>\n#include <ROOT/RDataFrame.hxx>\n#include <cstdio>\n"
        "int main(int, char **argv) {\n"
        "  auto model = std::make_shared<const hepsift::Model>(argv[2]);\n"
        "  ROOT::RDataFrame df(\"Events\", argv[1]);\n"
        "  auto s = hepsift::Define<float, double, int, Long64_t, unsigned int, bool>(df, \"s\", model,\n"
        "      {\"x_f\", \"x_d\", \"x_i\", \"x_l\", \"x_u\", \"x_b\"}).Sum<float>(\"s\");\n"
        "  std::printf(\"%.6f\\n\", *s); return 0; }\n",
    )
    res = run([str(exe), str(mixed_file[0]), str(mlp_onnx)], timeout=120)
    assert res.returncode == 0, res.stderr
    X = np.stack([np.asarray(v, dtype=np.float32) for v in mixed_file[1].values()], axis=1)
    assert float(res.stdout) == pytest.approx(float(np.sum(onnx_predict(mlp_onnx, X), dtype=np.float64)), rel=1e-5)
