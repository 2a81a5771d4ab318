"""The viewer's entry points, shared by ``runform live`` and ``runform replay``: its settings
(:class:`ViewerConfig`), the display check, the application, and :func:`run_viewer`.

The window itself is :class:`viewer.main_window.MainWindow` (see there for its threads and
timers); it imports Qt, so it is imported only when a window is made (``runform --help`` stays
fast).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dsp.alerts import Profile
from viewer.errors import ViewerError

__all__ = ["MainWindow", "ViewerConfig", "ensure_display", "make_app", "run_viewer"]

log = logging.getLogger(__name__)

NO_DISPLAY = "no display: set QT_QPA_PLATFORM=offscreen or run under a desktop"


def status_text(t: float, status: dict[str, Any], sensors: list[Any]) -> str:
    """The live status line: session time and each sensor's rate, and a warning when samples
    arrive slower than the sensor's nominal rate with nothing lost (the emulation or this
    machine cannot keep up: the display lags ever more)."""
    from recordings.recorder import falling_behind

    nominal = {s.sensor_id: s.sample_rate_hz for s in sensors}
    parts, slow = [], []
    for sid, st in status.items():
        state = "" if getattr(st, "connected", True) else " DISCONNECTED"
        parts.append(f"{sid} {getattr(st, 'rate_hz', 0.0):.0f} Hz{state}")
        share = falling_behind(st, nominal.get(sid)) if hasattr(st, "rate_hz") else None
        if share is not None:
            slow.append(share)
    text = f"t = {t:.0f} s   " + "   ".join(parts)
    if slow:
        text = (
            f"FALLING BEHIND: data arrive at {100 * min(slow):.0f} % of real time, the display "
            "lags ever more (lower --sim-speed or the sample rate)   " + text
        )
    return text


@dataclass
class ViewerConfig:
    """What the window shows and how.

    Attributes
    ----------
    mode : str
        ``live`` or ``replay``.
    title : str
    quantity, axes : str
        Raw signal shown (``gyr``/``acc``) and axes (``xyz``, ``n`` for the norm).
    sensors : list of str or None
        Sensor ids to show (default all).
    window_s : float
        Raw-signal time span, s.
    share_n : int
        Strides for the strike-type share and the pelvic asymmetry.
    muted : bool
    cues : str
        How alerts sound: ``tone`` (each rule's tone, the default), ``speech`` (a short phrase
        per rule through espeak-ng, :mod:`viewer.speech`; tones when espeak-ng is missing) or
        ``off``.
    sound_backend : str
        ``auto`` or ``log`` (see :class:`viewer.sound.SoundPlayer`).
    screenshot : str or None
        Save a PNG of the window before exiting.
    exit_after_s : float or None
        Close the window after this many wall-clock seconds.
    close_when_ended : bool
        Close the window when the source ends (``live --duration``: the session is over).
    speed : float
        Replay speed (for the speed box).
    """

    mode: str = "replay"
    title: str = "runform"
    quantity: str = "gyr"
    axes: str = "xyz"
    sensors: list[str] | None = None
    window_s: float = 8.0
    share_n: int = 20
    muted: bool = False
    cues: str = "tone"
    sound_backend: str = "auto"
    screenshot: str | None = None
    exit_after_s: float | None = None
    close_when_ended: bool = False
    speed: float = 1.0
    size: tuple[int, int] = (1600, 1000)
    extra: dict[str, Any] = field(default_factory=dict)


def ensure_display(*, offscreen_ok: bool) -> None:
    """Pick a Qt platform or fail with one line when there is no display.

    With ``offscreen_ok`` (a screenshot run) and no display, Qt's offscreen platform is used.
    """
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        if offscreen_ok:
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
            return
        raise ViewerError(NO_DISPLAY)


def make_app() -> Any:
    """The QApplication (created once)."""
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(["runform"])
    return app


def _speech_cues(cues: str, sound: Any) -> Any:
    """The speech worker for ``cues == "speech"`` (feeding ``sound``), or ``None`` (tones)."""
    if cues != "speech":
        return None
    from viewer.sound import SAMPLE_RATE_HZ
    from viewer.speech import SpeechCues

    try:
        return SpeechCues(sound.play_samples, sampling_rate_hz=SAMPLE_RATE_HZ)
    except FileNotFoundError as exc:
        log.warning("spoken cues unavailable (%s): alerts play their tones", exc)
        return None


def MainWindow(worker: Any, profile: Profile, config: ViewerConfig) -> Any:
    """Create the main window (:class:`viewer.main_window.MainWindow`, a ``QMainWindow``;
    Qt is imported on first use)."""
    from viewer.main_window import MainWindow as Window  # Qt: imported when a window is made

    return Window(worker, profile, config)


@contextlib.contextmanager
def close_on_signals(close: Callable[[], None]) -> Iterator[None]:
    """While inside: :data:`recordings.recorder.STOP_SIGNALS` (Ctrl-C, ``kill``, the terminal
    closing) call ``close`` (on the Qt event loop) as the window's close button does, instead
    of raising ``KeyboardInterrupt`` inside a Qt slot (a traceback, the window going on) or
    killing the process (a live recording left without its last second). Python runs a
    handler only between bytecodes: the window's 20 ms pull timer runs Python often enough."""
    from PySide6 import QtCore

    from recordings.recorder import STOP_SIGNALS

    def handler(signum: int, frame: Any) -> None:
        log.info("%s: closing the window", signal.Signals(signum).name)
        QtCore.QTimer.singleShot(0, close)

    previous = {}
    for sig in STOP_SIGNALS:
        with contextlib.suppress(ValueError, OSError):  # not the main thread, or not allowed
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, signal.SIG_DFL if old is None else old)


def run_viewer(
    worker_factory: Callable[[], Any],
    profile: Profile,
    config: ViewerConfig,
) -> int:
    """Open the window, run until it is closed (or ``exit_after_s``), return an exit code.

    Raises
    ------
    ViewerError
        No display, or the screenshot cannot be written.
    """
    ensure_display(offscreen_ok=config.screenshot is not None)
    from PySide6 import QtCore

    app = make_app()
    worker = worker_factory()
    win = MainWindow(worker, profile, config)
    worker.start()
    win.show()
    result = {"code": 0}

    waited = {"s": 0.0}

    def finish() -> None:
        win.pull()
        if config.screenshot and win.loading is not None and waited["s"] < 60.0:
            # a screenshot of a replay still catching up would show empty plots: wait for it
            waited["s"] += 0.5
            QtCore.QTimer.singleShot(500, finish)
            return
        win.redraw()
        if config.screenshot:
            app.processEvents()
            pix = win.grab()
            if not pix.save(config.screenshot):
                result["code"] = 2
                log.error("cannot write the screenshot %s", config.screenshot)
        win.close()

    if config.exit_after_s is not None:
        QtCore.QTimer.singleShot(int(config.exit_after_s * 1000), finish)
    if config.close_when_ended:

        def close_if_ended() -> None:
            if win.ended:
                finish()
            elif win.isVisible():
                QtCore.QTimer.singleShot(100, close_if_ended)

        QtCore.QTimer.singleShot(100, close_if_ended)
    with close_on_signals(win.close):
        app.exec()
    worker.stop(timeout=300.0)  # a live recording is finalised on close
    if result["code"]:
        raise ViewerError(f"{config.screenshot}: cannot write the screenshot (PNG)")
    if win.error:
        raise ViewerError(win.error)
    return 0
