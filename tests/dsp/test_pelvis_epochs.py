"""The streamed epoch analysis (``analyse_epochs``) equals ``analyse_span`` on each window.

``PelvisAnalyzer`` does the per-sample work once (gyroscope chaining, running sums, contact
detection) and analyses each epoch from that state; this checks, epoch by epoch, that its
steps are those of the plain per-window analysis, up to rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dsp.orientation import rotate_rows
from dsp.pelvis_analyzer import PelvisAnalyzer
from dsp.pelvis_metrics import analyse_span
from firmware_bridge.simulator import simulate_session


def _trace(sp, j: int, t: np.ndarray) -> np.ndarray | None:
    """Obliquity from IC to the same foot's next IC, 101 points (as the analyser keeps it)."""
    n2 = sp.next2_ic[j]
    if sp.obl is None or not math.isfinite(n2) or n2 > t[-1]:
        return None
    return np.interp(np.linspace(sp.ev.t_ic[j], n2, 101), t, sp.obl)


class _Checked(PelvisAnalyzer):
    """Records the aligned data and compares every epoch with ``analyse_span``."""

    def __init__(self, *a, **k) -> None:
        super().__init__(*a, **k)
        self.rec: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.n_compared = 0
        self.worst = 0.0

    def _process(self, piece) -> None:
        t, acc, gyr, _, new_seg = piece[:5]
        if bool(new_seg) and self._seg is not None:
            self._close_segment()  # as the analyser does, before forgetting the segment
        if bool(new_seg):
            self.rec = []  # epochs index the samples of their segment
        r = self._R
        self.rec.append((t, rotate_rows(acc, r), rotate_rows(gyr, r)))
        super()._process(piece)

    def _analyse_epochs(self, epochs, final) -> None:
        n0 = len(self._steps)
        super()._analyse_epochs(epochs, final)
        got = self._steps[n0:]
        t = np.concatenate([x[0] for x in self.rec])
        acc = np.concatenate([x[1] for x in self.rec])
        gyr = np.concatenate([x[2] for x in self.rec])
        want = []
        for lo, hi, lo_own, hi_own in epochs:
            sp = analyse_span(
                t[lo:hi], acc[lo:hi], gyr[lo:hi], sampling_rate_hz=self.fs, gravity=9.80665
            )
            for j in range(len(sp.ev)):
                if lo_own <= sp.ev.i_peak[j] + lo < hi_own:
                    want.append(
                        (
                            sp.ev.t_ic[j],
                            sp.next_ic[j],
                            sp.next2_ic[j],
                            sp.obl_max[j],
                            sp.obl_min[j],
                            sp.obl_ic[j],
                            sp.obl_mean[j],
                            sp.lat_mean[j],
                            sp.vo_cm[j],
                            bool(sp.ev.flight[j]),
                            _trace(sp, j, t[lo:hi]),
                        )
                    )
        assert len(got) == len(want)
        for st, w in zip(got, want, strict=True):
            vals = (
                st.t_ic,
                st.next_ic,
                st.next2_ic,
                st.obl_max,
                st.obl_min,
                st.obl_ic,
                st.obl_mean,
                st.lat_mean,
                st.vo_cm,
            )
            assert st.flight == w[9]
            assert (st.trace is None) == (w[10] is None)
            if st.trace is not None:
                self.worst = max(self.worst, float(np.max(np.abs(st.trace - w[10]))))
            for a, b in zip(vals, w[:9], strict=True):
                assert math.isnan(a) == math.isnan(b)
                if not math.isnan(a):
                    self.worst = max(self.worst, abs(a - b) / max(1.0, abs(b)))
            self.n_compared += 1


@pytest.mark.parametrize(
    ("rate", "duration", "loss", "seed"), [(208.0, 90.0, 0.0, 4), (50.0, 300.0, 0.05, 3)]
)
def test_epochs_equal_per_window_analysis(rate, duration, loss, seed) -> None:
    sim = simulate_session("easy", duration_s=duration, rate_hz=rate, seed=seed, packet_loss=loss)
    info = next(s for s in sim.sensors if s.placement == "pelvis")
    pa = _Checked(info)
    for b in sim.iter_blocks(7.0):
        if b.sensor_id == info.sensor_id:
            pa.feed(b)
    pa.finish()
    assert pa.n_compared > 100
    assert pa.worst < 1e-9
