"""Read a FIT activity back with an independent decoder (``fitdecode``): what ``runform export``
prints after writing, so a user sees that the file decodes (CRC checked) and what it holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FitOverview", "fit_overview"]


@dataclass
class FitOverview:
    """Message counts, the session's main values and the developer fields of a FIT file."""

    path: str
    messages: dict[str, int] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)
    developer_fields: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        s = self.session
        parts = [
            f"{self.messages.get('record', 0)} records",
            f"{self.messages.get('lap', 0)} lap(s)",
        ]
        if s.get("total_distance") is not None:
            parts.append(f"{s['total_distance']:.0f} m")
        if s.get("total_elapsed_time") is not None:
            parts.append(f"{s['total_elapsed_time']:.0f} s")
        cad = s.get("avg_running_cadence", s.get("avg_cadence"))  # running: a subfield
        if cad is not None:
            spm = 2 * (cad + (s.get("avg_fractional_cadence") or 0.0))
            parts.append(f"cadence {spm:.0f} steps/min")
        if s.get("avg_stance_time") is not None:
            parts.append(f"ground contact {s['avg_stance_time']:.0f} ms")
        names = ", ".join(n for n, _ in self.developer_fields)
        return (
            f"read back {Path(self.path).name} (fitdecode, CRC ok): {', '.join(parts)}; "
            f"developer fields: {names or 'none'}"
        )


def fit_overview(path: str | Path) -> FitOverview:
    """Decode a FIT file whole (CRC checked: a damaged file raises ``fitdecode.FitCRCError``)."""
    import fitdecode

    ov = FitOverview(path=str(path))
    with fitdecode.FitReader(str(path), check_crc=fitdecode.CrcCheck.RAISE) as fr:
        for fm in fr:
            if not isinstance(fm, fitdecode.FitDataMessage):
                continue
            ov.messages[fm.name] = ov.messages.get(fm.name, 0) + 1
            if fm.name == "field_description":
                ov.developer_fields.append(
                    (
                        str(fm.get_value("field_name", fallback="")),
                        str(fm.get_value("units", fallback="") or ""),
                    )
                )
            elif fm.name == "session":
                ov.session = {f.name: f.value for f in fm.fields}
    return ov
