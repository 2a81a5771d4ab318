"""Footpod speed and cadence in the viewer (offscreen, pytest-qt): in replay from the
recording's ``/streams``, live from an emulated footpod streamed through the BLE session."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest.importorskip("pytestqt")

from firmware_bridge.devices import StreamSettings
from firmware_bridge.emulator import VirtualBleSource
from firmware_bridge.simulator import simulate_session
from recordings import RecordingWriter, ReplaySource, open_recording
from runform.profiles import resolve_profile
from viewer.app import MainWindow, ViewerConfig
from viewer.footpod import FootpodTracks
from viewer.worker import AnalysisWorker


def _window(qtbot, worker, *, mode):
    cfg = ViewerConfig(mode=mode, muted=True, sound_backend="log", size=(1200, 800))
    win = MainWindow(worker, worker.profile, cfg)
    qtbot.addWidget(win)
    worker.start()
    win.show()
    return win


@pytest.fixture(scope="module")
def strides_pod_recording(tmp_path_factory):
    """A simulated 40 s run with a footpod stream that reports cadence in strides/min."""
    path = tmp_path_factory.mktemp("fp") / "strides_pod.h5"
    sim = simulate_session("easy", duration_s=40.0, rate_hz=208.0, seed=3, truth=False)
    sc = sim.scenario
    t = np.arange(sc.standing_s + 1.0, 40.0, 1.0)
    speed = sc.schedule(sc.speed_mps, t)
    cadence = sc.schedule(sc.cadence_spm, t) / 2.0  # strides/min, as some pods send
    with RecordingWriter(path, sim.sensors) as w:
        for b in sim.blocks.values():
            w.append(b)
        w.append_stream(
            "footpod",
            t,
            {"speed_mps": speed, "cadence_spm": cadence},
            device_model="rsc-footpod",
            placement="footpod",
        )
    return path, t, speed, cadence


def test_replay_shows_footpod_next_to_imu_cadence(qtbot, strides_pod_recording):
    path, t_pod, speed, cadence = strides_pod_recording
    worker = AnalysisWorker(
        lambda: ReplaySource(path, speed=16.0, realtime=False, block_s=0.5),
        resolve_profile("default"),
        replay=True,
    )
    win = _window(qtbot, worker, mode="replay")
    qtbot.waitUntil(lambda: win.ended, timeout=60_000)
    win.pull()
    win.redraw()
    overlay = win.footpod
    assert overlay.label.isVisible()
    # the pod's strides/min were recognised against the IMU cadence and drawn as steps/min
    check = overlay.checks["footpod"]
    assert check.factor == 2.0
    assert check.ratio == pytest.approx(0.5, abs=0.04)
    x, y = overlay.lines["footpod"].getData()
    assert len(x) == len(t_pod)
    np.testing.assert_allclose(y, 2.0 * cadence)  # running from the first row on
    imu = [r.cadence for r in win.model.foot_rows() if r.cadence is not None]
    assert len(imu) > 30
    assert np.median(y) == pytest.approx(np.median(imu), rel=0.05)
    # the line is on the IMU cadence plot, with the IMU's own curves
    assert overlay.lines["footpod"] in win.strides.cad.listDataItems()
    # the readout: the latest pod row at the end of the recording
    text = overlay.label.text()
    assert f"{speed[-1]:.2f} m/s" in text
    assert f"{2 * cadence[-1]:.0f} steps/min (pod {cadence[-1]:.0f}/min ×2)" in text
    assert "strides/min" in text and "IMU cadence" in text
    # scrubbing back: the readout follows the playback position
    win._move_to(float(t_pod[3]) + 0.5)
    win.redraw()
    assert f"at {t_pod[3]:.1f} s: {speed[3]:.2f} m/s" in overlay.label.text()
    win.close()
    assert not worker.running


def test_live_footpod_over_emulated_ble_is_shown_and_recorded(qtbot, tmp_path):
    out = tmp_path / "live.h5"

    def source():
        return VirtualBleSource(
            speed=4.0,
            rate_hz=208.0,
            scenario="easy",
            seed=1,
            signal_duration_s=40.0,
            footpod=True,
            devices={"pelvis": "polar"},
            session_kwargs={"settings": StreamSettings(rate_hz=208.0)},
        )

    worker = AnalysisWorker(source, resolve_profile("default"), record_path=out)
    win = _window(qtbot, worker, mode="live")
    qtbot.waitUntil(lambda: win.t_now > 16.0 and len(win.footpod.tracks.t) > 0, timeout=60_000)
    qtbot.waitUntil(lambda: "IMU cadence" in win.footpod.label.text(), timeout=30_000)
    text = win.footpod.label.text()
    tracks = win.footpod.tracks
    latest = tracks.latest("footpod", math.inf)
    assert latest is not None
    # the simulated pod reads the simulated runner (easy: about 3 m/s, steps/min like the IMU)
    assert win.footpod.checks["footpod"].factor == 1.0
    assert "footpod (rsc-footpod) at" in text and "steps/min" in text
    win.close()
    assert not worker.running
    with open_recording(out) as rec:
        assert {s.sensor_id: s.device_model for s in rec.sensors}["pelvis"] == (
            "polar-verity-sense"
        )
        (pod,) = rec.streams()
    assert pod.stream_id == "footpod" and len(pod.t) >= len(tracks.t["footpod"]) >= 5
    running = pod.values["speed_mps"] > 0
    assert np.median(pod.values["speed_mps"][running]) == pytest.approx(3.0, rel=0.1)


def test_tracks_merge_live_rows_and_answer_the_latest_row():
    tr = FootpodTracks()
    tr.add([("pod", np.array([1.0, 2.0]), {"speed_mps": np.array([3.0, 3.1])}, "rsc", "p")])
    tr.add([("pod", np.array([2.0, 3.0]), {"speed_mps": np.array([9.9, 3.2])}, "rsc", "p")])
    tr.add([("hr", np.array([1.0]), {"bpm": np.array([150.0])}, "hrm", "chest")])
    assert list(tr.t) == ["pod"]  # a stream without speed or cadence is not a footpod
    np.testing.assert_allclose(tr.t["pod"], [1.0, 2.0, 3.0])  # the repeated t=2 row is dropped
    assert tr.latest("pod", 0.5) is None
    assert tr.latest("pod", 2.5) == (2.0, {"speed_mps": 3.1})
    t, v = tr.window("pod", 1.5, 3.0, "speed_mps")
    np.testing.assert_allclose(t, [2.0, 3.0])
    np.testing.assert_allclose(v, [3.1, 3.2])
