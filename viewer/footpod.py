"""Footpod speed and cadence in the viewer, next to the IMU-derived cadence.

:class:`FootpodTracks` keeps the rows of non-IMU streams (footpods) the worker sends (an
``Update("streams")``: the whole stream at once in replay, rows as they arrive live).
:class:`FootpodOverlay` draws each footpod's cadence as a black dashed line on the stride panel's
cadence plot (steps/min; a pod that reports strides/min is detected against the IMU cadence and
drawn ×2, saying so) and shows its latest speed and cadence at the playback position as a text
line under the plots.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from firmware_bridge.footpod import CadenceCheck, cadence_factor

__all__ = ["FootpodOverlay", "FootpodTracks"]


class FootpodTracks:
    """Footpod rows per stream id, in time order (no Qt)."""

    def __init__(self) -> None:
        self.t: dict[str, np.ndarray] = {}
        self.values: dict[str, dict[str, np.ndarray]] = {}
        self.models: dict[str, str] = {}
        self.version = 0

    def add(self, rows: list[tuple]) -> None:
        """Add ``(stream_id, t (N,), {quantity: (N,)}, device_model, placement)`` rows (from
        :meth:`firmware_bridge.ble_session.BleSession.drain_streams` or a recording's
        ``streams()``); streams without speed or cadence are ignored."""
        for sid, t, values, model, _placement in rows:
            if not {"speed_mps", "cadence_spm"} & set(values):
                continue
            t = np.asarray(t, dtype=float)
            if sid in self.t:
                keep = t > self.t[sid][-1] if len(self.t[sid]) else np.ones(len(t), bool)
                self.t[sid] = np.concatenate([self.t[sid], t[keep]])
                old = self.values[sid]
                for k in old:
                    new = np.asarray(values.get(k, np.full(len(t), np.nan)), dtype=float)
                    old[k] = np.concatenate([old[k], new[keep]])
            else:
                self.t[sid] = t
                self.values[sid] = {k: np.asarray(v, dtype=float) for k, v in values.items()}
                self.models[sid] = model
            self.version += 1

    def __bool__(self) -> bool:
        return bool(self.t)

    def latest(self, sid: str, t_now: float) -> tuple[float, dict[str, float]] | None:
        """The last row of stream ``sid`` at or before ``t_now``: ``(t, {quantity: value})``."""
        t = self.t.get(sid)
        if t is None or not len(t):
            return None
        i = int(np.searchsorted(t, t_now, side="right")) - 1
        if i < 0:
            return None
        return float(t[i]), {k: float(v[i]) for k, v in self.values[sid].items()}

    def window(
        self, sid: str, lo: float, hi: float, quantity: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Times and values of ``quantity`` with ``lo <= t <= hi``."""
        t = self.t[sid]
        v = self.values[sid].get(quantity)
        if v is None:
            return np.empty(0), np.empty(0)
        sel = (t >= lo) & (t <= hi)
        return t[sel], v[sel]


def _name(sid: str) -> str:
    return sid if "pod" in sid else f"footpod {sid}"


class FootpodOverlay:
    """Footpod lines on a cadence plot and a readout label (created on the GUI thread).

    Parameters
    ----------
    cadence_plot : pyqtgraph.PlotItem
        The IMU cadence plot (steps/min over session time).
    """

    def __init__(self, cadence_plot: Any) -> None:
        import pyqtgraph as pg
        from PySide6 import QtWidgets

        self._pg = pg
        self.plot = cadence_plot
        self.tracks = FootpodTracks()
        self.lines: dict[str, Any] = {}
        self.checks: dict[str, CadenceCheck] = {}
        self.label = QtWidgets.QLabel("")
        self.label.setWordWrap(True)
        self.label.hide()
        self._drawn: tuple = ()

    def add(self, rows: list[tuple]) -> None:
        self.tracks.add(rows)

    def redraw(self, t_now: float, imu_cadence: list[float], span_s: float = 90.0) -> None:
        """Update the lines (the last ``span_s`` s up to ``t_now``) and the readout."""
        if not self.tracks or not math.isfinite(t_now):
            return
        key = (self.tracks.version, round(t_now, 1), len(imu_cadence))
        if key == self._drawn:
            return
        self._drawn = key
        lo = max(t_now - span_s, 0.0)
        parts = []
        for k, sid in enumerate(sorted(self.tracks.t)):
            if sid not in self.lines:
                style = (
                    self._pg.QtCore.Qt.PenStyle.DashLine,
                    self._pg.QtCore.Qt.PenStyle.DotLine,
                )[k % 2]
                self.lines[sid] = self.plot.plot(
                    pen=self._pg.mkPen((20, 20, 20), width=2, style=style),
                    name=_name(sid),
                )
            cad_all = self.tracks.values[sid].get("cadence_spm", np.empty(0))
            seen = cad_all[self.tracks.t[sid] <= t_now]
            check = cadence_factor(seen, imu_cadence, name=_name(sid))
            self.checks[sid] = check
            t, cads = self.tracks.window(sid, lo, t_now, "cadence_spm")
            # standing still (cadence 0) is not drawn: it would squash the steps/min scale
            self.lines[sid].setData(
                t, np.where(cads > 0, cads * check.factor, np.nan), connect="finite"
            )
            row = self.tracks.latest(sid, t_now)
            if row is None:
                parts.append(f"{_name(sid)}: -")
                continue
            t_row, vals = row
            speed = vals.get("speed_mps", math.nan)
            cad = vals.get("cadence_spm", math.nan)
            cad_txt = "-" if not math.isfinite(cad) else f"{cad * check.factor:.0f} steps/min"
            if check.factor != 1.0 and math.isfinite(cad):
                cad_txt += f" (pod {cad:.0f}/min ×{check.factor:g})"
            speed_txt = "-" if not math.isfinite(speed) else f"{speed:.2f} m/s"
            imu = [c for c in imu_cadence[-6:] if math.isfinite(c)]
            imu_txt = f", IMU cadence {float(np.median(imu)):.0f} steps/min" if imu else ""
            parts.append(
                f"{_name(sid)} ({self.tracks.models.get(sid, '')}) at {t_row:.1f} s: "
                f"{speed_txt}, {cad_txt}{imu_txt}"
                + (f" — {check.note}" if check.note and check.factor != 1.0 else "")
            )
        text = "  |  ".join(parts)
        if text != self.label.text():
            self.label.setText(text)
        self.label.show()
