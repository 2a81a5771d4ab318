"""Writing the analysis results: STRIDES.csv, SUMMARY.json and the optional parquet table.

Formats are fixed by ``shared/spec/analysis-output.md`` (v1): CSV columns in the order of
:data:`dsp.contact.STRIDE_COLUMNS` (the spec's fixed columns first), an empty cell for a
missing value, flags joined with ``;``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np

from dsp.contact import STRIDE_COLUMNS, ContactRow
from dsp.metrics import csv_decimals
from runform.errors import UsageError
from runform.safe_output import describe_os_error

__all__ = ["StridesCsvWriter", "write_parquet", "write_summary_json"]

#: Decimals per column in the CSV (:mod:`dsp.metrics`; times to the microsecond).
_DECIMALS = csv_decimals()


def _formatter(name: str) -> Any:
    """The cell formatter of one column: empty for a missing value, floats rounded."""
    if name == "flags":
        return lambda v: ";".join(v)
    d = _DECIMALS.get(name)

    def fmt(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, (float, np.floating)):
            value = float(value)  # numpy scalars would print as np.float64(...)
            if not math.isfinite(value):
                return ""
            return repr(round(value, d)) if d is not None else repr(value)
        return str(value)

    return fmt


_FORMAT = {c: _formatter(c) for c in STRIDE_COLUMNS}
_CELLS = tuple((c, _DECIMALS.get(c)) for c in STRIDE_COLUMNS)


class StridesCsvWriter:
    """Streams rows to STRIDES.csv as they come (no table held in memory).

    Parameters
    ----------
    path : str or Path
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._fh: IO[str] = open(self.path, "w", newline="", encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"{self.path}: cannot write the strides table ({describe_os_error(exc)})"
            ) from exc
        self._w = csv.writer(self._fh, lineterminator="\n")
        self._w.writerow(STRIDE_COLUMNS)
        self.rows_written = 0

    def write(self, rows: Iterable[ContactRow]) -> None:
        """Append rows (cells as :func:`_formatter` makes them, inlined: a long run writes
        tens of thousands of rows)."""
        out = []
        for r in rows:
            d = r.__dict__
            cells: list[str] = []
            add = cells.append
            for name, dec in _CELLS:
                v = d[name]
                tv = type(v)
                if tv is float:
                    if v - v != 0.0:  # inf or nan
                        add("")
                    else:
                        add(repr(round(v, dec)) if dec is not None else repr(v))
                elif v is None:
                    add("")
                elif tv is str:
                    add(v)
                elif name == "flags":
                    add(";".join(v))
                else:
                    add(_FORMAT[name](v))
            out.append(cells)
        try:
            self._w.writerows(out)
        except OSError as exc:
            raise self._write_error(exc) from None
        self.rows_written += len(out)

    def _write_error(self, exc: OSError) -> UsageError:
        return UsageError(f"{self.path}: cannot write the strides table ({describe_os_error(exc)})")

    def close(self) -> None:
        try:
            self._fh.close()
        except OSError as exc:
            raise self._write_error(exc) from None

    def __enter__(self) -> StridesCsvWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_summary_json(path: str | os.PathLike[str], summary: dict[str, Any]) -> None:
    """Write SUMMARY.json (UTF-8, indented, NaN written as null)."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(clean(summary), fh, indent=2, allow_nan=False)
            fh.write("\n")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the summary ({describe_os_error(exc)})") from None


def write_parquet(path: str | os.PathLike[str], csv_path: str | os.PathLike[str]) -> None:
    """Convert a written STRIDES.csv to parquet (same columns; numbers as float64)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    text_cols = {"sensor_id", "side", "strike_type", "flags", "activity", "events_source"}
    types = {c: (pa.string() if c in text_cols else pa.float64()) for c in STRIDE_COLUMNS}
    try:
        table = pacsv.read_csv(
            csv_path,
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
        pq.write_table(table, path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the parquet table ({exc})") from exc
