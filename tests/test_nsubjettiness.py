"""N-subjettiness (hepsift.events.nsubjettiness) on hand-built constituent sets with known values,
and against fjcontrib's Nsubjettiness as the fastjet wheel offers it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastjet")

from hepsift.errors import ConfigurationError, DataError  # noqa: E402
from hepsift.events import nsubjettiness  # noqa: E402


def _massless(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, ...]:
    pt, eta, phi = (np.asarray(v, dtype=np.float64) for v in (pt, eta, phi))
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)


def _prongs(centres: list[tuple[float, float]], rng: np.random.Generator, n: int = 12, width: float = 1e-3,
            pt: float = 100.0) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Narrow prongs: ``n`` particles of pT ``pt`` / ``n`` within ``width`` of each (eta, phi) centre."""
    eta = np.concatenate([c[0] + width * rng.uniform(-1, 1, n) for c in centres])
    phi = np.concatenate([c[1] + width * rng.uniform(-1, 1, n) for c in centres])
    return _massless(np.full(len(eta), pt / n), eta, phi)


@pytest.mark.parametrize("axes", ["wta_kt", "kt"])
def test_prongs_give_the_known_values(axes: str) -> None:
    rng = np.random.default_rng(1)
    one = _prongs([(0.2, 1.0)], rng)
    two = _prongs([(-0.4, 0.0), (0.4, 0.0)], rng)  # two equal prongs, Delta R = 0.8
    three = _prongs([(0.0, 0.0), (0.5, 0.3), (-0.3, 0.5)], rng)
    jets = [one, two, three]
    counts = np.array([len(j[0]) for j in jets])
    tau = nsubjettiness(*(np.concatenate([j[i] for j in jets]) for i in range(4)), counts=counts, radius=1.0,
                        axes=axes)  # fmt: skip
    assert tau.shape == (3, 3)
    assert tau[0, 0] < 2e-3  # one narrow prong: tau1 ~ its width / R0
    # two equal prongs: half the pT 0.8 from an axis on one prong (WTA), or each prong 0.4 from
    # the jet axis half-way between them (E scheme): tau1 = 0.4 / R0 either way; tau2 ~ 0
    assert tau[1, 0] == pytest.approx(0.4, abs=2e-3) and tau[1, 1] < 2e-3
    assert tau[2, 1] > 0.1 and tau[2, 2] < 2e-3  # three prongs: tau3 ~ 0, tau2 not
    assert np.all(tau[:, 2] <= tau[:, 1]) and np.all(tau[:, 1] <= tau[:, 0])
    # tau_N scales as 1 / R0
    tau_half = nsubjettiness(*two, counts=np.array([len(two[0])]), radius=0.5, axes=axes)
    assert tau_half[0, 0] == pytest.approx(2 * tau[1, 0], rel=1e-12)


def test_wta_tau1_of_two_prongs_is_the_softer_fraction_times_their_distance() -> None:
    rng = np.random.default_rng(4)
    for z, dr in ((0.1, 0.3), (0.25, 0.8), (0.45, 1.2)):
        soft = _prongs([(0.3, 2.0)], rng, pt=100.0 * z, width=1e-4)
        hard = _prongs([(0.3 + dr * 0.6, 2.0 + dr * 0.8)], rng, pt=100.0 * (1 - z), width=1e-4)
        p = [np.concatenate([a, b]) for a, b in zip(soft, hard)]
        tau = nsubjettiness(*p, counts=np.array([len(p[0])]), radius=1.0, n=(1, 2))
        assert tau[0, 0] == pytest.approx(z * dr, abs=2e-4), (z, dr)
        assert tau[0, 1] < 2e-4


def test_tau1_is_the_pt_weighted_distance_to_the_jet_axis() -> None:
    """N = 1, E-scheme axes: the one exclusive kT jet is the sum of all constituents."""
    rng = np.random.default_rng(2)
    counts = np.array([1, 2, 5, 40, 300])
    pt = rng.exponential(20.0, counts.sum()) + 1.0
    eta, phi = rng.normal(0.5, 0.4, counts.sum()), rng.normal(3.0, 0.4, counts.sum())  # across phi = pi
    px, py, pz, e = _massless(pt, eta, phi)
    e = np.sqrt(e**2 + rng.uniform(0.0, 0.5, len(e)) ** 2)  # massive constituents: rapidity, not eta
    got = nsubjettiness(px, py, pz, e, counts, radius=0.8, n=(1, 3), axes="kt")
    jet = np.repeat(np.arange(len(counts)), counts)
    sums = [np.bincount(jet, weights=v) for v in (px, py, pz, e)]
    y_jet, phi_jet = np.arctanh(sums[2] / sums[3]), np.arctan2(sums[1], sums[0])
    y = np.arctanh(pz / e)
    dphi = (phi - phi_jet[jet] + np.pi) % (2 * np.pi) - np.pi
    dr = np.hypot(y - y_jet[jet], dphi)
    want = np.bincount(jet, weights=pt * dr) / (0.8 * np.bincount(jet, weights=pt))
    np.testing.assert_allclose(got[:, 0], want, rtol=1e-10)
    assert got[0, 0] == 0.0 and got[0, 1] == 0.0 and got[1, 1] == 0.0  # N >= constituents: every one an axis
    assert np.all(got[2:, 1] > 0)


@pytest.mark.parametrize(("axes", "fjcontrib"), [("wta_kt", "WTA_KT_Axes"), ("kt", "KT_Axes")])
def test_equals_fjcontrib_nsubjettiness(axes: str, fjcontrib: str) -> None:
    import awkward as ak
    import fastjet

    rng = np.random.default_rng(3)
    counts = rng.integers(3, 200, 40)
    n = int(counts.sum())
    jet = np.repeat(np.arange(len(counts)), counts)
    prong = rng.integers(0, 3, n)  # up to three prongs per jet, with soft spread
    eta = rng.normal(0, 0.3, (len(counts), 3))[jet, prong] + rng.normal(0, 0.08, n)
    phi = rng.normal(1.0, 0.3, (len(counts), 3))[jet, prong] + rng.normal(0, 0.08, n)
    px, py, pz, e = _massless(rng.exponential(10.0, n) + 0.5, eta, phi)
    e = np.sqrt(e**2 + 0.14**2)
    got = nsubjettiness(px, py, pz, e, counts, radius=1.0, axes=axes)
    arr = ak.zip({k: ak.unflatten(v, counts) for k, v in (("px", px), ("py", py), ("pz", pz), ("E", e))})
    seq = fastjet.ClusterSequence(arr, fastjet.JetDefinition(fastjet.kt_algorithm, 1.0))
    ref = ak.to_numpy(seq.njettiness(njets=[1, 2, 3], beta=1.0, R0=1.0, axes_definition=fjcontrib,
                                     measure_definition="NormalizedMeasure"))  # fmt: skip
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)


def test_bad_input_is_refused() -> None:
    p = _massless(np.array([10.0, 20.0]), np.zeros(2), np.array([0.0, 0.5]))
    with pytest.raises(DataError, match="adding up to the 2 particles, they add up to 3"):
        nsubjettiness(*p, counts=np.array([3]), radius=1.0)
    with pytest.raises(DataError, match="jet 1 has no constituents"):
        nsubjettiness(*p, counts=np.array([2, 0]), radius=1.0)
    with pytest.raises(DataError, match="one length"):
        nsubjettiness(p[0], p[1], p[2], p[3][:1], counts=np.array([2]), radius=1.0)
    with pytest.raises(DataError, match="NaN or infinity"):
        nsubjettiness(np.array([np.nan, 1.0]), *p[1:], counts=np.array([2]), radius=1.0)
    with pytest.raises(ConfigurationError, match="radius must be positive"):
        nsubjettiness(*p, counts=np.array([2]), radius=0.0)
    with pytest.raises(ConfigurationError, match="n must be positive integers"):
        nsubjettiness(*p, counts=np.array([2]), radius=1.0, n=(0, 1))
    with pytest.raises(ConfigurationError, match="axes must be one of"):
        nsubjettiness(*p, counts=np.array([2]), radius=1.0, axes="onepass")
