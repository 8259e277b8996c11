"""hepsift.anomaly.limit_table: expected CLs limits per method, signal and background efficiency."""

import importlib.util
import json
import math

import numpy as np
import pytest

import hepsift
from hepsift.anomaly import HBOS, limit_table
from hepsift.data import Dataset
from hepsift.stats import upper_limit

NAMES = ["x", "noise", "ht"]
LUMI = 140e3
W_B, W_S = 50.0, 0.02  # events per simulated event


def _background(rng, n):
    return np.c_[rng.normal(size=n), rng.normal(size=n), rng.exponential(100.0, n) + 50.0].astype(np.float32)


def _signal(rng, n):
    """Far out in x (6 sigma), like the background in 'noise', harder in H_T."""
    return np.c_[rng.normal(6.0, 0.3, n), rng.normal(size=n), rng.exponential(300.0, n) + 50.0].astype(np.float32)


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(1)
    X_train = _background(rng, 4000)       # the detectors' training events
    Xb, Xs = _background(rng, 20000), _signal(rng, 5000)
    wb, ws = np.full(len(Xb), W_B), np.full(len(Xs), W_S)
    # a detector that knows nothing: trained on a feature distributed alike in signal and background
    noise = HBOS(n_bins=20, seed=0).fit(X_train[:, 1:2], feature_names=["noise"])
    table = limit_table({"noise": noise}, (Xb, wb), {"sig": (Xs, ws)}, feature_names=NAMES, luminosity=LUMI,
                        supervised=False, baselines=("x",), eps_b=(1e-2, 1e-3, 1e-5),
                        training_background=X_train)
    return {"Xb": Xb, "wb": wb, "Xs": Xs, "ws": ws, "X_train": X_train, "noise": noise, "table": table}


def test_perfect_score_equals_upper_limit_by_hand(toy):
    """A cut on x keeps all the signal and exactly eps_b of the (uniformly weighted) background:
    the cell is upper_limit of s = all signal, b = eps_b * N * w, sumw2 = eps_b * N * w^2."""
    cell = toy["table"].cell("x", "sig", 1e-2)
    n_b = round(1e-2 * len(toy["Xb"]))
    assert (cell.n_b, cell.n_s) == (n_b, len(toy["Xs"]))
    assert cell.eps_s == 1.0 and cell.eps_b_achieved == pytest.approx(1e-2, rel=1e-12)
    hand = upper_limit(np.array([W_S * len(toy["Xs"])]), (np.array([n_b * W_B]), np.array([n_b * W_B**2])))
    assert cell.s == pytest.approx(W_S * len(toy["Xs"]), rel=1e-12)
    assert cell.b == pytest.approx(n_b * W_B, rel=1e-12) and cell.b_sumw2 == pytest.approx(n_b * W_B**2, rel=1e-12)
    assert cell.s_mc_stat == pytest.approx(1 / math.sqrt(len(toy["Xs"])), rel=1e-9)
    assert cell.expected == pytest.approx(hand.expected, rel=1e-6)
    assert (cell.minus_1sigma, cell.plus_1sigma) == pytest.approx((hand.bands[-1], hand.bands[1]), rel=1e-6)
    assert cell.kind == "baseline" and cell.refused is None


def test_random_score_scales_like_no_cut(toy):
    """A cut that does not separate keeps eps_S ~ eps_B. With uniform weights both b and sum w^2
    scale by eps_B and s by eps_S, so mu_up(cut) = mu_up(no cut) * sqrt(eps_B) / eps_S
    (mu_up ~ sqrt(b + sum w^2) / s; checked to 1%)."""
    Xs, ws, wb = toy["Xs"], toy["ws"], toy["wb"]
    nocut = upper_limit(np.array([ws.sum()]), (np.array([wb.sum()]), np.array([np.square(wb).sum()])))
    for eps in (1e-2, 1e-3):
        cell = toy["table"].cell("noise", "sig", eps)
        assert cell.kind == "detector" and cell.refused is None
        # the detector does nothing: the signal passes as often as the background (binomial, 4 sigma)
        assert abs(cell.eps_s - cell.eps_b_achieved) < 4 * math.sqrt(cell.eps_b_achieved / len(Xs))
        scaled = nocut.expected * math.sqrt(cell.eps_b_achieved) / cell.eps_s
        assert cell.expected == pytest.approx(scaled, rel=0.01)
        assert cell.expected > 20 * toy["table"].cell("x", "sig", eps).expected


def test_zero_background_after_the_cut_is_refused(toy):
    table = toy["table"]
    for method in ("x", "noise"):
        cell = table.cell(method, "sig", 1e-5)   # 20 000 events cannot define 1e-5
        assert cell.expected is None and cell.n_b == 0
        assert "no background event passes the cut" in cell.refused
    text = str(table)
    assert "refused [1]" in text and "[1] noise, sig, eps_b = 1e-05: no background event passes" in text
    assert "[2] x, sig, eps_b = 1e-05: no background event passes" in text
    assert cell.text() == "refused"


def test_few_background_events_refused_by_the_mc_stat_rule():
    """A cut that leaves 3 background MC events has sqrt(3)/3 = 58% MC stat > max_mc_stat = 50%."""
    rng = np.random.default_rng(2)
    Xb, Xs = _background(rng, 300), _signal(rng, 200)
    table = limit_table({}, (Xb, np.full(300, 10.0)), {"sig": (Xs, np.full(200, 0.1))}, feature_names=NAMES,
                        luminosity=LUMI, supervised=False, baselines=("x",), eps_b=(1e-2,))
    cell = table.cell("x", "sig", 1e-2)
    assert cell.n_b == 3 and cell.b_mc_stat == pytest.approx(1 / math.sqrt(3))
    assert cell.expected is None and cell.refused.startswith("DataError:") and "max_mc_stat = 0.5" in cell.refused


@pytest.mark.parametrize("eps", [(), (0.0,), (1.0,), (-1e-3,), (1e-2, 1e-2), ("a",)])
def test_bad_eps_b(toy, eps):
    with pytest.raises(hepsift.ConfigurationError, match="eps_b must be distinct background efficiencies"):
        limit_table({}, (toy["Xb"], toy["wb"]), {"sig": (toy["Xs"], toy["ws"])}, feature_names=NAMES,
                    luminosity=LUMI, supervised=False, baselines=("x",), eps_b=eps)


def test_input_refusals(toy):
    bkg, sig = (toy["Xb"], toy["wb"]), {"sig": (toy["Xs"], toy["ws"])}
    common = dict(supervised=False, baselines=("x",))
    with pytest.raises(hepsift.DataError, match="among the detectors' training events"):
        limit_table({"noise": toy["noise"]}, bkg, sig, feature_names=NAMES, luminosity=LUMI,
                    training_background=toy["Xb"][:10], **common)
    with pytest.raises(hepsift.ConfigurationError, match="luminosity"):
        limit_table({}, bkg, sig, feature_names=NAMES, **common)
    with pytest.raises(hepsift.ConfigurationError, match="feature_names"):
        limit_table({}, bkg, sig, luminosity=LUMI, **common)
    with pytest.raises(hepsift.InputMismatchError, match="features"):
        limit_table({}, Dataset.from_arrays(toy["Xb"], np.zeros(len(toy["Xb"])), feature_names=["a", "b", "c"]),
                    {"sig": Dataset.from_arrays(toy["Xs"], np.ones(len(toy["Xs"])), feature_names=NAMES)}, **common)
    with pytest.raises(hepsift.DataError, match="non-negative"):
        limit_table({}, (toy["Xb"], -toy["wb"]), sig, feature_names=NAMES, luminosity=LUMI, **common)
    with pytest.raises(hepsift.ConfigurationError, match="H_T baseline"):
        limit_table({}, (toy["Xb"][:, :2], toy["wb"]), {"sig": (toy["Xs"][:, :2], toy["ws"])},
                    feature_names=["x", "noise"], luminosity=LUMI, supervised=False)
    with pytest.raises(hepsift.ConfigurationError, match="method names must be distinct"):
        limit_table({"x": toy["noise"]}, bkg, sig, feature_names=NAMES, luminosity=LUMI, **common)
    with pytest.raises(hepsift.ConfigurationError, match="named 'background'"):
        limit_table({}, bkg, {"background": sig["sig"]}, feature_names=NAMES, luminosity=LUMI, **common)
    with pytest.raises(hepsift.ConfigurationError, match="unknown baseline"):
        limit_table({}, bkg, sig, feature_names=NAMES, luminosity=LUMI, supervised=False, baselines=("met",))


def test_supervised_and_ht_baselines_on_datasets():
    """The supervised classifier trains on half of each sample; every method is evaluated on the
    other half with its weights doubled, so the signal yield is unchanged."""
    from hepsift.models import MLPClassifier

    rng = np.random.default_rng(3)
    Xb, Xs = _background(rng, 4000), _signal(rng, 1000)
    bkg = Dataset.from_arrays(Xb, np.zeros(len(Xb)), np.full(len(Xb), 1e-3), feature_names=NAMES, luminosity=LUMI)
    sig = Dataset.from_arrays(Xs, np.ones(len(Xs)), np.full(len(Xs), 1e-6), feature_names=NAMES, luminosity=LUMI)
    mlp = MLPClassifier(hidden_layers=(8,), epochs=20, class_weight="balanced", seed=1)
    table = limit_table({}, bkg, {"sig": sig}, supervised=mlp, eps_b=(1e-2,), seed=1)
    assert table.luminosity == LUMI and table.provenance["n_evaluated"] == {"background": 2000, "sig": 500}
    sup, ht = table.cell("supervised (MLPClassifier)", "sig", 1e-2), table.cell("ht", "sig", 1e-2)
    assert sup.kind == "supervised" and ht.kind == "baseline"
    for cell in (sup, ht):
        assert cell.refused is None and cell.s / cell.eps_s == pytest.approx(sig.weight.sum(), rel=1e-9)
    assert sup.eps_s > 0.95 and sup.expected < ht.expected


def test_outputs(toy, tmp_path):
    table = toy["table"]
    out = table.to_json(tmp_path / "limits.json")
    data = json.loads(out.read_text())
    assert len(data["cells"]) == 6 and data["luminosity"] == LUMI
    refused = [c for c in data["cells"] if c["refused"]]
    assert len(refused) == 2 and all(c["expected"] is None for c in refused)
    assert data["provenance"]["detectors_checked_against_training_events"] is True
    csv_path = table.to_csv(tmp_path / "limits.csv")
    lines = csv_path.read_text().splitlines()
    assert len(lines) == 7 and lines[0].startswith("method,signal,kind,eps_b")
    with pytest.raises(hepsift.OutputError):
        table.to_csv(csv_path)
    table.to_csv(csv_path, overwrite=True)
    if importlib.util.find_spec("pandas") is None:
        with pytest.raises(hepsift.DependencyError, match="pandas"):
            table.to_dataframe()
    else:
        assert len(table.to_dataframe()) == 6


def _ntuples(tmp_path, rng, n_background, n_signal):
    """hepsift-like ntuples: a background file (0.5 events per simulated event) and a Z' file."""
    import uproot

    files = {}
    for name, X, mass, w in (("bkg", _background(rng, n_background), 0.0, 0.5),
                             ("zp", _signal(rng, n_signal), 1000.0, 1e-4)):
        files[name] = tmp_path / f"{name}.root"
        with uproot.recreate(files[name]) as f:
            f["Events"] = {**{n: X[:, i] for i, n in enumerate(NAMES)}, "event": np.arange(len(X), dtype=np.int64),
                           "weight": np.full(len(X), w), "signal_mass": np.full(len(X), mass, np.float32)}
    return files


def test_from_root_evaluates_odd_events_with_full_yields(tmp_path):
    """hepsift ntuples: the odd event numbers are evaluated (the detectors trained on the even
    ones), their weights doubled; each file with signal_mass > 0 is one signal."""
    from hepsift.anomaly import limit_table_from_root

    files = _ntuples(tmp_path, np.random.default_rng(4), 4000, 600)
    table = limit_table_from_root({}, files, luminosity=LUMI, features=NAMES, supervised=False,
                                  baselines=("x",), eps_b=(1e-2,))
    assert table.signals == ["zp"] and table.provenance["n_evaluated"] == {"background": 2000, "zp": 300}
    cell = table.cell("x", "zp", 1e-2)
    assert cell.eps_s == 1.0 and cell.s == pytest.approx(600 * 1e-4 * LUMI, rel=1e-9)
    assert (cell.n_b, cell.b) == (20, pytest.approx(20 * 2 * 0.5 * LUMI, rel=1e-9))
    assert cell.expected == pytest.approx(upper_limit(np.array([cell.s]), (np.array([cell.b]),
                                                                         np.array([20 * (LUMI) ** 2]))).expected,
                                          rel=1e-6)


@pytest.mark.validation
def test_generated_preset_limits_follow_s_and_b(tmp_path):
    """Pythia 8 'smoke' preset: detectors trained on even events, every cell of the table on the
    odd ones is either refused with a reason or within a factor 2 of the Gaussian counting estimate
    1.96 sqrt(b + sum w^2) / s, with ordered bands."""
    from hepsift.anomaly import limit_table_from_root
    from hepsift.events import generate_preset
    from hepsift.models import MLPClassifier

    files = generate_preset("smoke", tmp_path / "smoke", seed=1, progress=False)
    even = Dataset.from_root(files, "full", luminosity=LUMI, selection="event % 2 == 0")
    det = HBOS(seed=1).fit(even.X[even.y == 0], feature_names=even.feature_names)
    table = limit_table_from_root({"hbos": det}, files, luminosity=LUMI, seed=1,
                                  supervised=MLPClassifier(hidden_layers=(32, 32), epochs=30, patience=5,
                                                           class_weight="balanced", seed=1))
    assert table.signals == ["zprime_tt_m1000", "tprime_pair_m1200", "wprime_lnu_m2000"]
    assert table.methods == ["hbos", "ht", "supervised (MLPClassifier)"]
    numbers = [c for c in table.cells if c.refused is None]
    for c in table.cells:
        if c.refused is not None:
            assert c.expected is None and len(c.refused) > 30
    for c in numbers:
        estimate = 1.96 * math.sqrt(c.b + c.b_sumw2) / c.s
        assert estimate / 2 < c.expected < 2 * estimate, c
        assert c.minus_1sigma < c.expected < c.plus_1sigma and c.b_mc_stat <= 0.5
    assert len(numbers) >= len(table.cells) // 3, str(table)


def test_anomaly_command_writes_the_limit_table_of_its_detector(tmp_path):
    """`hepsift anomaly --limit-table`: the detector learns the even background events, the table
    (JSON and CSV) equals limit_table_from_root with the same detector on the odd ones."""
    import subprocess
    import sys

    from hepsift.anomaly import limit_table_from_root

    files = _ntuples(tmp_path, np.random.default_rng(5), 6000, 800)
    out = tmp_path / "table.json"
    cmd = [sys.executable, "-m", "hepsift.cli", "anomaly", str(files["bkg"]), "--detector", "hbos", "--features",
           ",".join(NAMES), "-o", str(tmp_path / "hbos.onnx"), "--seed", "3", "--limit-table", str(out),
           "--signals", str(files["zp"]), "--luminosity", str(LUMI), "--eps-b", "1e-2", "--no-supervised"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    written = json.loads(out.read_text())
    assert (tmp_path / "table.csv").read_text().splitlines()[0].startswith("method")

    from hepsift.io import read_tree

    even = read_tree(files["bkg"], NAMES, selection="event % 2 == 0")
    det = HBOS(seed=3).fit(np.stack([even[n] for n in NAMES], axis=1).astype(np.float32), feature_names=NAMES)
    table = limit_table_from_root({"hbos": det}, files, luminosity=LUMI, features=NAMES, supervised=False,
                                  eps_b=(1e-2,), seed=3)
    assert json.loads(json.dumps(table.to_dict()))["cells"] == written["cells"]
    assert {c["method"] for c in written["cells"]} == {"hbos", "ht"}

    # the table needs signals; a second run does not overwrite without --overwrite
    i = cmd.index("--signals")
    bad = subprocess.run(cmd[:i] + cmd[i + 2:], capture_output=True, text=True)
    assert bad.returncode == 2 and "--limit-table and --signals go together" in bad.stderr
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 2 and "exists" in again.stderr
