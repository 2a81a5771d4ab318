"""The one registry of stride metrics: every fact about a metric, in one place.

Per metric: its column (STRIDES.csv, :class:`dsp.contact.ContactRow`), label, unit, CSV
decimals, placements, activities, and how people see it: the unit shown and its scale (contact
time in ms, not s), the decimals shown, the symbol after a number, and the smallest change
worth telling a runner about. Every consumer reads it, none restates it: the STRIDES.csv writer
(decimals), SUMMARY.json, the alert rules (:data:`dsp.alerts.METRICS`: unit and which sensors
carry the metric), the session report, comparison, history and findings (labels, units,
smallest changes) and the viewer (titles). Columns are those of
:data:`dsp.contact.STRIDE_COLUMNS` (analysis-output v1); units are the spec's.

:data:`METRIC_LIST` holds the STRIDES.csv columns in column order; :data:`METRICS` adds the
derived metrics of SUMMARY.json (pace, vertical ratio, contact-time balance).
:func:`cadence_spm` is the one cadence formula (steps/min from a stride time) and
:func:`fmt_duration` the one clock format of durations.

Pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FEET",
    "METRICS",
    "METRIC_BY_COLUMN",
    "METRIC_LIST",
    "PELVIS",
    "RUNNER_METRICS",
    "SHARE_SMALLEST_CHANGE",
    "Metric",
    "cadence_spm",
    "csv_decimals",
    "fmt_duration",
    "metric",
    "metrics_for",
]

#: Placements of a metric: measured by the foot sensors, by the pelvis sensor, or both.
FEET = ("left_foot", "right_foot")
PELVIS = ("pelvis",)


@dataclass(frozen=True)
class Metric:
    """One stride metric.

    Attributes
    ----------
    column : str
        The STRIDES.csv column (and :class:`dsp.contact.ContactRow` field), or the derived
        key of SUMMARY.json (``pace``, ``vertical_ratio``, ``contact_time_balance``).
    label : str
        Plain-language name for reports, the viewer and alerts, lower case.
    unit : str
        The column's unit (analysis-output v1).
    decimals : int or None
        Decimals kept in STRIDES.csv (the stride table of reports is rounded the same way);
        ``None`` for a derived metric (not a CSV column).
    placements : tuple of str
        Sensor placements whose rows carry it.
    activities : tuple of str
        Activities it is meaningful for (``run``, ``walk``, as the rows' ``activity``).
    symbol : str
        The unit as displayed after a number in the column's unit ("°", " steps/min", ...).
    show : str
        Unit shown to people when it differs from ``unit`` (``"ms"``).
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
    symbol: str = ""
    show: str = ""
    scale: float = 1.0
    show_decimals: int = 1
    smallest_change: float | None = None

    @property
    def feet(self) -> bool:
        """Carried by the foot sensors' rows."""
        return any(p in FEET for p in self.placements)

    @property
    def pelvis(self) -> bool:
        """Carried by the pelvis sensor's rows."""
        return "pelvis" in self.placements

    @property
    def shown_unit(self) -> str:
        """The unit shown to people."""
        return self.show or self.unit

    def shown(self, value: float) -> float:
        """The value in the unit shown to people."""
        return value * self.scale


_ALL = FEET + PELVIS

#: Every numeric column of STRIDES.csv, in column order.
METRIC_LIST: tuple[Metric, ...] = (
    Metric("t_ic", "initial contact", "s", 6, _ALL, symbol=" s"),
    Metric("t_to", "toe-off", "s", 6, _ALL, symbol=" s"),
    Metric(
        "contact_time",
        "contact time",
        "s",
        6,
        _ALL,
        symbol=" s",
        smallest_change=0.010,
        show="ms",
        scale=1000.0,
        show_decimals=0,
    ),
    Metric(
        "stride_time",
        "stride time",
        "s",
        6,
        _ALL,
        symbol=" s",
        smallest_change=0.010,
        show="ms",
        scale=1000.0,
        show_decimals=0,
    ),
    Metric(
        "cadence",
        "cadence",
        "steps/min",
        3,
        _ALL,
        symbol=" steps/min",
        show_decimals=0,
        smallest_change=3.0,
    ),
    Metric(
        "foot_strike_angle",
        "foot strike angle",
        "deg",
        3,
        FEET,
        symbol="°",
        show="°",
        smallest_change=2.0,
    ),
    Metric(
        "pronation_excursion",
        "pronation excursion",
        "deg",
        3,
        FEET,
        symbol="°",
        show="°",
        smallest_change=1.5,
    ),
    Metric(
        "max_pronation_velocity",
        "max pronation velocity",
        "deg/s",
        2,
        FEET,
        symbol=" °/s",
        show="°/s",
        show_decimals=0,
        smallest_change=50.0,
    ),
    Metric(
        "stride_length",
        "stride length",
        "m",
        4,
        FEET,
        symbol=" m",
        show_decimals=2,
        smallest_change=0.05,
    ),
    Metric("speed", "speed", "m/s", 4, FEET, symbol=" m/s", show_decimals=2, smallest_change=0.10),
    Metric("peak_impact", "peak impact", "g", 3, FEET, symbol=" g", smallest_change=0.5),
    Metric(
        "pelvic_drop", "pelvic drop", "deg", 3, PELVIS, symbol="°", show="°", smallest_change=1.0
    ),
    Metric(
        "vertical_oscillation",
        "vertical oscillation",
        "cm",
        3,
        PELVIS,
        symbol=" cm",
        smallest_change=0.5,
    ),
    Metric(
        "flight_time",
        "flight time",
        "s",
        6,
        FEET,
        ("run",),
        symbol=" s",
        smallest_change=0.010,
        show="ms",
        scale=1000.0,
        show_decimals=0,
    ),
)

#: column -> :class:`Metric` (the STRIDES.csv columns).
METRIC_BY_COLUMN: dict[str, Metric] = {m.column: m for m in METRIC_LIST}

#: Every metric: the STRIDES.csv columns, then the derived ones of SUMMARY.json.
METRICS: dict[str, Metric] = {
    **METRIC_BY_COLUMN,
    **{
        m.column: m
        for m in (
            Metric(
                "pace", "pace", "s/km", None, FEET, ("run",), show_decimals=0, smallest_change=10.0
            ),
            Metric(
                "vertical_ratio", "vertical ratio", "%", None, PELVIS, ("run",), smallest_change=0.5
            ),
            Metric(
                "contact_time_balance",
                "contact time balance (left share)",
                "%",
                None,
                FEET,
                ("run",),
                smallest_change=0.5,
            ),
        )
    },
}

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
    """The registry entry of a column or derived metric (``KeyError`` naming it if unknown)."""
    try:
        return METRICS[column]
    except KeyError:
        raise KeyError(
            f"no metric {column!r} in dsp.metrics (known: {', '.join(METRICS)})"
        ) from None


def metrics_for(placement: str) -> list[Metric]:
    """The metrics a sensor of this placement measures (registry order)."""
    return [m for m in METRICS.values() if placement in m.placements]


def csv_decimals() -> dict[str, int]:
    """column -> decimals kept in STRIDES.csv."""
    return {m.column: m.decimals for m in METRIC_LIST if m.decimals is not None}


def cadence_spm(stride_time_s: float) -> float:
    """Cadence in steps/min from a stride time in s (two steps per stride)."""
    return 120.0 / stride_time_s


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
