"""The viewer's main window (:class:`MainWindow`), shared by ``runform live`` and ``runform replay``.

Threads: the :class:`~viewer.worker.AnalysisWorker` runs source, recorder, analysis and alerts
in its own thread; this window touches Qt only on the GUI thread. One timer (``pull``, 20 ms)
drains the worker's queue into the model and the raw buffers; another (``redraw``, 25 ms, at
most 40 frames per second) redraws what changed.

This module imports Qt; :mod:`viewer.app` imports it only when a window is made, so that
``runform --help`` stays fast.
"""

from __future__ import annotations

import math
import queue
import sys
import time
from typing import Any

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from dsp.alerts import Profile
from viewer.app import ViewerConfig, _speech_cues, status_text
from viewer.footpod import FootpodOverlay
from viewer.model import StrideModel, TraceItem
from viewer.sound import SoundPlayer
from viewer.speech import phrase_for
from viewer.widgets import (
    AlertBanner,
    RawSignalPanel,
    ReplayBar,
    StridePanel,
    alert_symbol,
    make_palette_legend,
    runner_readout,
)

__all__ = ["MainWindow"]

pg.setConfigOptions(antialias=False, foreground=(40, 40, 40))


class MainWindow(QtWidgets.QMainWindow):
    """The live/replay window (see the module docstring)."""

    def __init__(self, worker: Any, profile: Profile, config: ViewerConfig) -> None:
        super().__init__()
        # the analysis thread holds the GIL in long stretches; a short switch interval keeps
        # the GUI thread's frames on time (measured: benchmarks/bench_viewer.py)
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self.worker = worker
        self.profile = profile
        self.config = config
        self.model = StrideModel()
        self.sound = SoundPlayer(
            muted=config.muted or config.cues == "off", backend=config.sound_backend
        )
        self.speech = _speech_cues(config.cues, self.sound)
        self.setWindowTitle(config.title)
        self.resize(*config.size)
        self.raw: RawSignalPanel | None = None
        self.replay_bar: ReplayBar | None = None
        self.sensors: list = []
        self.info: dict[str, Any] = {}
        self.t_now = -math.inf
        self.ended = False
        self.error: str | None = None
        self.frames = 0
        self.paints = 0
        self.alert_shown: list[tuple[Any, float, float]] = []  # (alert, wall, t_now)
        self.status: dict[str, Any] = {}
        self.loading: float | None = None  # fraction analysed while a replay catches up
        self._runner_version = -1
        self._skip_before = -math.inf
        self._announced: set[int] = set()
        self._pending_marker = False

        v = self._build_panels(profile, config)
        v.addLayout(self._build_controls(config))
        self.status_label = QtWidgets.QLabel("starting ...")
        self.statusBar().addWidget(self.status_label, 1)
        #: the current activity (stand, walk, run, other) as the analysis sees it
        self.activity_label = QtWidgets.QLabel("activity: -")
        self.activity: str | None = None
        self.statusBar().addPermanentWidget(self.activity_label)

        self._start_timers()

    def _build_panels(self, profile: Profile, config: ViewerConfig) -> QtWidgets.QVBoxLayout:
        """The alert banner, the raw signals | stride plots | alert log splitter; returns the
        central layout."""
        central = QtWidgets.QWidget()
        self.setCentralWidget(central)
        v = QtWidgets.QVBoxLayout(central)
        v.setContentsMargins(6, 6, 6, 6)
        self.banner = AlertBanner()
        v.addWidget(self.banner)
        #: one line when the live recording stopped early (disk full); stays shown
        self.record_label = QtWidgets.QLabel("")
        self.record_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.record_label.setStyleSheet("background:#c62828; color:white; padding:4px;")
        self.record_label.hide()
        v.addWidget(self.record_label)
        self.split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        v.addWidget(self.split, 1)
        self.raw_holder = QtWidgets.QWidget()
        self.raw_layout = QtWidgets.QVBoxLayout(self.raw_holder)
        self.raw_layout.setContentsMargins(0, 0, 0, 0)
        self.split.addWidget(self.raw_holder)
        right = QtWidgets.QWidget()
        rv = QtWidgets.QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.strides = StridePanel(share_n=config.share_n)
        self.strides.rules = [r.name for r in profile.rules]
        self.strides.cursor.sigPositionChangeFinished.connect(self._cursor_dragged)
        rv.addWidget(self.strides, 1)
        self.cursor_label = QtWidgets.QLabel("stride under cursor: -")
        self.cursor_label.setWordWrap(True)
        rv.addWidget(self.cursor_label)
        self.runner_label = QtWidgets.QLabel("")
        self.runner_label.setWordWrap(True)
        rv.addWidget(self.runner_label)
        self.footpod = FootpodOverlay(self.strides.cad)  # shown once a footpod streams
        rv.addWidget(self.footpod.label)
        self.split.addWidget(right)
        self.log_list = QtWidgets.QListWidget()
        self.log_list.setMaximumWidth(330)
        self.log_list.setWordWrap(True)
        log_box = QtWidgets.QGroupBox("Alert log")
        QtWidgets.QVBoxLayout(log_box).addWidget(self.log_list)
        self.split.addWidget(log_box)
        self.split.setSizes([620, 900, 300])
        return v

    def _build_controls(self, config: ViewerConfig) -> QtWidgets.QHBoxLayout:
        """The bottom row: replay controls (added later), raw-signal toggle and choice, mute,
        palette legend."""
        bottom = QtWidgets.QHBoxLayout()
        self.controls_holder = QtWidgets.QHBoxLayout()
        bottom.addLayout(self.controls_holder, 1)
        self.signal_box = QtWidgets.QComboBox()
        for label, view in (
            ("angular rate x y z", "gyr:xyz"),
            ("angular rate |norm|", "gyr:n"),
            ("specific force x y z", "acc:xyz"),
            ("specific force |norm|", "acc:n"),
        ):
            self.signal_box.addItem(label, view)
        current = f"{config.quantity}:{config.axes}"
        if self.signal_box.findData(current) < 0:
            self.signal_box.addItem(f"{config.quantity} {config.axes}", current)
        self.signal_box.setCurrentIndex(self.signal_box.findData(current))
        self.signal_box.currentIndexChanged.connect(self._signal_changed)
        # the raw signals are for checking the sensors; a runner can fold them away
        self.raw_toggle = QtWidgets.QCheckBox("raw signals")
        self.raw_toggle.setChecked(True)
        self.raw_toggle.toggled.connect(self.show_raw)
        bottom.addWidget(self.raw_toggle)
        bottom.addWidget(self.signal_box)
        self.mute_box = QtWidgets.QCheckBox("mute")
        self.mute_box.setChecked(config.muted)
        self.mute_box.toggled.connect(self.sound.set_muted)
        bottom.addWidget(self.mute_box)
        bottom.addWidget(make_palette_legend())
        return bottom

    def _start_timers(self) -> None:
        """The pull (20 ms) and redraw (25 ms) timers and the marker/pause shortcuts."""
        self.pull_timer = QtCore.QTimer(self)
        self.pull_timer.timeout.connect(self.pull)
        self.pull_timer.start(20)
        self.redraw_timer = QtCore.QTimer(self)
        self.redraw_timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.redraw_timer.timeout.connect(self.redraw)
        self.redraw_timer.start(25)  # at most 40 frames per second
        self.shortcuts = [
            QtGui.QShortcut(QtGui.QKeySequence("M"), self, lambda: self.marker_key()),
            QtGui.QShortcut(QtGui.QKeySequence("Shift+M"), self, self.labelled_marker),
            QtGui.QShortcut(QtGui.QKeySequence("Space"), self, self._space),
        ]

    def show_raw(self, visible: bool) -> None:
        """Fold the raw-signal panel away (the stride plots take its room) or back."""
        self.raw_holder.setVisible(bool(visible))
        self.signal_box.setEnabled(bool(visible))
        if self.raw_toggle.isChecked() != bool(visible):
            self.raw_toggle.setChecked(bool(visible))

    # ---------------------------------------------------------------- data in
    def pull(self, budget_s: float = 0.015) -> int:
        """Move worker updates into the model (at most ``budget_s`` of work)."""
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < budget_s:
            try:
                u = self.worker.updates.get_nowait()
            except queue.Empty:
                break
            n += 1
            self._apply(u.kind, u.data)
        return n

    def _apply(self, kind: str, data: Any) -> None:
        if kind == "sensors":
            self._setup(data)
        elif kind == "blocks":
            if self.raw is not None:
                for b in data:
                    self.raw.add_block(b)
        elif kind == "strides":
            traces = [TraceItem(sid, side, t, tr) for sid, side, t, tr in data["traces"]]
            new = self.model.add(
                data["rows"], traces, data["alerts"], data["cleared"], data.get("early", [])
            )
            if data["alerts"]:
                self._announce_due()
            if self.raw is not None:
                for r in new:
                    self.raw.add_contacts(r.sensor_id, [r.t_ic])
        elif kind == "position":
            self._move_to(float(data))
        elif kind == "activity":
            self.activity = str(data)
            names = {"stand": "standing", "walk": "walking", "run": "running"}
            self.activity_label.setText(f"activity: {names.get(data, data)}")
        elif kind == "seeked":
            if self.raw is not None:
                self.raw.clear_data()
                self.raw.set_contacts(
                    {
                        s.sensor_id: [r.t_ic for r in self.model.rows if r.sensor_id == s.sensor_id]
                        for s in self.sensors
                    }
                )
            # no sounds for what a jump skipped; alerts after the new position sound again
            self._skip_before = float(data)
            keep = {id(e.alert) for e in self.model.events if e.alert and e.t <= float(data)}
            self._announced &= keep
            self.t_now = -math.inf
            self._move_to(float(data))
        elif kind == "streams":
            self.footpod.add(data)
        elif kind == "marker":
            self.model.add_marker(*data)
            if self.replay_bar is not None:
                self.replay_bar.set_markers(self.model.markers)
        elif kind == "status":
            self.status = data
        elif kind == "analysing":
            self.loading = data
        elif kind == "ended":
            self.ended = True
            if self.config.mode == "replay":
                self._move_to(float("inf") if data is None else max(self.t_now, float(data)))
                self.status_label.setText("end of recording")
            else:
                self.status_label.setText(
                    f"session ended at t = {float(data):.0f} s: nothing more comes in"
                    if data is not None and math.isfinite(float(data))
                    else "session ended: nothing more comes in"
                )
        elif kind == "recording_stopped":
            self.record_label.setText("  ✖ " + str(data) + " (the analysis goes on)")
            self.record_label.show()
        elif kind == "notice":
            self.status_label.setText(str(data))
        elif kind == "error":
            self.error = str(data)
            self.banner.setText("  ✖ " + self.error)
            self.banner.setStyleSheet("background:#c62828; color:white; padding:4px;")
            self.status_label.setText(self.error)

    def _setup(self, info: dict[str, Any]) -> None:
        self.info = info
        sensors = info["sensors"]
        if self.config.sensors:
            unknown = [s for s in self.config.sensors if s not in {x.sensor_id for x in sensors}]
            if unknown:
                self.status_label.setText(f"no sensor {', '.join(unknown)} in this session")
            sensors = [s for s in sensors if s.sensor_id in self.config.sensors] or sensors
        self.sensors = sensors
        self.model.placements = {s.sensor_id: s.placement for s in info["sensors"]}
        for m in info.get("markers", []):
            self.model.add_marker(*m)
        self.raw = RawSignalPanel(
            sensors,
            quantity=self.config.quantity,
            axes=self.config.axes,
            window_s=self.config.window_s,
        )
        self.raw_layout.addWidget(self.raw)
        self.raw.viewport().installEventFilter(self)
        if self.config.mode == "replay" and info.get("t_end") is not None:
            self.replay_bar = ReplayBar(
                info["t_start"], info["t_end"], self.model.markers, speed=self.config.speed
            )
            self.replay_bar.play_toggled.connect(lambda p: self.worker.pause(not p))
            self.replay_bar.speed_changed.connect(self.worker.set_speed)
            self.replay_bar.seek_requested.connect(self.seek)
            self.controls_holder.addWidget(self.replay_bar)
            if self.config.extra.get("paused"):
                self.replay_bar.play.setChecked(False)
            self.status_label.setText(
                f"replay of {self.config.extra.get('path', '')} with profile {self.profile.name}"
                "   |   Space: play/pause   drag the cursor to move"
            )
        else:
            rec = info.get("record_path")
            lab = QtWidgets.QLabel(
                (f"recording to {rec}" if rec else "not recording")
                + "   |   M: set a marker   Shift+M: marker with a label"
            )
            self.controls_holder.addWidget(lab)
        if info.get("analysis_error"):
            self.status_label.setText("no analysis: " + info["analysis_error"])

    def _move_to(self, t: float) -> None:
        if t == self.t_now:
            return
        self.t_now = t
        self.model.set_position(t)
        self._announce_due()

    def _announce_due(self) -> None:
        """Sound and log every alert that playback has reached and that was not announced
        yet (an alert can arrive after the position passed it: the analysis needs the next
        contact, and the first strides wait for the sensor alignment)."""
        for a in self.model.raised_until(self._skip_before, self.t_now):
            if id(a) not in self._announced:
                self._announced.add(id(a))
                self._announce(a)

    def _announce(self, alert: Any) -> None:
        self.alert_shown.append((alert, time.monotonic(), self.t_now))
        if self.speech is not None and alert.sound != "none":
            rule = next((r for r in self.profile.rules if r.name == alert.rule), None)
            self.speech.say(alert.rule, phrase_for(rule, alert.side))
        else:
            self.sound.play(alert.rule, alert.sound)

    # ---------------------------------------------------------------- actions
    def seek(self, t: float) -> None:
        self.worker.seek(t)

    def _signal_changed(self, i: int) -> None:
        quantity, axes = str(self.signal_box.itemData(i)).split(":")
        if self.raw is not None:
            self.raw.set_view(quantity, axes)

    def _cursor_dragged(self) -> None:
        if self.config.mode == "replay":
            self.seek(float(self.strides.cursor.value()))

    def _space(self) -> None:
        if self.replay_bar is not None:
            self.replay_bar.play.toggle()

    def marker_key(self, label: str = "mark") -> None:
        """Key M: a user marker at the current session time."""
        t = self.t_now if math.isfinite(self.t_now) else 0.0
        self.worker.add_marker(label, "user", t)

    def labelled_marker(self) -> None:
        text, ok = QtWidgets.QInputDialog.getText(self, "Marker", "label:")
        if ok and text.strip():
            self.marker_key(text.strip())

    # ---------------------------------------------------------------- drawing
    def redraw(self) -> None:
        t = self.t_now
        if self.raw is not None and math.isfinite(t):
            self.raw.redraw(t)
        self.strides.redraw(self.model, t)
        if math.isfinite(t):
            self.strides.set_cursor(t)
            self._update_cursor_label(t)
            if self.footpod.tracks:
                rows = self.model.foot_rows() or self.model.pelvis_rows()
                cad = [r.cadence for r in rows if r.cadence is not None and r.t_ic <= t]
                self.footpod.redraw(t, cad, span_s=self.strides.span_s)
        if self.model.version != self._runner_version:
            self._runner_version = self.model.version
            self.runner_label.setText(
                runner_readout(
                    self.model.foot_rows(), self.model.pelvis_rows(), self.model.placements
                )
            )
        # a running rule that was on when a walk break began is not evaluated while walking
        # (nor a walking rule while running): out of the banner until its activity is back.
        # Live: the analysis' current activity; replay: the contacts' at the cursor (the
        # analysis runs ahead of it; the banner held 'Walking: pelvis drops ...' all through
        # the next run)
        activity = (
            self.activity if self.config.mode == "live" else self.model.activity_at_position()
        )
        active = [a for a in self.model.active_alerts() if self.profile.watches(a.rule, activity)]
        if self.error is None and self.loading is not None:
            # not "no alerts" while the alerts are still being computed
            self.banner.show_progress(self.loading)
        elif self.error is None:
            self.banner.show_alerts(active)
        log_items = self.model.alert_log()
        if self.log_list.count() != len(log_items):
            self.log_list.clear()
            for a in reversed(log_items):
                mark = alert_symbol(self.strides.rules, a.rule)[1]
                self.log_list.addItem(f"{mark} {a.t:7.1f} s  [{a.rule}] {a.message}")
        if self.replay_bar is not None and math.isfinite(t):
            self.replay_bar.set_position(t)
        elif math.isfinite(t) and self.status and not self.ended:
            # once the session ended the sensors read disconnected: the line says it ended
            text = status_text(t, self.status, self.sensors)
            if text != self.status_label.text():
                self.status_label.setText(text)
        self.frames += 1

    def _update_cursor_label(self, t: float) -> None:
        at = self.model.stride_at(t)
        what = "stride under cursor"
        if self.config.mode == "live":  # the stride in progress is not finished yet
            what = "latest strides"
            at = {
                side: (rs[-1] if rs else None)
                for side in ("left", "right")
                for rs in [self.model.foot_rows(side)]
            }
        parts = []
        for side, r in at.items():
            if r is None:
                parts.append(f"{side}: -")
                continue
            fsa = "-" if r.foot_strike_angle is None else f"{r.foot_strike_angle:.1f}°"
            ct = "-" if r.contact_time is None else f"{1000 * r.contact_time:.0f} ms"
            mpv = "-" if r.max_pronation_velocity is None else f"{r.max_pronation_velocity:.0f}°/s"
            parts.append(
                f"{side} #{self.model.stride_index(r)} at {r.t_ic:.2f} s: strike {fsa} "
                f"{r.strike_type or ''}, contact {ct}, pronation {mpv}"
            )
        text = f"{what} ({t:.1f} s) — " + "  |  ".join(parts)
        if text != self.cursor_label.text():
            self.cursor_label.setText(text)
        self.cursor_strides = at

    def eventFilter(self, obj: Any, event: Any) -> bool:
        if event.type() == QtCore.QEvent.Type.Paint:
            self.paints += 1  # frames actually rendered by the raw-signal view
        return False

    def closeEvent(self, event: Any) -> None:
        self.pull_timer.stop()
        self.redraw_timer.stop()
        self.worker.stop()
        if self.speech is not None:
            self.speech.close()
        self.sound.close()
        super().closeEvent(event)
