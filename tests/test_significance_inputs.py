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
