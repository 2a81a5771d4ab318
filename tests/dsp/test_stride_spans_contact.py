"""A stride far off the foot's recent ones is left empty (rejected), not reported (issue 16).

A stride that spans a missed contact reports a double stride time and length; one that ends on
a second contact found within the same stance (a real walker pivoting on one foot: PyShoe
2017-11-22-11-39-47) reports a "stride" of a few mm. Both would be confidently wrong numbers.
A long single stride (a runner turning round: 1.7-2.1 s among 0.7 s strides, one swing in the
motion-capture truth) is real and keeps its row: a long stride spans a missed contact only when
the foot stood still between its toe-off and the next IC.
"""

from __future__ import annotations

import numpy as np
import pytest

from dsp.block import SensorInfo
from dsp.foot_analyzer import FootAnalyzer
from dsp.foot_events import ContactEvents

FS = 200.0


def _analyzer(gn_dps: np.ndarray, recent: list[float], **overrides) -> FootAnalyzer:
    fa = FootAnalyzer(SensorInfo("left_foot", "left_foot", "test", FS), **overrides)
    fa._start_segment()
    fa._gn = gn_dps  # the smoothed rotation without the turn about the vertical, deg/s
    fa._recent_strides = list(recent)
    return fa


def _contacts(stride_s: float) -> tuple[ContactEvents, ContactEvents]:
    ic = 0
    to = int(0.6 * FS)
    n_ic = int(stride_s * FS)
    return ContactEvents(ic, ic + 40, to), ContactEvents(n_ic, n_ic + 40, n_ic + 120)


def _swinging(n: int) -> np.ndarray:
    return np.full(n, 150.0)


def test_a_double_stride_with_a_stance_inside_is_odd():
    ev, nxt = _contacts(2.2)
    gn = _swinging(800)
    gn[260:330] = 5.0  # 0.35 s of foot-flat between the toe-off and the next IC
    fa = _analyzer(gn, [1.10, 1.08, 1.12])
    assert fa._odd_stride(2.2, ev, nxt)
    assert fa._recent_strides == [1.10, 1.08, 1.12]  # not one of the foot's strides


def test_a_long_single_stride_keeps_its_row():
    ev, nxt = _contacts(1.76)
    fa = _analyzer(_swinging(800), [0.72, 0.70, 0.74])
    assert not fa._odd_stride(1.76, ev, nxt)
    assert fa._recent_strides[-1] == 1.76


def test_a_short_quiet_moment_in_the_swing_is_no_stance():
    ev, nxt = _contacts(2.2)
    gn = _swinging(800)
    gn[260:280] = 5.0  # 0.1 s: shorter than missed_stance_min_s
    assert not _analyzer(gn, [1.10, 1.08, 1.12])._odd_stride(2.2, ev, nxt)


def test_a_stride_ending_within_its_stance_is_odd():
    ev, nxt = _contacts(0.28)
    fa = _analyzer(_swinging(800), [1.10, 1.08, 1.12])
    assert fa._odd_stride(0.28, ev, nxt)


@pytest.mark.parametrize(
    ("recent", "overrides"),
    [([1.1], {}), ([2.75, 1.22], {}), ([1.10, 1.08, 1.12], {"stride_jump_ratio": 0.0})],
)
def test_no_judgement_without_history_or_when_off(recent, overrides):
    gn = _swinging(800)
    gn[260:330] = 5.0
    for stride in (0.28, 2.2):
        ev, nxt = _contacts(stride)
        assert not _analyzer(gn, recent, **overrides)._odd_stride(stride, ev, nxt)


def test_the_history_keeps_the_last_strides_only():
    fa = _analyzer(_swinging(800), [])
    for s in (1.0, 1.1, 1.2, 1.3, 1.25):
        ev, nxt = _contacts(s)
        assert not fa._odd_stride(s, ev, nxt)
    assert fa._recent_strides == [1.2, 1.3, 1.25]
