"""The fast filters give exactly the values of their plain definitions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dsp.filters import row_norm, rows_all, rows_any, running_max, running_min, saturation_mask

_VALUES = st.one_of(
    st.floats(-5, 5, allow_nan=False),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0]),
)


@settings(max_examples=300, deadline=None)
@given(
    x=arrays(np.float64, st.integers(1, 120), elements=_VALUES),
    size=st.integers(1, 60),
    ahead=st.one_of(st.none(), st.integers(0, 40)),
)
def test_running_max_is_the_maximum_over_each_window(x, size, ahead):
    h = size // 2
    a = h if ahead is None else ahead
    pad = np.concatenate((np.full(h, x[0]), x, np.full(a, x[-1])))
    ref = np.array([pad[i : i + h + a + 1].max() for i in range(x.shape[0])])
    assert np.array_equal(running_max(x, size=size, ahead=ahead), ref, equal_nan=True)
    assert np.array_equal(running_min(x, size=size), -running_max(-x, size=size), equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(x=arrays(np.float64, st.tuples(st.integers(0, 50), st.integers(1, 4)), elements=_VALUES))
def test_saturation_mask_with_a_range_flags_any_axis_at_full_scale(x):
    got = saturation_mask(x, full_scale=4.0)
    assert np.array_equal(got, np.any(np.abs(x) >= 0.985 * 4.0, axis=1))


@settings(max_examples=200, deadline=None)
@given(
    x=arrays(
        np.float64,
        st.tuples(st.integers(0, 50), st.integers(1, 4)),
        elements=st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, 1e300]),
        ),
    )
)
def test_row_reductions_equal_numpy_along_the_short_axis(x):
    """rows_all, rows_any and row_norm are column-by-column versions of the short-axis
    reductions, bit for bit (the analyzers' per-sample masks and norms rely on it)."""
    for m in (np.isfinite(x), x == 0.0, np.abs(x) > 10.0):
        assert np.array_equal(rows_all(m), m.all(axis=1))
        assert np.array_equal(rows_any(m), m.any(axis=1))
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.array_equal(row_norm(x), np.linalg.norm(x, axis=1), equal_nan=True)
