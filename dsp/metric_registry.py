"""One registry of the stride metrics: column, label, unit, decimals, placement, activities.

Every writer and reader of a metric (the STRIDES.csv writer, SUMMARY.json, reports, compare,
history, the viewer) takes a metric's name, label, unit and rounding from here instead of
restating it. Units are the STRIDES.csv units of ``shared/spec/analysis-output.md``; ``show``
and ``scale`` say how a runner sees the value (contact time in ms, not s).

Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = [
    "METRICS",
    "RUNNER_METRICS",
    "SHARE_SMALLEST_CHANGE",
    "Metric",
    "fmt_duration",
    "metric",
    "metrics_for",
]

FEET = ("left_foot", "right_foot")
PELVIS = ("pelvis",)


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


_M = Metric
#: Every per-contact metric, in STRIDES.csv order, then the derived ones.
METRICS: dict[str, Metric] = {
    m.column: m
    for m in (
        _M("t_ic", "initial contact", "s", 6, FEET + PELVIS),
        _M("t_to", "toe-off", "s", 6, FEET + PELVIS),
        _M(
            "contact_time",
            "contact time",
            "s",
            6,
            FEET + PELVIS,
            show="ms",
            scale=1000.0,
            show_decimals=0,
        ),
        _M(
            "stride_time",
            "stride time",
            "s",
            6,
            FEET + PELVIS,
            show="ms",
            scale=1000.0,
            show_decimals=0,
        ),
        _M("cadence", "cadence", "steps/min", 3, FEET + PELVIS, show_decimals=0),
        _M("foot_strike_angle", "foot strike angle", "deg", 3, FEET, show="°"),
        _M("pronation_excursion", "pronation excursion", "deg", 3, FEET, show="°"),
        _M(
            "max_pronation_velocity",
            "max pronation velocity",
            "deg/s",
            2,
            FEET,
            show="°/s",
            show_decimals=0,
        ),
        _M("stride_length", "stride length", "m", 4, FEET, show_decimals=2),
        _M("speed", "speed", "m/s", 4, FEET, show_decimals=2),
        _M("peak_impact", "impact", "g", 3, FEET),
        _M("pelvic_drop", "pelvic drop", "deg", 3, PELVIS, show="°"),
        _M("vertical_oscillation", "vertical oscillation", "cm", 3, PELVIS),
        _M(
            "flight_time",
            "flight time",
            "s",
            6,
            FEET,
            activities=("run",),
            show="ms",
            scale=1000.0,
            show_decimals=0,
        ),
        # derived (not STRIDES.csv columns)
        _M("pace", "pace", "s/km", None, FEET, activities=("run",), show_decimals=0),
        _M("vertical_ratio", "vertical ratio", "%", None, PELVIS, activities=("run",)),
        _M(
            "contact_time_balance",
            "contact time balance (left share)",
            "%",
            None,
            FEET,
            activities=("run",),
        ),
    )
}

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
