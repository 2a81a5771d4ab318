"""One ground contact: the row type behind STRIDES.csv (analysis-output v1).

Every analyzer (foot or pelvis, streaming or batch) returns :class:`ContactRow` objects; writers
(CSV, parquet, viewer tables) serialise them with :data:`STRIDE_COLUMNS` in this order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

__all__ = [
    "CONTACT_KEYS",
    "FLAG_NAMES",
    "STRIDE_COLUMNS",
    "ContactRow",
    "strike_type_from_angle",
]

#: Flags a contact may carry (analysis-output v1).
FLAG_NAMES = ("saturated", "gap", "low_alignment", "rejected")

#: The per-contact columns a foot sensor measures from the contact alone (up to its toe-off):
#: known about a stride before the row, whose stride metrics need the next contact. Streaming
#: analyzers release them early (``FeedResult.early_rows``) for alerts; the row later carries the same values.
CONTACT_KEYS = (
    "contact_time",
    "foot_strike_angle",
    "strike_type",
    "pronation_excursion",
    "max_pronation_velocity",
    "peak_impact",
)

#: Default Altman & Davis (2012) foot strike angle thresholds, deg.
REARFOOT_ABOVE_DEG = 8.0
FOREFOOT_BELOW_DEG = -1.6


def strike_type_from_angle(
    angle_deg: float,
    *,
    rearfoot_above_deg: float = REARFOOT_ABOVE_DEG,
    forefoot_below_deg: float = FOREFOOT_BELOW_DEG,
) -> str:
    """Classify a foot strike angle (deg, > 0 toes up) as rearfoot / midfoot / forefoot.

    Thresholds after Altman & Davis (2012), "A kinematic method for footstrike pattern
    detection in barefoot and shod runners", Gait & Posture 35(2).
    Returns ``""`` for a NaN angle.
    """
    if angle_deg is None or not math.isfinite(angle_deg):
        return ""
    if angle_deg > rearfoot_above_deg:
        return "rearfoot"
    if angle_deg < forefoot_below_deg:
        return "forefoot"
    return "midfoot"


@dataclass
class ContactRow:
    """One row of STRIDES.csv. Units as in the spec; ``None`` = empty cell."""

    sensor_id: str
    side: str
    t_ic: float
    t_to: float | None = None
    contact_time: float | None = None
    stride_time: float | None = None
    cadence: float | None = None
    foot_strike_angle: float | None = None
    strike_type: str | None = None
    pronation_excursion: float | None = None
    max_pronation_velocity: float | None = None
    stride_length: float | None = None
    speed: float | None = None
    peak_impact: float | None = None
    pelvic_drop: float | None = None
    vertical_oscillation: float | None = None
    flags: list[str] = field(default_factory=list)
    # Columns after the fixed ones (allowed by the spec: "more columns may follow").
    flight_time: float | None = None
    #: ``run`` or ``walk``: the activity of the contact (analysis-output v1 ``activity``)
    activity: str | None = None
    events_source: str | None = None
    #: The contact closes a walk: the walker stands still after it (a walking bout ends here,
    #: :mod:`dsp.bouts`). Not a column of STRIDES.csv.
    ends_walk: bool = field(default=False, metadata={"column": False})

    def add_flag(self, flag: str) -> None:
        """Add a flag once (keeps the order of :data:`FLAG_NAMES`)."""
        if flag not in FLAG_NAMES:
            raise ValueError(f"unknown flag {flag!r}, expected one of {FLAG_NAMES}")
        if flag not in self.flags:
            self.flags.append(flag)
            self.flags.sort(key=FLAG_NAMES.index)

    def as_record(self) -> dict[str, object]:
        """Dict in column order; flags joined with ``;``; NaN turned into ``None``."""
        rec: dict[str, object] = {}
        for name in STRIDE_COLUMNS:  # shallow: every field is a number, a string or flags
            v = getattr(self, name)
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            rec[name] = v
        rec["flags"] = ";".join(self.flags)
        return rec


#: STRIDES.csv columns, in order (the fixed ones of the spec first).
STRIDE_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in fields(ContactRow) if f.metadata.get("column", True)
)
