"""Every significance applies the same input rule: finite s >= 0, b > 0, sigma_b >= 0."""

from __future__ import annotations

import math

import pytest

from hepsift import stats
from hepsift.errors import DataError

BAD = [
    ((-5.0, 100.0), "signal must be non-negative, got s = \\[-5.0\\]"),
    ((1.0, 0.0), "background must be positive"),
    ((1.0, math.inf), "b must be finite, got \\[inf\\]"),
    ((math.inf, 1.0), "s must be finite"),
    ((math.nan, 1.0), "NaN"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
@pytest.mark.parametrize("fn", [stats.simple_significance, stats.asimov_significance])
def test_same_rule_for_every_significance(fn, args, message):
    with pytest.raises(DataError, match=message):
        fn(*args)


def test_infinite_or_negative_sigma_b():
    with pytest.raises(DataError, match="sigma_b must be finite"):
        stats.asimov_significance(1.0, 10.0, math.inf)
    with pytest.raises(DataError, match="sigma_b must be non-negative"):
        stats.asimov_significance(1.0, 10.0, -1.0)
    assert stats.simple_significance(0.0, 4.0) == 0.0


def test_reach_is_explained_when_the_uncertainty_caps_z():
    from hepsift.stats.significance import significance_vs_luminosity

    capped = significance_vs_luminosity(2047.0, 3.576e4, rel_sigma_b=0.1, reference_luminosity=1.4e5)
    x = 2047.0 / 3.576e4
    assert capped.z_max == pytest.approx(math.sqrt(2 * (x - math.log1p(x))) / 0.1)
    assert capped.lumi_3sigma == math.inf and capped.reach_text(3).startswith("never (") and "0.56" in capped.reach_text(3)
    free = significance_vs_luminosity(2047.0, 3.576e4, reference_luminosity=1.4e5)
    assert free.z_max == math.inf and free.reach_text(3) == f"{free.lumi_3sigma:.4g} /pb"
