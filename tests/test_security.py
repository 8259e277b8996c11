"""Safety of what hepsift writes and how its command fails.

Outputs: atomic (a failed or interrupted run leaves the previous file byte-identical and no
temporary file), never one of the inputs, never an existing file without ``--overwrite``.
The command: one line on stderr per failure, exit 2 for a wrong command line, 1 for a failure
while running, 130 on SIGINT and 143 on SIGTERM, also in the middle of an event loop.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import MIXED, mixed_arrays, run, write_tree

import hepsift
import hepsift.rdf
from hepsift import OutputError, _atomic


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir() if _atomic._TMP_TAG in p.name)


def _hepsift(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "hepsift.cli", *map(str, args)], cwd=cwd, timeout=timeout)


def _one_line_error(res: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """The failure is exactly one line on stderr, with the exit status and the names asked for."""
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == code, res.stderr
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ---- the atomic-output helper -----------------------------------------------------------
def test_atomic_output_refuses_an_input_also_through_links(tmp_path):
    src = tmp_path / "events.root"
    src.write_bytes(b"weeks of grid time")
    before = _digest(src)
    (tmp_path / "soft.root").symlink_to(src)
    os.link(src, tmp_path / "hard.root")
    for out in (src, tmp_path / "soft.root", tmp_path / "hard.root"):
        with pytest.raises(OutputError, match="input") as err:
            with _atomic.atomic_output(out, inputs=[src], overwrite=True) as tmp:
                tmp.write_bytes(b"")
        assert str(out) in str(err.value) and str(src) in str(err.value)
    assert _digest(src) == before and _leftovers(tmp_path) == []


def test_atomic_output_overwrite_folder_and_missing_folder(tmp_path):
    out = tmp_path / "result.json"
    out.write_text("old")
    os.chmod(out, 0o640)
    with pytest.raises(OutputError, match="exists; pass --overwrite"):
        with _atomic.atomic_output(out) as tmp:
            tmp.write_text("new")
    assert out.read_text() == "old"
    with _atomic.atomic_output(out, overwrite=True) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".json" and tmp.exists()
        tmp.write_text("new")
    assert out.read_text() == "new" and (out.stat().st_mode & 0o777) == 0o640  # keeps the old permissions
    with pytest.raises(OutputError, match="is a folder"):
        _atomic.check_output(tmp_path, overwrite=True)
    with pytest.raises(OutputError, match="does not exist"):
        _atomic.check_output(tmp_path / "no" / "x.root")
    assert _atomic.check_output(tmp_path / "a" / "b.root", make_parents=True).parent.is_dir()
    assert _leftovers(tmp_path) == [] and not _atomic.PENDING


@pytest.mark.parametrize("error", [RuntimeError("writer failed"), KeyboardInterrupt()])
def test_atomic_output_failure_keeps_the_previous_file(tmp_path, error):
    out = tmp_path / "scores.root"
    out.write_bytes(b"previous result")
    before = _digest(out)
    with pytest.raises(type(error)):
        with _atomic.atomic_output(out, overwrite=True) as tmp:
            tmp.write_bytes(b"half of the new result")
            assert str(tmp) in _atomic.PENDING
            raise error
    assert _digest(out) == before and _leftovers(tmp_path) == [] and not _atomic.PENDING


# ---- hepsift apply: outputs ---------------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """(folder, model, events file, events file with a NaN at entry 537)."""
    from conftest import MIXED, torch_mlp

    from hepsift.export import to_onnx

    d = tmp_path_factory.mktemp("apply")
    X = np.stack([v.astype(np.float32) for v in mixed_arrays(512, seed=9).values()], axis=1)
    model = to_onnx(torch_mlp(6), d / "mlp.onnx", feature_names=MIXED, sample=X, mean=X.mean(axis=0),
                    scale=X.std(axis=0) + 1e-3)
    arrays = mixed_arrays(3000)
    events = write_tree(d / "events.root", arrays)
    arrays["x_d"] = arrays["x_d"].copy()
    arrays["x_d"][537] = np.nan
    nan = write_tree(d / "nan.root", arrays)
    return d, model, events, nan


def test_apply_refuses_its_input_as_output(small):
    d, model, events, _ = small
    before = _digest(events)
    (d / "alias.root").unlink(missing_ok=True)
    (d / "alias.root").symlink_to(events)
    for out in (events, d / "alias.root"):
        res = _hepsift("apply", model, events, "-o", out, "--overwrite")
        _one_line_error(res, 2, str(out), str(events), "input")
    res = _hepsift("apply", model, events, "-o", model, "--overwrite")
    _one_line_error(res, 2, str(model), "input")
    assert _digest(events) == before


def test_apply_overwrite_and_failed_run(small):
    import uproot

    d, model, events, nan = small
    out = d / "scored.root"
    out.write_bytes(b"an older result")
    before = _digest(out)
    res = _hepsift("apply", model, events, "-o", out)
    _one_line_error(res, 2, str(out), "--overwrite")
    assert _digest(out) == before

    # A run that fails at entry 537 (NaN, checked) leaves the previous output as it was.
    res = _hepsift("apply", model, nan, "-o", out, "--overwrite", "--threads", "2")
    _one_line_error(res, 1, "x_d", "NaN at entry 537")
    assert _digest(out) == before and _leftovers(d) == []

    res = _hepsift("apply", model, events, "-o", out, "--overwrite", "--branches", "x_f", "x_l")
    assert res.returncode == 0, res.stderr
    tree = uproot.open(out)["Events"]
    assert tree.num_entries == 3000 and sorted(tree.keys()) == ["score", "x_f", "x_l"]
    assert (out.stat().st_mode & 0o777) != 0o600 and _leftovers(d) == []


def test_apply_bad_files_and_names_are_one_line(small):
    d, model, events, _ = small
    out = d / "never.root"
    text = d / "notes.txt"
    text.write_text("not a ROOT file\n")
    cases = [
        (["apply", model, text, "-o", out], 1, [str(text), "not a readable ROOT file"]),
        (["apply", model, events, "-t", "Evnts", "-o", out], 1, ["no tree 'Evnts'", "Events", str(events)]),
        (["apply", model, events, "--branches", "x_f", "x_dd", "-o", out], 1, ["--branches", "'x_dd'", "x_d"]),
        (["apply", model, events, "-o", "/nonexistent/x.root"], 2, ["/nonexistent/x.root", "does not exist"]),
        (["apply", model, events, "-o", d], 2, [str(d), "is a folder"]),
        (["apply", model, events, "-o", out, "--threads", "-3"], 2, ["--threads", "-3"]),
        (["apply", model, events, "-o", out, "--batch-size", "0"], 2, ["--batch-size", ">= 1"]),
    ]
    for argv, code, needles in cases:
        _one_line_error(_hepsift(*argv), code, *needles)
    assert not out.exists() and _leftovers(d) == []
    debug = _hepsift("--debug", "apply", model, events, "-t", "Evnts", "-o", out)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "MissingBranchError" in debug.stderr


# ---- hepsift apply: Ctrl-C and SIGTERM in the middle of the event loop ---------------------
@pytest.fixture(scope="module")
def big(small):
    """600k events: the per-event path scores them in several seconds."""
    d, model, _, _ = small
    arrays = mixed_arrays(600_000, seed=5)
    return model, write_tree(d / "big.root", arrays, basket=50_000)


def test_apply_stops_mid_loop_on_sigint_and_sigterm(big, tmp_path):
    """Both runs at once (they share the wait for ROOT to start): each is stopped in its event
    loop, within 3 s, with 130 (SIGINT) or 143 (SIGTERM), and leaves the previous output."""
    model, events = big
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    runs = []
    for sig, code in [(signal.SIGINT, 130), (signal.SIGTERM, 143)]:
        folder = tmp_path / signal.Signals(sig).name
        folder.mkdir()
        out = folder / "scored.root"
        out.write_bytes(b"the previous result")
        proc = subprocess.Popen([sys.executable, "-m", "hepsift.cli", "apply", str(model), str(events), "-o",
                                 str(out), "--overwrite", "--batch-size", "1"],
                                stderr=subprocess.PIPE, text=True, env=env)
        runs.append((sig, code, folder, out, _digest(out), proc))
    try:
        for sig, code, folder, out, before, proc in runs:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:  # the loop writes the temporary file
                tmp = [p for p in folder.iterdir() if _atomic._TMP_TAG in p.name]
                if tmp and tmp[0].exists() and tmp[0].stat().st_size > 0:
                    break
                time.sleep(0.05)
            time.sleep(0.3)
            assert proc.poll() is None, "the event loop ended before the signal"
            sent = time.monotonic()
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=30)
            elapsed = time.monotonic() - sent
            assert proc.returncode == code, err
            assert elapsed < 3.0, elapsed
            assert signal.Signals(sig).name in err and "Traceback" not in err
            assert _digest(out) == before and _leftovers(folder) == []
    finally:
        for *_, proc in runs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# ---- other commands ----------------------------------------------------------------------
def test_limits_bad_arguments_and_files(tmp_path):
    scores = write_tree(tmp_path / "scores.root", {"score": np.linspace(0, 1, 200, dtype=np.float32),
                                                    "label": (np.arange(200) % 2).astype(np.int32)})
    base = ["limits", scores, "--tree", "Events", "--signal", "label == 1", "--background", "b=label == 0",
            "--output-dir", tmp_path / "out"]
    for extra, needles in [(["--bins", "0"], ["--bins", "0"]), (["--bins", "-5"], ["--bins", "-5"]),
                           (["--range", "7", "0"], ["--range", "7 0"])]:
        _one_line_error(_hepsift(*base, *extra, cwd=tmp_path), 2, *needles)
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps([1, 2]))
    _one_line_error(_hepsift("limits", "--workspace", as_list, cwd=tmp_path), 1, str(as_list), "JSON list",
                    "pyhf workspace")
    _one_line_error(_hepsift("limits", "--workspace", scores, cwd=tmp_path), 1, str(scores), "not a text file",
                    "pyhf workspace")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_anomaly_and_generate_refuse_to_overwrite(tmp_path):
    from conftest import MIXED

    events = write_tree(tmp_path / "bkg.root", mixed_arrays(500))
    out = tmp_path / "det.onnx"
    out.write_bytes(b"someone's model")
    before = _digest(out)
    res = _hepsift("anomaly", events, "--features", ",".join(MIXED[:3]), "-o", out)
    _one_line_error(res, 2, str(out), "--overwrite")
    assert _digest(out) == before
    res = _hepsift("generate", "--process", "ttbar", "--events", "5", "-o", events, "--workers", "1")
    _one_line_error(res, 2, str(events), "--overwrite")
    assert res.returncode == 2 and _digest(events) == _digest(tmp_path / "bkg.root")
    _one_line_error(_hepsift("generate", "--process", "ttbar", "--events", "0", "-o", tmp_path / "g.root"), 2,
                    "--events")


def test_train_tune_nplm_limits_refuse_existing_outputs_before_working(tmp_path):
    events = write_tree(tmp_path / "ev.root", {"score": np.linspace(0, 1, 100, dtype=np.float32),
                                               "label": (np.arange(100) % 2).astype(np.int32)})
    np.save(tmp_path / "ref.npy", np.zeros((50, 2)))
    cases = {
        "train": (["train", events, "--features", "score", "-o", tmp_path / "train"], "model.hsm"),
        "tune": (["tune", events, "--pool", "max_depth=[2,3]", "-o", tmp_path / "tune"], "trials.csv"),
        "nplm": (["nplm", "--reference", tmp_path / "ref.npy", "--data", tmp_path / "ref.npy", "--output-dir",
                  tmp_path / "nplm"], "nplm.json"),
        "limits": (["limits", events, "--tree", "Events", "--signal", "label == 1", "--background", "b=label == 0",
                    "--output-dir", tmp_path / "limits"], "workspace.json"),
    }
    for name, (argv, existing) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / existing).write_text("an earlier result")
        res = _hepsift(*argv, cwd=tmp_path)
        _one_line_error(res, 2, str(folder / existing), "--overwrite")
        assert (folder / existing).read_text() == "an earlier result"
        assert sorted(p.name for p in folder.iterdir()) == [existing], name
    # The demo writes only into a new folder or one it wrote before.
    _one_line_error(_hepsift("demo", "-o", tmp_path / "train", cwd=tmp_path), 2, str(tmp_path / "train"),
                    "did not write")
    _one_line_error(_hepsift("demo", "-o", events, cwd=tmp_path), 2, str(events), "is a file")
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == ["model.hsm"]


def test_unexpected_errors_are_one_line(monkeypatch, capsys):
    import types

    from hepsift import cli
    from hepsift.cli import _signals

    def boom(args):
        raise TypeError("expected str, bytes or os.PathLike object, not NoneType")

    command = types.ModuleType("boom_command")
    command.add_arguments, command.run = (lambda p: None), boom
    monkeypatch.setitem(sys.modules, "boom_command", command)
    monkeypatch.setattr(_signals, "install", lambda: None)
    monkeypatch.setitem(cli.COMMANDS, "boom", ("boom_command", "fails"))
    assert cli.main(["boom"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["hepsift boom: error: unexpected TypeError: expected str, bytes or os.PathLike object, "
                   "not NoneType (run with --debug for the traceback)"]
    with pytest.raises(TypeError):
        cli.main(["--debug", "boom"])


@pytest.mark.parametrize("arm", ["_signals.arm_native('t')", "pass"])
def test_a_forked_worker_stopped_by_sigterm_does_not_end_the_command(tmp_path, arm):
    """Process pools fork workers and may stop them with SIGTERM: that signal ends the worker
    (the usual handler), not the command (the guard's wake-up pipe is not inherited)."""
    code = (
        "import os, signal, time\n"
        "from hepsift.cli import _signals\n"
        f"_signals.install(); {arm}\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    time.sleep(30); os._exit(0)\n"
        "time.sleep(0.3); os.kill(pid, signal.SIGTERM); _, status = os.waitpid(pid, 0)\n"
        "time.sleep(0.5); print('alive', os.WIFSIGNALED(status) and os.WTERMSIG(status))\n"
    )
    res = run([sys.executable, "-c", code], timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["alive", str(int(signal.SIGTERM))]


def test_python_writers_refuse_an_existing_file_unless_asked(tmp_path, mlp_onnx):
    """to_onnx, an estimator's save and export leave an existing file byte-identical unless
    overwrite=True; with it the file is replaced."""
    from conftest import MIXED, mixed_arrays

    from hepsift.export import to_onnx
    from hepsift.models import BDTClassifier

    before = Path(mlp_onnx).read_bytes()
    X = np.stack([v.astype(np.float32) for v in mixed_arrays(400, seed=5).values()], axis=1)
    y = (X[:, 0] > 0).astype(int)
    bdt = BDTClassifier(n_estimators=5, seed=1).fit(X, y)
    with pytest.raises(hepsift.OutputError, match="exists; pass --overwrite"):
        bdt.to_onnx(mlp_onnx, MIXED)
    with pytest.raises(hepsift.OutputError, match="exists"):
        to_onnx(bdt, mlp_onnx, feature_names=MIXED, sample=X[:50])
    assert Path(mlp_onnx).read_bytes() == before
    saved = bdt.save(tmp_path / "bdt.hsm")
    first = saved.read_bytes()
    with pytest.raises(hepsift.OutputError, match="bdt.hsm' exists"):
        BDTClassifier(n_estimators=3, seed=2).fit(X, y).save(saved)
    assert saved.read_bytes() == first
    bdt.to_onnx(mlp_onnx, MIXED, overwrite=True)
    assert Path(mlp_onnx).read_bytes() != before and hepsift.load(saved).n_estimators == 5


# ---- model files are data: names from metadata never compiled, digest of graph and metadata ----

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
    assert sorted(hepsift.rdf.sample(str(path), 10, seed=1).AsNumpy(["a", "b"])) == ["a", "b"]
    marker = tmp_path / "pwned"
    bad = set_metadata(path, tmp_path / "bad.onnx", "hepsift.generated_features",
                       json.dumps(["a", f'b; gSystem->Exec("touch {marker}")']))
    with pytest.raises(hepsift.MetadataError, match="hepsift.generated_features"):
        hepsift.rdf.sample(str(bad), 10, seed=1)
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


def test_a_malicious_saved_estimator_runs_nothing(tmp_path):
    """A pickle in place of a saved estimator, or of any member of one, is refused unread."""
    import zipfile

    from test_saved_format import _payload

    marker = tmp_path / "pwned"
    whole = tmp_path / "model.hsm"
    whole.write_bytes(_payload(marker))
    with pytest.raises(hepsift.ModelError, match="pickle"):
        hepsift.load(whole)
    from hepsift.models import MLPClassifier

    X = np.random.default_rng(0).normal(size=(200, 3)).astype(np.float32)
    good = MLPClassifier(hidden_layers=(4,), epochs=1).fit(X, (X[:, 0] > 0).astype(int)).save(tmp_path / "good.hsm")
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    for name in members:
        bad = tmp_path / f"bad-{name.replace('/', '_')}.hsm"
        with zipfile.ZipFile(bad, "w") as zf:
            for n, data in members.items():
                zf.writestr(n, _payload(marker) if n == name else data)
        with pytest.raises(hepsift.ModelError):
            hepsift.load(bad)
    assert not marker.exists()
