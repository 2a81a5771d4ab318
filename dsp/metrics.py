"""The one registry of stride metrics: column, label, unit, CSV decimals, placement, activity.

Every consumer reads it, none restates it: the STRIDES.csv writer (decimals), SUMMARY.json, the
alert rules (:data:`dsp.alerts.METRICS`: unit and which sensors carry the metric), the session
report and comparison (labels and units) and the viewer. Columns are those of
:data:`dsp.contact.STRIDE_COLUMNS` (analysis-output v1); units are the spec's.

:func:`cadence_spm` is the one cadence formula (steps/min from a stride time).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FEET",
    "METRIC_BY_COLUMN",
    "METRIC_LIST",
    "PELVIS",
    "Metric",
    "cadence_spm",
    "csv_decimals",
    "metric",
]

#: Placements of a metric: measured by the foot sensors, by the pelvis sensor, or both.
FEET = ("left_foot", "right_foot")
PELVIS = ("pelvis",)


@dataclass(frozen=True)
class Metric:
    """One numeric column of STRIDES.csv.

    Attributes
    ----------
    column : str
        The STRIDES.csv column (and :class:`dsp.contact.ContactRow` field).
    label : str
        Plain-language name for reports, the viewer and alerts, lower case.
    unit : str
        The column's unit (analysis-output v1).
    decimals : int
        Decimals kept in STRIDES.csv (the stride table of reports is rounded the same way).
    placements : tuple of str
        Sensor placements whose rows carry it.
    activities : tuple of str
        Activities it is reported for (``running``, ``walking``).
    symbol : str
        The unit as displayed after a number ("°", " steps/min", ...).
    """

    column: str
    label: str
    unit: str
    decimals: int
    placements: tuple[str, ...]
    activities: tuple[str, ...] = ("running", "walking")
    symbol: str = ""

    @property
    def feet(self) -> bool:
        """Carried by the foot sensors' rows."""
        return any(p in FEET for p in self.placements)

    @property
    def pelvis(self) -> bool:
        """Carried by the pelvis sensor's rows."""
        return "pelvis" in self.placements


#: Every numeric column of STRIDES.csv, in column order.
METRIC_LIST: tuple[Metric, ...] = (
    Metric("t_ic", "initial contact", "s", 6, FEET + PELVIS, symbol=" s"),
    Metric("t_to", "toe-off", "s", 6, FEET + PELVIS, symbol=" s"),
    Metric("contact_time", "contact time", "s", 6, FEET + PELVIS, symbol=" s"),
    Metric("stride_time", "stride time", "s", 6, FEET + PELVIS, symbol=" s"),
    Metric("cadence", "cadence", "steps/min", 3, FEET + PELVIS, symbol=" steps/min"),
    Metric("foot_strike_angle", "foot strike angle", "deg", 3, FEET, symbol="°"),
    Metric("pronation_excursion", "pronation excursion", "deg", 3, FEET, symbol="°"),
    Metric("max_pronation_velocity", "max pronation velocity", "deg/s", 2, FEET, symbol=" °/s"),
    Metric("stride_length", "stride length", "m", 4, FEET, symbol=" m"),
    Metric("speed", "speed", "m/s", 4, FEET, symbol=" m/s"),
    Metric("peak_impact", "peak impact", "g", 3, FEET, symbol=" g"),
    Metric("pelvic_drop", "pelvic drop", "deg", 3, PELVIS, symbol="°"),
    Metric("vertical_oscillation", "vertical oscillation", "cm", 3, PELVIS, symbol=" cm"),
    Metric("flight_time", "flight time", "s", 6, FEET, ("running",), symbol=" s"),
)

#: column -> :class:`Metric`.
METRIC_BY_COLUMN: dict[str, Metric] = {m.column: m for m in METRIC_LIST}


def metric(column: str) -> Metric:
    """The registry entry of a STRIDES.csv column (``KeyError`` naming it if unknown)."""
    try:
        return METRIC_BY_COLUMN[column]
    except KeyError:
        raise KeyError(f"no metric {column!r} in dsp.metrics") from None


def csv_decimals() -> dict[str, int]:
    """column -> decimals kept in STRIDES.csv."""
    return {m.column: m.decimals for m in METRIC_LIST}


def cadence_spm(stride_time_s: float) -> float:
    """Cadence in steps/min from a stride time in s (two steps per stride)."""
    return 120.0 / stride_time_s
