"""How a runner sees the metrics: the registry :mod:`dsp.metrics` (column, label, unit, CSV
decimals, placements, activities) plus what the findings, history and viewer need on top: the
unit shown and its scale (contact time in ms, not s), the decimals shown, each metric's
smallest worthwhile change, the derived metrics (pace, vertical ratio, contact-time balance)
and the clock format of durations. Column facts are not restated here: they are read from
:mod:`dsp.metrics`.

Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dsp.metrics import FEET, METRIC_LIST, PELVIS

__all__ = [
    "METRICS",
    "RUNNER_METRICS",
    "SHARE_SMALLEST_CHANGE",
    "Metric",
    "fmt_duration",
    "metric",
    "metrics_for",
]


@dataclass(frozen=True)
class Metric:
    """One stride metric.

    Attributes
    ----------
    column : str
        STRIDES.csv column (or derived key such as ``vertical_ratio`` / ``pace``).
    label : str
        Plain words for a runner (``"contact time"``).
    unit : str
        Unit of the column (``"s"``).
    decimals : int or None
        Decimals written to STRIDES.csv (``None``: not a CSV column or not rounded).
    placements : tuple of str
        Sensor placements whose rows carry it.
    activities : tuple of str
        Activities it is meaningful for (``run``, ``walk``); flight time is running only.
    show : str
        Unit shown to people (``"ms"``).
    scale : float
        Shown value = column value x ``scale``.
    show_decimals : int
        Decimals shown in tables.
    smallest_change : float or None
        Smallest change worth telling a runner about, in ``unit`` (a difference below it is
        called trivial however many strides make it statistically clear): about the
        stride-to-stride noise of a good sensor and the size coaches and studies act on.
    """

    column: str
    label: str
    unit: str
    decimals: int | None
    placements: tuple[str, ...]
    activities: tuple[str, ...] = ("run", "walk")
    show: str = ""
    scale: float = 1.0
    show_decimals: int = 1
    smallest_change: float | None = None

    @property
    def shown_unit(self) -> str:
        return self.show or self.unit

    def shown(self, value: float) -> float:
        """The value in the unit shown to people."""
        return value * self.scale


#: How people see each column (unit shown, scale, decimals): the rest comes from dsp.metrics.
_DISPLAY: dict[str, dict[str, object]] = {
    "contact_time": {"show": "ms", "scale": 1000.0, "show_decimals": 0},
    "stride_time": {"show": "ms", "scale": 1000.0, "show_decimals": 0},
    "flight_time": {"show": "ms", "scale": 1000.0, "show_decimals": 0},
    "cadence": {"show_decimals": 0},
    "foot_strike_angle": {"show": "°"},
    "pronation_excursion": {"show": "°"},
    "max_pronation_velocity": {"show": "°/s", "show_decimals": 0},
    "stride_length": {"show_decimals": 2},
    "speed": {"show_decimals": 2},
    "pelvic_drop": {"show": "°"},
}
_ACTIVITY = {"running": "run", "walking": "walk"}

#: Every per-contact metric (:data:`dsp.metrics.METRIC_LIST`, whose column, label, unit,
#: decimals and placements it takes), then the derived ones.
METRICS: dict[str, Metric] = {
    m.column: Metric(
        m.column,
        m.label,
        m.unit,
        m.decimals,
        m.placements,
        tuple(_ACTIVITY.get(a, a) for a in m.activities),
        **_DISPLAY.get(m.column, {}),  # type: ignore[arg-type]
    )
    for m in METRIC_LIST
}
METRICS.update(
    {
        m.column: m
        for m in (
            Metric("pace", "pace", "s/km", None, FEET, ("run",), show_decimals=0),
            Metric("vertical_ratio", "vertical ratio", "%", None, PELVIS, ("run",)),
            Metric(
                "contact_time_balance",
                "contact time balance (left share)",
                "%",
                None,
                FEET,
                ("run",),
            ),
        )
    }
)

#: Smallest worthwhile change per metric (see :attr:`Metric.smallest_change`), in its unit.
_SMALLEST_CHANGE = {
    "contact_time": 0.010,
    "stride_time": 0.010,
    "cadence": 3.0,
    "foot_strike_angle": 2.0,
    "pronation_excursion": 1.5,
    "max_pronation_velocity": 50.0,
    "stride_length": 0.05,
    "speed": 0.10,
    "peak_impact": 0.5,
    "pelvic_drop": 1.0,
    "vertical_oscillation": 0.5,
    "flight_time": 0.010,
    "pace": 10.0,
    "vertical_ratio": 0.5,
    "contact_time_balance": 0.5,
}
METRICS = {c: replace(m, smallest_change=_SMALLEST_CHANGE.get(c)) for c, m in METRICS.items()}
#: Smallest worthwhile change of a strike-type share (fraction of contacts).
SHARE_SMALLEST_CHANGE = 0.10

#: The runner's metrics added to SUMMARY.json by issue 20 (see ``dsp.runner_metrics``).
RUNNER_METRICS = (
    "pace",
    "stride_length",
    "flight_time",
    "peak_impact",
    "vertical_ratio",
    "contact_time_balance",
)


def metric(column: str) -> Metric:
    """The registry entry of a column; ``KeyError`` names the known ones."""
    try:
        return METRICS[column]
    except KeyError:
        raise KeyError(f"unknown metric {column!r}, expected one of {', '.join(METRICS)}") from None


def metrics_for(placement: str) -> list[Metric]:
    """The metrics a sensor of this placement measures (registry order)."""
    return [m for m in METRICS.values() if placement in m.placements]


def fmt_duration(seconds: float) -> str:
    """A duration as ``m:ss.s`` (``h:mm:ss.s`` from an hour on), as reports and the viewer's
    clock show it; rounded to the tenth before splitting, so 59.97 s is ``1:00.0``, never
    ``0:60.0``. ``"-"`` for a non-finite value."""
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return "-"
    tenths = round(max(seconds, 0.0) * 10)
    m, sec10 = divmod(tenths, 600)
    h, m = divmod(m, 60)
    sec = f"{sec10 // 10:02d}.{sec10 % 10}"
    return f"{h}:{m:02d}:{sec}" if h else f"{m}:{sec}"
