"""Snapshot of a short simulated session: STRIDES.csv, the early rows and the alerts, byte for byte.

Any change of the numbers ``runform analyze`` writes shows up here, with the changed rows in
the failure message. A deliberate change (a fixed bug, a better method) regenerates the
snapshot and says so in its commit: ``RUNFORM_UPDATE_SNAPSHOT=1 pytest tests/runform/test_snapshot.py``.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from dsp.pipeline import SessionPipeline
from dsp.session import AnalysisConfig
from firmware_bridge.simulator import simulate_session
from runform.analysis_io import StridesCsvWriter
from runform.profiles import resolve_profile

DATA = Path(__file__).parent / "data"
UPDATE = os.environ.get("RUNFORM_UPDATE_SNAPSHOT") == "1"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """45 s of the chirunning scenario at 104 Hz (feet and pelvis, 1 % packet loss), written
    with ``runform``'s CSV writer, fed in 0.5 s blocks through the live pipeline."""
    run = simulate_session(
        "chirunning", duration_s=45.0, rate_hz=104.0, seed=11, standing_s=3.0, packet_loss=0.01
    )
    pipe = SessionPipeline(
        run.sensors,
        profile=resolve_profile(None),
        config=AnalysisConfig(placement_settings={"pelvis": {"lockstep_feeds": True}}),
    )
    ups = [pipe.feed(b) for b in run.iter_blocks(0.5)] + [pipe.finish()]
    path = tmp_path_factory.mktemp("snap") / "STRIDES.csv"
    with StridesCsvWriter(path) as w:
        for up in ups:
            w.write(up.rows)
    early = [json.dumps(r.as_record(), sort_keys=True) for up in ups for r in up.early_rows]
    alerts = [json.dumps(a.as_summary(), sort_keys=True) for up in ups for a in up.alerts]
    return {
        "snapshot_STRIDES.csv": path.read_text(),
        "snapshot_early.jsonl": "\n".join(early) + "\n",
        "snapshot_alerts.jsonl": "\n".join(alerts) + "\n",
    }


@pytest.mark.parametrize(
    "name", ["snapshot_STRIDES.csv", "snapshot_early.jsonl", "snapshot_alerts.jsonl"]
)
def test_outputs_equal_the_snapshot(session, name):
    got = session[name]
    path = DATA / name
    if UPDATE:
        path.write_text(got)
    want = path.read_text()
    assert got.count("\n") >= (2 if "alerts" in name else 100)  # the session is analysed
    if got != want:
        diff = "".join(
            list(difflib.unified_diff(want.splitlines(True), got.splitlines(True), name, "now"))[
                :40
            ]
        )
        pytest.fail(
            f"{name} differs from the snapshot (RUNFORM_UPDATE_SNAPSHOT=1 to renew):\n{diff}"
        )
