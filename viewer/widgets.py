"""Plot widgets of the viewer (pyqtgraph). Each is a class; nothing is created at import time.

* :class:`RawSignalPanel`: scrolling raw signals, one plot per sensor, contacts marked.
* :class:`StridePanel`: per-stride metrics over time, strike-type share, pelvic drop and
  asymmetry, and the per-stride overlays (foot pitch, pelvic obliquity).
* :class:`AlertBanner`, :class:`ReplayBar`: the alert banner and the replay controls.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from dsp.block import SampleBlock, SensorInfo
from dsp.contact import FOREFOOT_BELOW_DEG, REARFOOT_ABOVE_DEG
from dsp.metrics import fmt_duration, metric
from viewer.model import StrideModel

__all__ = [
    "ALERT_SYMBOLS",
    "AXIS_COLORS",
    "SIDE_COLORS",
    "STRIKE_COLORS",
    "AlertBanner",
    "RawSignalPanel",
    "ReplayBar",
    "RingBuffer",
    "StridePanel",
    "alert_symbol",
    "runner_readout",
]

#: Left / right colours (blue / orange, told apart by colour-blind viewers too).
SIDE_COLORS = {"left": (31, 119, 180), "right": (255, 127, 14)}
#: Strike-type colours: red, green, purple (as in the reports); none is near the sides'
#: blue and orange (midfoot was amber, hard to tell from the right foot's orange).
STRIKE_COLORS = {"rearfoot": (214, 39, 40), "midfoot": (44, 160, 44), "forefoot": (148, 103, 189)}
#: Sensor-axis colours of the raw plots (x, y, z, norm).
AXIS_COLORS = {"x": (214, 39, 40), "y": (44, 160, 44), "z": (31, 119, 180), "norm": (60, 60, 60)}
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
#: Marker shape per alert rule, in the profile's rule order (none is a side's ● or ▼):
#: pyqtgraph symbol and the same shape as a character for the alert log (two rules never
#: share a shape).
ALERT_SYMBOLS = (("s", "■"), ("d", "◆"), ("t1", "▲"), ("star", "★"), ("p", "⬟"), ("h", "⬢"))
#: Alert colours per level.
LEVEL_COLORS = {"info": (31, 119, 180), "warning": (214, 39, 40), "critical": (120, 0, 20)}


def alert_symbol(rules: list[str], rule: str) -> tuple[str, str]:
    """(pyqtgraph symbol, character) of a rule: by its place in the profile's rules."""
    i = rules.index(rule) if rule in rules else len(rules)
    return ALERT_SYMBOLS[i % len(ALERT_SYMBOLS)]


def _rgba(c: tuple[int, int, int], a: int) -> tuple[int, int, int, int]:
    return (c[0], c[1], c[2], a)


class RingBuffer:
    """Last ``capacity`` samples of a sensor: times (N,) and values (N, C), NaN rows at gaps."""

    def __init__(self, capacity: int, columns: int = 6) -> None:
        self.capacity = int(capacity)
        self.columns = int(columns)
        self.t = np.full(self.capacity, np.nan)
        self.v = np.full((self.capacity, self.columns), np.nan)
        self.n = 0  # samples held
        self.head = 0  # next write index
        self.last_t = -math.inf

    def clear(self) -> None:
        self.t[:] = np.nan
        self.v[:] = np.nan
        self.n = 0
        self.head = 0
        self.last_t = -math.inf

    def _write(self, t: np.ndarray, v: np.ndarray) -> None:
        k = len(t)
        if k >= self.capacity:
            t, v, k = t[-self.capacity :], v[-self.capacity :], self.capacity
        i = self.head
        first = min(k, self.capacity - i)
        self.t[i : i + first] = t[:first]
        self.v[i : i + first] = v[:first]
        if k > first:
            self.t[: k - first] = t[first:]
            self.v[: k - first] = v[first:]
        self.head = (i + k) % self.capacity
        self.n = min(self.capacity, self.n + k)

    def append(self, t: np.ndarray, v: np.ndarray, *, gap_before: bool = False) -> None:
        """Add samples; a NaN sample is inserted where data are missing (the curve breaks)."""
        if len(t) == 0:
            return
        if gap_before and math.isfinite(self.last_t):
            self._write(np.array([0.5 * (self.last_t + t[0])]), np.full((1, self.columns), np.nan))
        self._write(t, v)
        self.last_t = float(t[-1])

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Times (N,) and values (N, C) in time order."""
        if self.n < self.capacity:
            return self.t[: self.n], self.v[: self.n]
        idx = np.r_[self.head : self.capacity, 0 : self.head]
        return self.t[idx], self.v[idx]


def _title(label: str) -> str:
    """A registry label as a plot title ("contact time" -> "Contact time")."""
    return label[:1].upper() + label[1:]


def _style_plot(
    p: pg.PlotItem, title: str, left: str, bottom: str | None = "time (s)", *, grid: bool = True
) -> None:
    p.setTitle(title, size="10pt")
    p.setLabel("left", left)
    if bottom:
        p.setLabel("bottom", bottom)
    if grid:  # grid lines are drawn by the axes: costly on plots that scroll every frame
        p.showGrid(x=True, y=True, alpha=0.25)
    p.setMenuEnabled(False)


class RawSignalPanel(pg.GraphicsLayoutWidget):
    """Scrolling raw signals, one plot per sensor, with contacts marked.

    Parameters
    ----------
    sensors : list of SensorInfo
    quantity : str
        ``gyr`` (deg/s) or ``acc`` (m/s²).
    axes : str
        Any of ``x``, ``y``, ``z`` and/or ``n`` (the norm), e.g. ``"xyz"``.
    window_s : float
        Visible time span, s.
    """

    def __init__(
        self,
        sensors: list[SensorInfo],
        *,
        quantity: str = "gyr",
        axes: str = "xyz",
        window_s: float = 8.0,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent=parent)
        self.setBackground("w")
        self.sensors = list(sensors)
        self.quantity = quantity
        self.axes = [a if a != "n" else "norm" for a in axes]
        self.window_s = float(window_s)
        self.buffers: dict[str, RingBuffer] = {}
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, dict[str, pg.PlotDataItem]] = {}
        self.contact_items: dict[str, pg.PlotCurveItem] = {}
        self.contacts: dict[str, list[float]] = {}
        self.gap_items: dict[str, list] = {}
        self._dirty = True
        first = None
        for i, s in enumerate(self.sensors):
            p = self.addPlot(row=i, col=0)
            _style_plot(
                p,
                "",
                "",
                "time before now (s)" if i == len(self.sensors) - 1 else None,
                grid=False,
            )
            # no grid: grid lines belong to the axes, which would then repaint every frame;
            # no legend box over the signals: the axis colours are named in the title
            if i < len(self.sensors) - 1:
                p.hideAxis("bottom")  # x-linked: one time axis, at the bottom
            p.setXRange(-self.window_s, 0.0, padding=0)
            p.enableAutoRange(axis="x", enable=False)
            p.enableAutoRange(axis="y", enable=False)  # set in steps (see redraw)
            p.setClipToView(True)
            p.setDownsampling(auto=True, mode="peak")
            if first is None:
                first = p
            else:
                p.setXLink(first)
            cap = int(s.sample_rate_hz * self.window_s * 1.6) + 16
            self.buffers[s.sensor_id] = RingBuffer(cap)  # acc xyz, gyr xyz
            self.curves[s.sensor_id] = {}
            self.plots[s.sensor_id] = p
            side = s.side
            col = SIDE_COLORS.get(side or "", (120, 120, 120))
            # a bare curve: the plot's downsampling/clipping (for PlotDataItems) would break
            # the pairs of points that make the vertical contact lines
            item = pg.PlotCurveItem(
                pen=pg.mkPen(_rgba(col, 200), width=1.5, style=QtCore.Qt.PenStyle.DashLine),
                connect="pairs",
            )
            p.addItem(item)
            self.contact_items[s.sensor_id] = item
            self.contacts[s.sensor_id] = []
        self.t_now = 0.0
        self._yrange: dict[str, tuple[float, float]] = {}
        self._yrange_at = -math.inf
        self.set_view(quantity, axes)

    def set_view(self, quantity: str, axes: str) -> None:
        """Show ``quantity`` (``gyr`` deg/s or ``acc`` m/s²) on ``axes`` (``x``/``y``/``z``/``n``).

        Both quantities are buffered, so switching shows the past window at once.
        """
        if quantity not in ("gyr", "acc") or not axes or not set(axes) <= set("xyzn"):
            raise ValueError(f"raw view {quantity!r} {axes!r}: expected gyr|acc and axes of xyzn")
        self.quantity = quantity
        self.axes = [a if a != "n" else "norm" for a in dict.fromkeys(axes)]
        unit = "deg/s" if quantity == "gyr" else "m/s²"
        name = "angular rate" if quantity == "gyr" else "specific force"
        for s in self.sensors:
            p = self.plots[s.sensor_id]
            for c in self.curves[s.sensor_id].values():
                p.removeItem(c)
            keys = " ".join(
                f"<span style='color:{QtGui.QColor(*AXIS_COLORS[a]).name()}'>{a}</span>"
                for a in self.axes
            )
            p.setTitle(
                f"{s.sensor_id} ({s.placement.replace('_', ' ')}): {name}, sensor frame ({keys})",
                size="10pt",
            )
            p.setLabel("left", unit)
            self.curves[s.sensor_id] = {
                a: p.plot(pen=pg.mkPen(AXIS_COLORS[a], width=1), name=a, connect="finite")
                for a in self.axes
            }
        self._yrange.clear()
        self._yrange_at = -math.inf
        self._dirty = True

    def _series(self, v: np.ndarray) -> dict[str, np.ndarray]:
        """The plotted series from buffered rows (acc xyz, gyr xyz)."""
        q = v[:, 3:6] if self.quantity == "gyr" else v[:, 0:3]
        return {
            a: (np.linalg.norm(q, axis=1) if a == "norm" else q[:, "xyz".index(a)])
            for a in self.axes
        }

    def clear_data(self) -> None:
        for b in self.buffers.values():
            b.clear()
        for c in self.contacts.values():
            c.clear()
        self._dirty = True

    def add_block(self, block: SampleBlock) -> None:
        buf = self.buffers.get(block.sensor_id)
        if buf is None or len(block) == 0:
            return
        v = np.hstack([block.acc, block.gyr])
        rate = next(s.sample_rate_hz for s in self.sensors if s.sensor_id == block.sensor_id)
        jump = math.isfinite(buf.last_t) and block.t[0] - buf.last_t > 3.5 / rate
        buf.append(block.t, v, gap_before=bool(len(block.gaps)) or jump)
        self._dirty = True

    def add_contacts(self, sensor_id: str, t_ics: list[float]) -> None:
        if sensor_id in self.contacts:
            self.contacts[sensor_id].extend(t_ics)
            self._dirty = True

    def set_contacts(self, contacts: dict[str, list[float]]) -> None:
        for sid in self.contacts:
            self.contacts[sid] = list(contacts.get(sid, []))
        self._dirty = True

    def redraw(self, t_now: float) -> None:
        """Update the curves (only if something changed) and scroll to ``t_now``."""
        if not self._dirty and t_now == self.t_now:
            return
        self.t_now = t_now
        lo = t_now - self.window_s
        for sid, buf in self.buffers.items():
            t, v = buf.arrays()
            keep = np.isnan(t) | (t >= lo - 0.5)
            t, v = t[keep], v[keep]
            # relative time: the axes stay put (cheap frames), the data scroll
            tr = t - t_now
            series = self._series(v)
            for a, curve in self.curves[sid].items():
                curve.setData(tr, series[a])
            cts = [c - t_now for c in self.contacts[sid] if lo <= c <= t_now]
            yr = self._yrange.get(sid)
            if cts and yr is not None:
                x = np.repeat(cts, 2)
                y = np.tile([yr[0], yr[1]], len(cts))
                self.contact_items[sid].setData(x, y)
            else:
                self.contact_items[sid].setData([], [])
        if abs(t_now - self._yrange_at) > 1.0:  # y ranges move in steps, not every frame
            self._yrange_at = t_now
            self._update_yranges(lo)
        self._dirty = False

    def _update_yranges(self, lo: float) -> None:
        for sid, buf in self.buffers.items():
            t, v = buf.arrays()
            shown = np.column_stack(list(self._series(v[t >= lo]).values()))
            sel = shown[np.isfinite(shown)]
            if sel.size == 0:
                continue
            a, b = float(np.min(sel)), float(np.max(sel))
            pad = 0.08 * max(b - a, 1.0)
            new = (a - pad, b + pad)
            old = self._yrange.get(sid)
            # widen at once, narrow only when the data use less than 60 % of the range
            if (
                old is None
                or new[0] < old[0]
                or new[1] > old[1]
                or ((new[1] - new[0]) < 0.6 * (old[1] - old[0]))
            ):
                self._yrange[sid] = new
                self.plots[sid].setYRange(*new, padding=0)


class StridePanel(pg.GraphicsLayoutWidget):
    """Per-stride metrics as they arrive, and the per-stride overlays.

    Parameters
    ----------
    share_n : int
        Strides in the strike-type share and the pelvic asymmetry.
    span_s : float
        Time span of the metric plots, s (the latest ``span_s`` seconds).
    """

    def __init__(
        self,
        *,
        share_n: int = 20,
        span_s: float = 90.0,
        overlay_n: int = 30,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent=parent)
        self.setBackground("w")
        self.share_n = share_n
        self.span_s = span_s
        self.overlay_n = overlay_n
        self._version = -1
        sym = {"left": "o", "right": "t"}

        # --- foot strike angle, coloured by strike type, with the threshold bands
        p = self.fsa = self.addPlot(row=0, col=0)
        fsa = metric("foot_strike_angle")
        _style_plot(
            p, f"{_title(fsa.label)} (● left, ▼ right)", f"{fsa.shown_unit} (toes up +)", grid=False
        )
        for lo_, hi_, kind in (
            (REARFOOT_ABOVE_DEG, 60.0, "rearfoot"),
            (FOREFOOT_BELOW_DEG, REARFOOT_ABOVE_DEG, "midfoot"),
            (-40.0, FOREFOOT_BELOW_DEG, "forefoot"),
        ):
            band = pg.LinearRegionItem(
                values=(lo_, hi_),
                orientation="horizontal",
                movable=False,
                brush=pg.mkBrush(_rgba(STRIKE_COLORS[kind], 28)),
                pen=pg.mkPen(_rgba(STRIKE_COLORS[kind], 120), style=QtCore.Qt.PenStyle.DashLine),
            )
            band.setZValue(-10)
            p.addItem(band)
            lab = pg.TextItem(
                kind,
                color=STRIKE_COLORS[kind],
                anchor=(0, 0.5),
                fill=pg.mkBrush(255, 255, 255, 190),
            )
            lab.setZValue(5)
            p.addItem(lab)
            setattr(self, f"_band_label_{kind}", (lab, 0.5 * (max(lo_, -8) + min(hi_, 30))))
        p.setYRange(-10, 30)
        self.fsa_scatter = {
            side: pg.ScatterPlotItem(size=7, symbol=sym[side], pen=pg.mkPen(SIDE_COLORS[side]))
            for side in ("left", "right")
        }
        for it in self.fsa_scatter.values():
            p.addItem(it)
        # alerts raised: one marker shape per rule along the top of the strike-angle plot
        self.rules: list[str] = []
        self.alert_scatter = pg.ScatterPlotItem(size=11)
        self.alert_scatter.setZValue(20)
        p.addItem(self.alert_scatter)

        # --- strike-type share over the last N strides
        p = self.share = self.addPlot(row=0, col=1)
        _style_plot(p, f"Strike type, last {share_n} strides", "% of strikes", None)
        p.setYRange(0, 115, padding=0)
        p.setXRange(-0.6, 2.6)
        ax = p.getAxis("bottom")
        ax.setTicks([[(0, "rearfoot"), (1, "midfoot"), (2, "forefoot")]])
        self.share_bars = pg.BarGraphItem(
            x=[0, 1, 2],
            height=[0, 0, 0],
            width=0.7,
            brushes=[pg.mkBrush(STRIKE_COLORS[k]) for k in ("rearfoot", "midfoot", "forefoot")],
        )
        p.addItem(self.share_bars)
        self.share_text = [pg.TextItem("", color=(30, 30, 30), anchor=(0.5, 1)) for _ in range(3)]
        for i, t in enumerate(self.share_text):
            t.setPos(i, 0)
            p.addItem(t)

        # --- pronation velocity, contact time, cadence, pelvic drop: left/right over time
        def side_plot(row: int, col: int, column: str, extra: str = "") -> tuple[pg.PlotItem, dict]:
            m = metric(column)  # title and unit from the registry (dsp.metrics)
            pl = self.addPlot(row=row, col=col)
            # sides told by the title (no legend box over the data)
            _style_plot(pl, f"{_title(m.label)}{extra} (● left, ▼ right)", m.shown_unit, grid=False)
            items = {
                side: pl.plot(
                    pen=pg.mkPen(_rgba(SIDE_COLORS[side], 150), width=1),
                    symbol=sym[side],
                    symbolSize=5,
                    symbolPen=None,
                    symbolBrush=pg.mkBrush(SIDE_COLORS[side]),
                    name=side,
                )
                for side in ("left", "right")
            }
            return pl, items

        self.mpv, self.mpv_items = side_plot(1, 0, "max_pronation_velocity")
        self.ct, self.ct_items = side_plot(1, 1, "contact_time")
        self.cad, self.cad_items = side_plot(2, 0, "cadence")
        self.pd, self.pd_items = side_plot(2, 1, "pelvic_drop", " per step (by stance side)")
        self.time_plots = [self.fsa, self.mpv, self.ct, self.cad, self.pd]
        for pl in self.time_plots[1:]:
            pl.setXLink(self.fsa)

        # --- overlays: foot pitch and pelvic obliquity per stride, time-normalised
        self.ov_foot = self.addPlot(row=3, col=0)
        _style_plot(
            self.ov_foot,
            "Foot pitch per stride (latest bold; blue left, orange right)",
            "deg (toes up +)",
            "% of stride",
        )
        self.ov_pelvis = self.addPlot(row=3, col=1)
        _style_plot(
            self.ov_pelvis,
            "Pelvic obliquity per stride (latest bold; blue left, orange right)",
            "deg",
            "% of stride",
        )
        self.ov_pool: dict[str, list[pg.PlotDataItem]] = {"foot": [], "pelvis": []}
        self.ov_latest: dict[tuple[str, str], pg.PlotDataItem] = {}
        for kind, pl in (("foot", self.ov_foot), ("pelvis", self.ov_pelvis)):
            for side in ("left", "right"):
                self.ov_latest[(kind, side)] = pl.plot(
                    pen=pg.mkPen(SIDE_COLORS[side], width=3), name=f"{side} (latest)"
                )
                self.ov_latest[(kind, side)].setZValue(10)
            self.ov_pool[kind] = [pl.plot(pen=None) for _ in range(2 * overlay_n)]
        self.ov_pelvis_empty = pg.TextItem(
            "no per-stride pelvis traces from the analysis",
            color=(150, 150, 150),
            anchor=(0.5, 0.5),
        )
        self.ov_pelvis_empty.setPos(50, 0)
        self.ov_pelvis.addItem(self.ov_pelvis_empty)
        self.ov_pelvis.setXRange(0, 100)
        self.ov_pelvis.setYRange(-10, 10)
        self.ov_foot.setXRange(0, 100)

        # --- the time cursor (playback position in replay; draggable)
        self.cursor = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen((80, 80, 80), width=1.5))
        self.fsa.addItem(self.cursor)
        self.cursor_lines = []
        for pl in self.time_plots[1:]:
            ln = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((80, 80, 80), width=1))
            pl.addItem(ln)
            self.cursor_lines.append(ln)
        self.cursor.sigPositionChanged.connect(self._sync_cursor)
        for r in range(4):
            self.ci.layout.setRowStretchFactor(r, 1)

    def _sync_cursor(self) -> None:
        x = self.cursor.value()
        for ln in self.cursor_lines:
            ln.setValue(x)

    def set_cursor(self, t: float) -> None:
        """Move the cursor (in steps of 0.1 s: each move repaints five plots)."""
        if not self.cursor.moving and abs(t - self.cursor.value()) >= 0.1:
            self.cursor.blockSignals(True)
            self.cursor.setValue(t)
            self.cursor.blockSignals(False)
            self._sync_cursor()

    def redraw(self, model: StrideModel, t_now: float) -> None:
        """Redraw from the model when it changed; scroll the time plots to ``t_now``."""
        if model.version == self._version:
            return
        self._version = model.version
        lo = max(t_now - self.span_s, 0.0) if math.isfinite(t_now) else 0.0
        foot = [r for r in model.foot_rows() if r.t_ic >= lo]
        for side, sc in self.fsa_scatter.items():
            rs = [r for r in foot if r.side == side and r.foot_strike_angle is not None]
            sc.setData(
                x=[r.t_ic for r in rs],
                y=[r.foot_strike_angle for r in rs],
                brush=[
                    pg.mkBrush(STRIKE_COLORS.get(r.strike_type or "", (150, 150, 150))) for r in rs
                ],
            )
        for side in ("left", "right"):
            rs = [r for r in foot if r.side == side]
            self._set(self.mpv_items[side], rs, "max_pronation_velocity")
            self._set(self.ct_items[side], rs, "contact_time")
            cad_rows = rs or [r for r in model.pelvis_rows(side) if r.t_ic >= lo]
            self._set(self.cad_items[side], cad_rows, "cadence")
            prs = [r for r in model.pelvis_rows(side) if r.t_ic >= lo]
            self._set(self.pd_items[side], prs, "pelvic_drop")
        alerts = [a for a in model.alert_log() if a.t >= lo]
        self.alert_scatter.setData(
            x=[a.t for a in alerts],
            y=[27.0] * len(alerts),
            symbol=[alert_symbol(self.rules, a.rule)[0] for a in alerts],
            brush=[pg.mkBrush(LEVEL_COLORS.get(a.level, (214, 39, 40))) for a in alerts],
            pen=[pg.mkPen("w")] * len(alerts),
        )
        share = model.strike_share(self.share_n)
        h = [0.0 if math.isnan(share[k]) else share[k] for k in ("rearfoot", "midfoot", "forefoot")]
        self.share_bars.setOpts(height=h)
        for i, t in enumerate(self.share_text):
            t.setText(
                "" if math.isnan(share[("rearfoot", "midfoot", "forefoot")[i]]) else f"{h[i]:.0f}%"
            )
            t.setPos(i, max(h[i], 8.0))
        left, right, asym = model.pelvic_asymmetry(self.share_n)
        if math.isfinite(asym):
            self.pd.setTitle(
                f"Pelvic drop per step: left {left:.1f}, right {right:.1f}, "
                f"L−R {asym:+.1f} deg (last {self.share_n})",
                size="10pt",
            )
        self._overlays(model)
        hi = t_now if math.isfinite(t_now) else 1.0
        self.fsa.setXRange(lo, max(hi, lo + 10.0), padding=0.01)
        for kind in ("rearfoot", "midfoot", "forefoot"):
            lab, y = getattr(self, f"_band_label_{kind}")
            lab.setPos(lo, y)

    @staticmethod
    def _set(item: pg.PlotDataItem, rows: list, attr: str) -> None:
        """The rows' ``attr`` over time, in the unit shown (the registry's scale: ms)."""
        scale = metric(attr).scale
        xs, ys = [], []
        for r in rows:
            v = getattr(r, attr)
            if v is not None and math.isfinite(v):
                xs.append(r.t_ic)
                ys.append(v * scale)
        item.setData(xs, ys)

    def _overlays(self, model: StrideModel) -> None:
        traces = model.visible_traces()
        for kind in ("foot", "pelvis"):
            want = [
                tr
                for tr in traces
                if (model.placement(tr.sensor_id) == "pelvis") == (kind == "pelvis")
            ]
            per_side: dict[str, list] = {"left": [], "right": []}
            for tr in want:
                if tr.side in per_side:
                    per_side[tr.side].append(tr)
            pool = iter(self.ov_pool[kind])
            for side, trs in per_side.items():
                latest = self.ov_latest[(kind, side)]
                if trs:
                    v = np.asarray(trs[-1].values, dtype=float)
                    latest.setData(np.linspace(0, 100, len(v)), v)
                else:
                    latest.setData([], [])
                for tr in trs[-self.overlay_n - 1 : -1]:
                    item = next(pool)
                    v = np.asarray(tr.values, dtype=float)
                    item.setData(np.linspace(0, 100, len(v)), v)
                    item.setPen(pg.mkPen(_rgba(SIDE_COLORS[side], 70), width=1))
            for item in pool:
                item.setData([], [])
            if kind == "pelvis":
                self.ov_pelvis_empty.setVisible(not want)


class AlertBanner(QtWidgets.QLabel):
    """A bar across the top of the window: the alerts that are on, or "no alerts"."""

    STYLES: ClassVar[dict[str, str]] = {
        "none": "background:#e8f5e9; color:#1b5e20;",
        "info": "background:#fff8e1; color:#6d4c00;",
        "warning": "background:#ffe0b2; color:#7a3300;",
        "critical": "background:#c62828; color:white;",
    }

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        f = self.font()
        f.setPointSize(13)
        f.setBold(True)
        self.setFont(f)
        self.setMinimumHeight(34)
        self.setWordWrap(True)
        self._shown: tuple[int, ...] | None = None
        self.show_alerts([])

    def show_progress(self, fraction: float) -> None:
        """While the analysis catches up (a jump into a long file): "analysing… N %"."""
        text = f"  analysing… {100 * fraction:.0f} %"
        if self.text() != text:
            self._shown = None  # show_alerts draws again afterwards
            self.setStyleSheet(self.STYLES["info"] + " padding:4px; border-radius:3px;")
            self.setText(text)
            self.level = "loading"

    def show_alerts(self, alerts: list) -> None:
        key = tuple(id(a) for a in alerts)
        if key == self._shown:
            return  # unchanged: a style sheet change relayouts the window
        self._shown = key
        if not alerts:
            self.setText("  ✓ no alerts")
            level = "none"
        else:
            order = {"info": 0, "warning": 1, "critical": 2}
            level = max((a.level for a in alerts), key=lambda x: order.get(x, 0))
            self.setText("  ⚠ " + "   |   ".join(a.message for a in alerts))
        self.setStyleSheet(self.STYLES[level] + " padding:4px; border-radius:3px;")
        self.level = level


class ReplayBar(QtWidgets.QWidget):
    """Play/pause, speed, scrub bar, jump to marker, position read-out."""

    play_toggled = QtCore.Signal(bool)  # True = playing
    speed_changed = QtCore.Signal(float)
    seek_requested = QtCore.Signal(float)

    def __init__(
        self,
        t_start: float,
        t_end: float,
        markers: list[tuple[float, str, str]],
        *,
        speed: float = 1.0,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.t_start, self.t_end = float(t_start), float(t_end)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        self.play = QtWidgets.QPushButton("Pause")
        self.play.setCheckable(True)
        self.play.setChecked(True)
        self.play.toggled.connect(self._on_play)
        lay.addWidget(self.play)
        lay.addWidget(QtWidgets.QLabel("speed"))
        self.speed = QtWidgets.QComboBox()
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}x", s)
        if speed not in SPEEDS:
            self.speed.addItem(f"{speed:g}x", speed)
        self.speed.setCurrentIndex(self.speed.findData(speed))
        self.speed.currentIndexChanged.connect(
            lambda i: self.speed_changed.emit(float(self.speed.itemData(i)))
        )
        lay.addWidget(self.speed)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, max(1, round((self.t_end - self.t_start) * 10)))
        self.slider.sliderReleased.connect(self._on_release)
        self.slider.actionTriggered.connect(self._on_action)
        lay.addWidget(self.slider, 1)
        self.time_label = QtWidgets.QLabel("0:00.0 / 0:00")
        self.time_label.setMinimumWidth(120)
        lay.addWidget(self.time_label)
        self.markers = QtWidgets.QComboBox()
        self.markers.setMinimumWidth(180)
        self.markers.activated.connect(self._on_marker)
        lay.addWidget(self.markers)
        self.set_markers(markers)

    def set_markers(self, markers: list[tuple[float, str, str]]) -> None:
        self.markers.blockSignals(True)
        self.markers.clear()
        self.markers.addItem(f"jump to marker ({len(markers)})", None)
        for t, label, kind in markers:
            self.markers.addItem(f"{_fmt_t(t)}  {label} [{kind}]", float(t))
        self.markers.blockSignals(False)

    def _on_play(self, playing: bool) -> None:
        self.play.setText("Pause" if playing else "Play")
        self.play_toggled.emit(playing)

    def _on_release(self) -> None:
        self.seek_requested.emit(self.t_start + self.slider.value() / 10.0)

    def _on_action(self, action: int) -> None:
        if not self.slider.isSliderDown():  # page clicks and keys
            QtCore.QTimer.singleShot(0, self._on_release)

    def _on_marker(self, i: int) -> None:
        t = self.markers.itemData(i)
        if t is not None:
            self.seek_requested.emit(float(t))
        self.markers.setCurrentIndex(0)

    def set_position(self, t: float) -> None:
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(round((t - self.t_start) * 10))
            self.slider.blockSignals(False)
        self.time_label.setText(f"{_fmt_t(t - self.t_start)} / {_fmt_t(self.t_end - self.t_start)}")


def _fmt_t(t: float) -> str:
    return fmt_duration(t)


def runner_readout(
    foot_rows: list, pelvis_rows: list, placements: dict[str, str], n: int = 40
) -> str:
    """The runner's metrics over the last ``n`` contacts of each foot, in one line: pace,
    distance so far, stride length, flight time, impact, contact-time balance and vertical
    ratio (the functions of SUMMARY.json, :mod:`dsp.runner_metrics`)."""
    from dsp.runner_metrics import contact_time_balance, foot_metrics, vertical_ratio

    def col(rows: list, name: str) -> np.ndarray:
        return np.array([math.nan if getattr(r, name) is None else getattr(r, name) for r in rows])

    if not foot_rows:
        return ""
    by_side = {
        side: [r for r in foot_rows if placements.get(r.sensor_id) == f"{side}_foot"]
        for side in ("left", "right")
    }
    recent = [r for rows in by_side.values() for r in rows[-n:]]
    fm = foot_metrics(
        stride_length=col(recent, "stride_length"),
        speed=col(recent, "speed"),
        flight_time=col(recent, "flight_time"),
        peak_impact=col(recent, "peak_impact"),
    )
    dist = [foot_metrics(stride_length=col(rs, "stride_length"), speed=[], flight_time=[],
                         peak_impact=[])["distance"] for rs in by_side.values() if rs]  # fmt: skip
    parts = []
    if fm["pace_median"]:
        parts.append(f"pace {fmt_duration(fm['pace_median'])[:-2]} /km")
    known = [float(d) for d in dist if d is not None]
    if known and len(known) == len(dist):
        parts.append(f"distance {np.mean(known) / 1000:.2f} km")
    if fm["stride_length_median"]:
        parts.append(f"stride {fm['stride_length_median']:.2f} m")
    if fm["flight_time_median"]:
        parts.append(f"flight {1000 * fm['flight_time_median']:.0f} ms")
    if fm["peak_impact_median"]:
        parts.append(f"impact {fm['peak_impact_median']:.1f} g")
    bal = contact_time_balance(
        col(by_side["left"][-n:], "contact_time"), col(by_side["right"][-n:], "contact_time")
    )
    if bal is not None:
        parts.append(f"contact L/R {bal:.1f}/{100 - bal:.1f} %")
    if pelvis_rows:
        pr = pelvis_rows[-2 * n :]
        vr = vertical_ratio(col(pr, "t_ic"), col(pr, "vertical_oscillation"),
                            col(recent, "t_ic"), col(recent, "stride_length"))  # fmt: skip
        vr = vr[np.isfinite(vr)]
        if vr.size:
            parts.append(f"vertical ratio {np.median(vr):.1f} %")
    return "runner (last strides): " + " · ".join(parts) if parts else ""


def make_palette_legend() -> QtWidgets.QLabel:
    """A one-line legend of the colours used (sides and strike types)."""

    def sw(c: tuple[int, int, int], text: str) -> str:
        col = QtGui.QColor(*c).name()
        return f"<span style='color:{col}; font-size:14pt'>■</span> {text}"

    html = "&nbsp;&nbsp;".join(
        [sw(SIDE_COLORS["left"], "left"), sw(SIDE_COLORS["right"], "right")]
        + [sw(STRIKE_COLORS[k], k) for k in ("rearfoot", "midfoot", "forefoot")]
    )
    lab = QtWidgets.QLabel(html)
    lab.setTextFormat(QtCore.Qt.TextFormat.RichText)
    return lab
