"""The live/replay viewer, driven offscreen with pytest-qt (real widgets, real worker thread)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest.importorskip("pytestqt")

from dsp.block import SampleBlock
from dsp.session import SessionAnalyzer
from recordings import ReplaySource, open_recording
from runform.profiles import resolve_profile
from tests.processes import killed_if_left
from viewer.app import MainWindow, ViewerConfig
from viewer.worker import AnalysisWorker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "recordings" / "examples" / "chirunning_example.h5"

pytestmark = pytest.mark.skipif(not EXAMPLE.exists(), reason="example recording not generated")


@pytest.fixture(scope="module")
def batch_rows():
    """Every contact of the example, by the streaming analyzer fed the file in 30 s chunks."""
    with open_recording(EXAMPLE) as rec:
        sa = SessionAnalyzer(rec.sensors)
        rows = []
        for b in rec.iter_blocks(chunk_s=30.0):
            rows += sa.feed(b).rows
        rows += sa.finish().rows
        placements = {s.sensor_id: s.placement for s in rec.sensors}
    return rows, placements


def _window(qtbot, worker, *, mode="replay"):
    cfg = ViewerConfig(mode=mode, muted=False, sound_backend="log", size=(1200, 800))
    win = MainWindow(worker, worker.profile, cfg)
    qtbot.addWidget(win)
    worker.start()
    win.show()
    return win


def _close(win):
    win.close()
    assert not win.worker.running


def test_replay_raises_the_heel_strike_alert_at_the_20th_strike(qtbot, batch_rows):
    rows, placements = batch_rows
    foot = sorted(
        (r for r in rows if placements[r.sensor_id] != "pelvis" and r.strike_type),
        key=lambda r: r.t_ic,
    )
    # the example starts with heel strikes: the default rule (rearfoot share of the last 20
    # strides above 60 %) must fire at the 20th foot strike, and clear during the midfoot drill
    assert all(r.strike_type == "rearfoot" for r in foot[:20])
    expected_t = foot[19].t_ic

    profile = resolve_profile("default")
    worker = AnalysisWorker(
        lambda: ReplaySource(EXAMPLE, speed=16.0, realtime=False, block_s=0.5),
        profile,
        replay=True,
    )
    win = _window(qtbot, worker)
    qtbot.waitUntil(lambda: win.ended, timeout=90_000)
    heel = [(a, t_now) for a, _, t_now in win.alert_shown if a.rule == "heel_strike"]
    assert len(heel) == 1
    alert, shown_at = heel[0]
    assert alert.t == pytest.approx(expected_t)
    # shown once playback reached that contact, not before
    assert shown_at >= expected_t
    # its own sound, requested once
    assert ("heel_strike", "low") in win.sound.requested
    assert win.sound.requested.count(("heel_strike", "low")) == 1
    # in the log; not in the banner any more at the end (the drill cleared it)
    assert any(a.rule == "heel_strike" for a in win.model.alert_log())
    assert "Heel striking" not in win.banner.text()
    # the banner shows it while it is on
    win.model.set_position(expected_t + 0.01)
    win.redraw()
    assert "Heel striking" in win.banner.text()
    win.model.set_position(expected_t - 0.01)
    win.redraw()
    assert "Heel striking" not in win.banner.text()
    assert win.signal_box.currentText() == "angular rate x y z"
    # contacts are marked on the raw signals as vertical lines
    win.redraw()
    x, _ = win.raw.contact_items["left_foot"].getData()
    assert x is not None and len(x) >= 4 and (x[0::2] == x[1::2]).all()
    # the rows the viewer received are the batch analysis' rows
    assert sorted(r.t_ic for r in win.model.rows) == pytest.approx(sorted(r.t_ic for r in rows))
    _close(win)


def _stride_containing(rows, placements, side, t):
    for r in rows:
        if placements[r.sensor_id] == "pelvis" or r.side != side or r.stride_time is None:
            continue
        if r.t_ic <= t < r.t_ic + r.stride_time:
            return r
    return None


def test_scrubbing_shows_the_stride_under_the_cursor(qtbot, batch_rows):
    rows, placements = batch_rows
    profile = resolve_profile("default")
    worker = AnalysisWorker(
        lambda: ReplaySource(EXAMPLE, speed=1.0, block_s=0.05), profile, replay=True
    )
    worker.pause(True)
    win = _window(qtbot, worker)
    qtbot.waitUntil(lambda: win.replay_bar is not None, timeout=20_000)
    for target in (40.0, 25.3, 61.7):  # forwards, backwards, forwards again
        win.replay_bar.seek_requested.emit(target)  # what the scrub bar emits
        qtbot.waitUntil(lambda t=target: abs(win.t_now - t) < 1e-6, timeout=30_000)
        win.redraw()
        for side in ("left", "right"):
            want = _stride_containing(rows, placements, side, target)
            assert want is not None
            got = win.cursor_strides[side]
            assert got is not None, f"{side} at {target}"
            assert got.t_ic == pytest.approx(want.t_ic)
            assert f"{side} #" in win.cursor_label.text()
            assert f"at {want.t_ic:.2f} s" in win.cursor_label.text()
        # no alert sounds for what a jump skipped
        assert not any(a.t > 0 for a, _, _ in win.alert_shown if a.t > target)
    # choose the raw signal: specific force, norm (about 1 g when the foot is flat)
    box = win.signal_box
    box.setCurrentIndex(next(k for k in range(box.count()) if "force |norm|" in box.itemText(k)))
    assert win.raw.quantity == "acc" and list(win.raw.curves["left_foot"]) == ["norm"]
    win.raw.redraw(win.t_now + 1e-3)
    x, y = win.raw.curves["left_foot"]["norm"].getData()
    assert len(x) > 100
    with open_recording(EXAMPLE) as rec:
        b = rec.read("left_foot", win.t_now - 3.0, win.t_now)
    want = np.interp(x[-50:] + win.raw.t_now, b.t, np.linalg.norm(b.acc, axis=1))
    assert np.allclose(y[-50:], want, rtol=1e-4)
    assert "m/s²" in win.raw.plots["left_foot"].getAxis("left").labelText
    # jump to a marker: the example's "midfoot drill" note
    box = win.replay_bar.markers
    i = next(k for k in range(box.count()) if "midfoot drill" in box.itemText(k))
    box.activated.emit(i)
    qtbot.waitUntil(lambda: abs(win.t_now - 36.5) < 1e-6, timeout=30_000)
    _close(win)


class _DropoutSource:
    """A live-like source from the example: the right foot drops out from 30 to 36 s."""

    def __init__(self, path, drop=(30.0, 36.0)):
        self.path, self.drop = path, drop

    async def __aenter__(self):
        self.rec = open_recording(self.path)
        return self

    async def __aexit__(self, *exc):
        self.rec.close()

    @property
    def sensors(self):
        return self.rec.sensors

    def status(self):
        return {}

    async def blocks(self):
        first_after = True
        for b in self.rec.iter_blocks(chunk_s=0.5, t1=45.0):
            if b.sensor_id == "right_foot":
                keep = (b.t < self.drop[0]) | (b.t >= self.drop[1])
                if not keep.all():
                    seq = None if b.seq is None else b.seq[keep]
                    b = SampleBlock(b.sensor_id, b.t[keep], b.acc[keep], b.gyr[keep], seq)
                if len(b) and b.t[0] >= self.drop[1] and first_after:
                    first_after = False
                    b = SampleBlock(
                        b.sensor_id, b.t, b.acc, b.gyr, b.seq, np.array([[self.drop[0], b.t[0]]])
                    )
                if not len(b):
                    continue
            yield b


def test_live_records_markers_and_alerts_and_survives_a_dropout(qtbot, tmp_path):
    out = tmp_path / "live.h5"
    profile = resolve_profile("default")
    worker = AnalysisWorker(lambda: _DropoutSource(EXAMPLE), profile, record_path=out)
    win = _window(qtbot, worker, mode="live")
    qtbot.waitUntil(lambda: win.t_now > 20.0, timeout=60_000)
    qtbot.keyClick(win, "M")  # a marker key press
    win.marker_key("midfoot drill starts")
    qtbot.waitUntil(lambda: win.ended, timeout=90_000)
    win.pull()
    # the viewer kept going through the dropout: data after it, and a break in the curve
    assert win.t_now >= 44.9
    t, v = win.raw.buffers["right_foot"].arrays()
    assert np.isnan(v[(t > 30.0) & (t < 36.0)]).all() and np.isnan(v).any()  # a break, no line
    assert not ((t > 30.1) & (t < 35.9) & np.isfinite(v[:, 0])).any()
    rf = [r for r in win.model.rows if r.sensor_id == "right_foot"]
    assert any(r.t_ic > 37.0 for r in rf)
    alerts = [a for a, _, _ in win.alert_shown]
    assert {a.rule for a in alerts} >= {"heel_strike"}
    # the sensors stopped, the window is still open: a marker now is recorded too
    win.marker_key("after the end")
    _close(win)
    with open_recording(out) as rec:
        markers = rec.markers
        assert rec.n_samples("left_foot") > 0
        gaps = rec.gaps("right_foot")
    user = [m for m in markers if m[2] == "user"]
    assert [m[1] for m in user] == ["mark", "midfoot drill starts", "after the end"]
    assert all(20.0 <= m[0] <= 45.0 for m in user)
    got_alerts = sorted((round(m[0], 6), m[1]) for m in markers if m[2] == "alert")
    assert got_alerts == sorted((round(a.t, 6), a.rule) for a in alerts)
    assert len(gaps) >= 1 and gaps[0][0] == pytest.approx(30.0)


def _cli(*args, env_extra=None, drop_display=False, timeout=120):
    env = dict(os.environ)
    if drop_display:
        for k in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
            env.pop(k, None)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "runform", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )


def test_replay_screenshot_headless(tmp_path):
    png = tmp_path / "shot.png"
    r = _cli(
        "replay", str(EXAMPLE), "--speed", "16", "--at", "20", "--mute",
        "--screenshot", str(png), "--exit-after", "3",
        drop_display=True,  # no display at all: a screenshot run goes offscreen by itself
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    from PySide6.QtGui import QImage

    img = QImage(str(png))
    assert img.width() == 1600 and img.height() == 1000
    # not blank: many distinct colours (plots, bands, banner)
    colours = {img.pixel(x, y) for x in range(0, 1600, 7) for y in range(0, 1000, 7)}
    assert len(colours) > 50


def test_bad_input_gives_one_clear_line(tmp_path):
    r = _cli("replay", str(EXAMPLE), drop_display=True)
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "runform replay: error: no display: set QT_QPA_PLATFORM=offscreen or run under a desktop"
    )
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    r = _cli("replay", str(junk), "--screenshot", str(tmp_path / "x.png"), "--exit-after", "1")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "junk.h5" in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "x"\nmetric = "heel_angle"\nabove = 3\n', encoding="utf-8")
    r = _cli("replay", str(EXAMPLE), "--profile", str(bad))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "rule 'x'" in r.stderr and "'metric'" in r.stderr and "heel_angle" in r.stderr
    bad.write_text('[[rule]]\nname = "x"\nmetric = "cadence"\nbelow = "slow"\n', encoding="utf-8")
    r = _cli("replay", str(EXAMPLE), "--profile", str(bad))
    assert r.returncode == 2 and "'below'" in r.stderr and "not a number" in r.stderr
    r = _cli("replay", str(EXAMPLE), "--speed", "40")
    assert r.returncode == 2 and "0.25 to 16" in r.stderr


def test_sounds_are_distinct_per_tone():
    from dsp.alerts import TONES
    from viewer.sound import SAMPLE_RATE_HZ, tone

    def features(x):
        """Duration (10 ms), bursts, and the dominant pitch (10 Hz) of the first and last third."""
        k = int(0.005 * SAMPLE_RATE_HZ)
        env = np.convolve(np.abs(x), np.ones(k) / k, mode="same") > 0.05
        bursts = int(np.sum(np.diff(env.astype(int)) == 1) + env[0])
        n = len(x) // 3

        def pitch(seg):
            spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), 1 << 16))
            return round(np.argmax(spec) * SAMPLE_RATE_HZ / (1 << 16) / 10)

        return (round(len(x) / SAMPLE_RATE_HZ * 100), bursts, pitch(x[:n]), pitch(x[-n:]))

    made = {name: tone(name) for name in TONES if name != "none"}
    for name, x in made.items():
        assert x.dtype == np.float32 and 0.05 < len(x) / SAMPLE_RATE_HZ < 0.5, name
        assert np.max(np.abs(x)) <= 0.5 + 1e-6
        assert abs(x[0]) < 0.01 and abs(x[-1]) < 0.01  # faded: no click
    feats = {name: features(x) for name, x in made.items()}
    assert len(set(feats.values())) == len(feats), feats
    assert feats["rising"][2] < feats["rising"][3] and feats["falling"][2] > feats["falling"][3]
    assert feats["double"][1] == 2 and feats["chirp"][1] == 3
    assert tone("none").size == 0


@pytest.mark.slow
def test_live_simulate_over_emulated_ble(tmp_path):
    """`runform live --simulate`: emulated sensors over the virtual BLE link, recorded."""
    out = tmp_path / "live.h5"
    png = tmp_path / "live.png"
    r = _cli(
        "live", "--simulate", "--sim-speed", "4", "--out", str(out), "--mute",
        "--screenshot", str(png), "--exit-after", "12", timeout=180,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert png.stat().st_size > 10_000
    with open_recording(out) as rec:
        assert {s.placement for s in rec.sensors} == {"left_foot", "right_foot", "pelvis"}
        assert rec.duration_s > 20.0
        assert any(m[2] == "alert" for m in rec.markers)


def test_ring_buffer_keeps_the_last_samples_in_order_with_gap_breaks():
    from viewer.widgets import RingBuffer

    buf = RingBuffer(10, columns=2)
    buf.append(np.arange(6.0), np.ones((6, 2)))
    buf.append(np.arange(8.0, 14.0), 2 * np.ones((6, 2)), gap_before=True)
    t, v = buf.arrays()
    assert len(t) == 10 and np.all(np.diff(t) > 0)
    assert t[-1] == 13.0 and t[0] == 3.0
    gap = np.isnan(v[:, 0])
    assert gap.sum() == 1 and t[gap][0] == pytest.approx(6.5)


def test_status_line_says_when_the_data_fall_behind():
    from types import SimpleNamespace

    from dsp.source import SensorStatus
    from viewer.app import status_text

    sensors = [SimpleNamespace(sensor_id=s, sample_rate_hz=416.0) for s in ("left_foot", "pelvis")]
    ok = {s.sensor_id: SensorStatus(sensor_id=s.sensor_id, rate_hz=414.0) for s in sensors}
    assert "BEHIND" not in status_text(12.0, ok, sensors)
    slow = dict(ok, pelvis=SensorStatus(sensor_id="pelvis", rate_hz=200.0))
    text = status_text(12.0, slow, sensors)
    assert text.startswith("FALLING BEHIND: data arrive at 48 % of real time")


def test_banner_says_analysing_instead_of_no_alerts(qtbot):
    from viewer.widgets import AlertBanner

    b = AlertBanner()
    qtbot.addWidget(b)
    b.show_progress(0.42)
    assert "analysing… 42 %" in b.text() and "no alerts" not in b.text()
    b.show_alerts([])
    assert "no alerts" in b.text()


def test_a_jump_reports_analysis_progress_and_the_raw_panel_folds(qtbot):
    profile = resolve_profile("default")
    worker = AnalysisWorker(
        lambda: ReplaySource(EXAMPLE, speed=1.0, block_s=0.05), profile, replay=True
    )
    kinds = []
    put = worker._put

    def spy(kind, data=None):
        kinds.append((kind, data))
        put(kind, data)

    worker._put = spy
    worker.pause(True)
    win = _window(qtbot, worker)
    qtbot.waitUntil(lambda: win.replay_bar is not None, timeout=20_000)
    win.replay_bar.seek_requested.emit(70.0)
    qtbot.waitUntil(lambda: abs(win.t_now - 70.0) < 1e-6, timeout=30_000)
    got = [d for k, d in kinds if k == "analysing"]
    assert got and got[-1] is None and 0 < got[0] < got[-2] <= 1.0
    qtbot.waitUntil(lambda: win.loading is None, timeout=10_000)
    win.show_raw(False)
    assert not win.raw_holder.isVisible() and not win.raw_toggle.isChecked()
    win.raw_toggle.setChecked(True)
    assert win.raw_holder.isVisible()
    _close(win)


def test_runner_readout_shows_the_runners_metrics():
    from dsp.contact import ContactRow
    from viewer.widgets import runner_readout

    feet, pelvis = [], []
    for k in range(60):
        t = 0.36 * k
        side = "left" if k % 2 == 0 else "right"
        feet.append(ContactRow(f"{side}_foot", side, t, contact_time=0.26 if side == "left" else 0.24,
                               stride_length=2.0, speed=3.0, flight_time=0.1, peak_impact=6.0))  # fmt: skip
        pelvis.append(ContactRow("pelvis", side, t, vertical_oscillation=8.0))
    placements = {"left_foot": "left_foot", "right_foot": "right_foot", "pelvis": "pelvis"}
    text = runner_readout(feet, pelvis, placements)
    assert "pace 5:33 /km" in text and "stride 2.00 m" in text and "flight 100 ms" in text
    assert "contact L/R 52.0/48.0 %" in text and "vertical ratio 8.0 %" in text
    assert "distance 0.06 km" in text  # 30 strides of 2 m per foot
    assert runner_readout([], [], placements) == ""


def test_each_alert_rule_has_its_own_marker_shape():
    from viewer.widgets import alert_symbol

    rules = [r.name for r in resolve_profile("chirunning").rules]
    shapes = [alert_symbol(rules, r) for r in rules]
    assert len(set(shapes)) == len(rules) == 5
    assert alert_symbol(rules, "heel_strike") != alert_symbol(rules, "pelvic_drop")


def test_live_says_when_the_recording_stops_on_a_full_disk(qtbot, tmp_path):
    """The disk-space watch stops the recorder: one line shown, analysis and plots go on."""
    out = tmp_path / "live.h5"
    profile = resolve_profile("default")
    # more free space asked for than any disk has: the watch stops at its first look
    worker = AnalysisWorker(
        lambda: _DropoutSource(EXAMPLE), profile, record_path=out, min_free_bytes=1 << 60
    )
    win = _window(qtbot, worker, mode="live")
    qtbot.waitUntil(lambda: win.ended, timeout=90_000)
    win.pull()
    text = win.record_label.text()
    assert win.record_label.isVisible()
    assert "disk full: recording stopped at 0.0 s, file kept: " in text and str(out) in text
    assert worker.recording_stopped is not None and worker.recording_stopped in text
    # the window went on: data to the end, strides analysed, no error
    assert win.t_now >= 44.9 and win.error is None
    assert any(r.t_ic > 37.0 for r in win.model.rows)
    _close(win)
    with open_recording(out) as rec:  # the file is kept and valid
        assert rec.n_samples("left_foot") == 0


def test_stride_plots_take_titles_units_and_scale_from_the_registry(qtbot):
    """The per-stride plots' titles and units are the registry's (dsp.metrics), and contact
    time is drawn in the unit shown (ms)."""
    from dsp.contact import ContactRow
    from dsp.metrics import metric
    from viewer.widgets import StridePanel

    panel = StridePanel()
    qtbot.addWidget(panel)
    for plot, col in ((panel.ct, "contact_time"), (panel.pd, "pelvic_drop")):
        m = metric(col)
        assert plot.titleLabel.text.lower().startswith(m.label)
        assert plot.getAxis("left").labelText == m.shown_unit
    row = ContactRow(sensor_id="L", side="left", t_ic=1.0, t_to=1.25)
    row.contact_time = 0.25
    panel._set(panel.ct_items["left"], [row], "contact_time")
    _, ys = panel.ct_items["left"].getData()
    assert ys is not None and ys.tolist() == [250.0]


def test_live_banner_holds_a_rule_only_while_its_activity_goes_on(qtbot):
    """Live: heel striking raised while running leaves the banner during a walk break (the
    rule is not evaluated on walking strides) and is back when running resumes, still on."""
    from dsp.alerts import Alert
    from viewer.worker import Update

    profile = resolve_profile("default")
    worker = AnalysisWorker(lambda: None, profile)  # not started: updates come from the test
    cfg = ViewerConfig(mode="live", muted=True, sound_backend="log", size=(1000, 700))
    win = MainWindow(worker, profile, cfg)
    qtbot.addWidget(win)
    heel = Alert(10.0, "heel_strike", "Heel striking: 70% ...", "warning", "low", None, 70.0, "")
    drop = Alert(12.0, "walk_pelvic_drop", "Walking: pelvis drops ...", "warning", "none", "left",
                 9.0, "pelvis")  # fmt: skip
    strides = {"rows": [], "early": [], "traces": [], "alerts": [heel, drop], "cleared": []}
    for kind, data in (("strides", strides), ("position", 20.0), ("activity", "run")):
        worker.updates.put(Update(kind, data))
    win.pull()
    win.redraw()
    assert "Heel striking" in win.banner.text() and "Walking" not in win.banner.text()
    worker.updates.put(Update("activity", "walk"))
    win.pull()
    win.redraw()
    assert "Heel striking" not in win.banner.text() and "Walking" in win.banner.text()
    worker.updates.put(Update("activity", "stand"))  # neither: every rule that is on
    win.pull()
    win.redraw()
    assert "Heel striking" in win.banner.text() and "Walking" in win.banner.text()
    win.close()


def test_replay_banner_holds_a_rule_only_while_its_activity_goes_on(qtbot):
    """Replay: the activity is the contacts' at the cursor. A walking rule raised in the
    walk-up left the banner once the run began (it read 'Walking: pelvis drops ...' through
    the whole run of an intervals session), and is back in the next walk."""
    from dsp.alerts import Alert
    from dsp.contact import ContactRow
    from viewer.worker import Update

    profile = resolve_profile("default")
    worker = AnalysisWorker(lambda: None, profile, replay=True)  # updates come from the test
    cfg = ViewerConfig(mode="replay", muted=True, sound_backend="log", size=(1000, 700))
    win = MainWindow(worker, profile, cfg)
    qtbot.addWidget(win)
    info = {"sensors": [], "duration_s": 100.0, "t_start": 0.0, "t_end": 100.0,
            "markers": [], "analysis_error": None}  # fmt: skip
    rows = [
        ContactRow("left_foot", "left", t, activity="walk" if t < 30 or t >= 70 else "run")
        for t in range(1, 100)
    ]
    drop = Alert(12.0, "walk_pelvic_drop", "Walking: pelvis drops ...", "warning", "none", "left",
                 9.0, "pelvis")  # fmt: skip
    strides = {"rows": rows, "early": [], "traces": [], "alerts": [drop], "cleared": []}
    # the analysis ran ahead: its current activity is that of the end
    for kind, data in (("sensors", info), ("strides", strides), ("activity", "walk")):
        worker.updates.put(Update(kind, data))
    win.pull()
    for t, walking in ((20.0, True), (50.0, False), (80.0, True)):
        win.model.set_position(t)
        win.redraw()
        assert ("Walking" in win.banner.text()) == walking, (t, win.banner.text())
    win.close()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_live_stops_cleanly_on_ctrl_c_or_kill(tmp_path, sig):
    """Ctrl-C (or ``kill``) in the terminal of ``runform live`` closes the window as its close
    button does: the recording is finalised, no traceback (it printed a KeyboardInterrupt
    traceback from a Qt slot and went on running; SIGTERM killed it mid-recording)."""
    import signal
    import time

    out = tmp_path / "live.h5"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    p = subprocess.Popen(
        [sys.executable, "-m", "runform", "live", "--simulate", "--sim-speed", "4",
         "--out", str(out), "--mute", "--exit-after", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    with killed_if_left(p):
        t0 = time.monotonic()
        while not (out.exists() and out.stat().st_size > 200_000):  # a few s recorded
            assert p.poll() is None, p.communicate()
            assert time.monotonic() - t0 < 60, "the recording did not start"
            time.sleep(0.2)
        p.send_signal(getattr(signal, sig))
        stdout, stderr = p.communicate(timeout=30)
    assert p.returncode == 0, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert f"recorded {out}" in stdout
    with open_recording(out) as rec:
        assert rec.duration_s > 2.0
        assert {s.placement for s in rec.sensors} == {"left_foot", "right_foot", "pelvis"}


def test_no_alsa_lines_when_there_is_no_sound_card():
    """Without a sound card the viewer says 'no audio output' once; libasound printed about
    40 lines of its own ('ALSA lib confmisc.c:855:(parse_card) cannot find card '0'', ...)
    before it on every live and replay."""
    code = (
        "import logging; logging.basicConfig(level=logging.WARNING)\n"
        "from viewer.sound import SoundPlayer\n"
        "p = SoundPlayer(backend='auto'); p.play('heel_strike', 'low'); p.close()\n"
        "print('done', p.backend_)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "done" in r.stdout
    assert "ALSA lib" not in r.stderr, r.stderr


def test_live_closed_before_any_data_says_the_recording_is_empty(tmp_path):
    """Closed before the emulated sensors sent anything: it said 'recorded live.h5' of a file
    that analyze and replay then refuse ('no samples: every sensor is empty')."""
    out = tmp_path / "live.h5"
    r = _cli("live", "--simulate", "--out", str(out), "--mute", "--exit-after", "0.05")
    assert r.returncode == 0, r.stderr
    assert f"recorded {out}: no samples" in r.stdout, r.stdout


def test_live_duration_is_session_seconds_as_in_record(tmp_path):
    """`live --duration` was 'unrecognized arguments' (live had only --exit-after, wall
    seconds); it now stops the session after SECONDS of session time, as record does, and
    closes the window."""
    out = tmp_path / "live.h5"
    r = _cli(
        "live", "--simulate", "--sim-speed", "20", "--duration", "6", "--out", str(out),
        "--mute", "--exit-after", "120", timeout=150,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"recorded {out}" in r.stdout and "no samples" not in r.stdout, r.stdout
    with open_recording(out) as rec:
        # about 6 s of session time (the first samples' start-up costs up to ~2 s of it on a
        # loaded machine at 20x), not 6 s of wall time (120 s of session at 20x)
        assert 3.0 < rec.duration_s < 8.0, rec.duration_s
    r = _cli("live", "--simulate", "--duration", "0", "--out", str(out), "--force", "--mute")
    assert r.returncode == 2 and "--duration" in r.stderr and r.stderr.count("\n") == 1, r.stderr


class _EndingLiveSource(_DropoutSource):
    """Live-like: every sensor reads connected while the blocks come, disconnected after (as
    the BLE sensors when ``live --duration`` ends the session)."""

    done = False

    def status(self):
        from dsp.source import SensorStatus

        return {
            s.sensor_id: SensorStatus(s.sensor_id, connected=not self.done, rate_hz=208.0)
            for s in self.sensors
        }

    async def blocks(self):
        async for b in super().blocks():
            yield b
        self.done = True


def test_live_says_the_session_ended_not_that_every_sensor_disconnected(qtbot):
    """``live --duration`` ended (the window left open): the status line went on being redrawn
    over 'source ended' and read 'left_foot 261 Hz DISCONNECTED right_foot ... DISCONNECTED',
    as if the sensors were lost. It keeps saying the session ended."""
    profile = resolve_profile("default")
    worker = AnalysisWorker(lambda: _EndingLiveSource(EXAMPLE), profile)
    win = _window(qtbot, worker, mode="live")
    qtbot.waitUntil(lambda: win.ended, timeout=90_000)
    for _ in range(3):
        win.pull()
        win.redraw()
        qtbot.wait(300)  # the worker's last status (every sensor disconnected) is in
    text = win.status_label.text()
    assert "DISCONNECTED" not in text and "ended" in text, text
    _close(win)
