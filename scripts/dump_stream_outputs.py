"""Dump what the streaming pipeline releases on a recording, call by call, as text.

Used by ``scripts/check_outputs_identical.sh`` to prove a refactoring changes no output: the
rows, early rows, alerts and cleared alerts of every call, for two feeding patterns:

* ``replay``: 5 s windows of every sensor in turn (the viewer's replay analysis), the
  pelvis in lockstep, the live alert engine (``hold_s`` default);
* ``live``: 0.1 s blocks of every sensor in turn (a live stream), same settings.

Usage: ``python scripts/dump_stream_outputs.py REC.h5 MODE > OUT.txt``
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np


def _num(x: Any) -> Any:
    if isinstance(x, float | np.floating):
        return repr(float(x))
    return x


def _rec(row: Any) -> str:
    return json.dumps({k: _num(v) for k, v in row.as_record().items()}, sort_keys=True)


def _alert(a: Any) -> str:
    return json.dumps({k: _num(v) for k, v in a.as_summary().items()}, sort_keys=True)


def main(argv: list[str]) -> int:
    try:
        from dsp.pipeline import SessionPipeline
    except ImportError:  # the code before the session pipeline (reference outputs)
        SessionPipeline = _Legacy
    from dsp.session import AnalysisConfig
    from recordings import open_recording
    from runform.profiles import resolve_profile

    path, mode = argv
    out = sys.stdout
    with open_recording(path) as rec:
        sensors = list(rec.sensors)
        pipe = SessionPipeline(
            sensors,
            profile=resolve_profile(None),
            config=AnalysisConfig(placement_settings={"pelvis": {"lockstep_feeds": True}}),
        )
        window = 5.0 if mode == "replay" else 0.1
        n = 0
        for block in rec.iter_blocks(chunk_s=window):
            up = pipe.feed(block)
            n += 1
            _write(out, n, up)
        up = pipe.finish()
        _write(out, n + 1, up)
        out.write("summary " + json.dumps(pipe.analysis.summary(), sort_keys=True) + "\n")
        out.write(
            "diag " + json.dumps(pipe.analysis.diagnostics(), sort_keys=True, default=str) + "\n"
        )
    return 0


class _Up:
    def __init__(self, rows, early, alerts, cleared, traces):
        self.rows, self.early_rows, self.alerts, self.cleared = rows, early, alerts, cleared
        self._traces = traces

    def traces(self):
        return self._traces


class _Legacy:
    """The same calls on the code before dsp.pipeline (for the reference outputs)."""

    def __init__(self, sensors, *, profile, config):
        from dsp.alerts import AlertEngine
        from dsp.session import SessionAnalyzer

        self.engine = AlertEngine(profile, sensors=sensors, early=True)
        self.analysis = SessionAnalyzer(sensors, config=config)
        self.analysis.summary = lambda f=self.analysis.summary: f(0.0)

    def _traces(self, sid):
        out = []
        for item in getattr(self.analysis.analyzer(sid), "latest_traces_", None) or []:
            out.append((sid, "", float(item[0]), np.asarray(item[1], dtype=float)))
        return out

    def _up(self, rows, traces, final=False):
        sa = self.analysis
        early = list(sa.early_rows_)
        alerts, cleared = [], []
        if rows or early:
            alerts = list(
                self.engine.feed(
                    rows,
                    early=early,
                    watermarks=sa.early_watermarks(),
                    stride_watermarks=sa.stride_watermarks(),
                )
            )
            cleared = list(self.engine.cleared_)
        if final:
            alerts += self.engine.finish()
            cleared += self.engine.cleared_
        return _Up(list(rows), early, alerts, cleared, traces)

    def feed(self, block):
        if block.sensor_id not in self.analysis.analyzers:
            return _Up([], [], [], [], [])
        rows = self.analysis.feed(block)
        return self._up(rows, self._traces(block.sensor_id))

    def finish(self):
        rows = self.analysis.finish()
        traces = []
        for sid in self.analysis.analyzers:
            traces += self._traces(sid)
        return self._up(rows, traces, final=True)


def _write(out: Any, n: int, up: Any) -> None:
    for r in up.rows:
        out.write(f"{n} row {_rec(r)}\n")
    for r in up.early_rows:
        out.write(f"{n} early {_rec(r)}\n")
    for a in up.alerts:
        out.write(f"{n} alert {_alert(a)}\n")
    for c in up.cleared:
        out.write(f"{n} cleared {json.dumps([_num(x) for x in c])}\n")
    # by sensor (stable): the order in which the sensors' traces of one call come is not
    # part of the contract (each sensor's are in IC order)
    for sid, _side, t, vals in sorted(up.traces(), key=lambda x: x[0]):
        out.write(f"{n} trace {sid} {t!r} {float(np.sum(vals))!r}\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
