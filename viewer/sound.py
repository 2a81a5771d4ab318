"""Short, distinct alert tones, synthesised with numpy and played through miniaudio.

Each alert rule names a tone (``sound = "low"`` in its profile); :func:`tone` makes the samples
(0.1-0.4 s, fade in/out, no clicks) and :class:`SoundPlayer` plays them without blocking the GUI.
``miniaudio`` (from PyPI, with its own audio backends built in) opens the default output device
(PulseAudio, ALSA, ...). Every request is logged and kept in :attr:`SoundPlayer.requested`
(muted or not, device or not), so tests on machines without audio check which sound was asked
for.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Generator, Iterator

import numpy as np

from dsp.alerts import TONES

__all__ = ["SAMPLE_RATE_HZ", "SoundPlayer", "tone"]

log = logging.getLogger(__name__)

#: Output sample rate of the tones, Hz.
SAMPLE_RATE_HZ = 44100


def _sweep(f0: float, f1: float, dur: float, fs: int) -> np.ndarray:
    t = np.arange(int(dur * fs)) / fs
    f = f0 + (f1 - f0) * t / dur
    phase = 2 * np.pi * np.cumsum(f) / fs
    return np.sin(phase)


def _env(x: np.ndarray, fs: int, ramp_s: float = 0.01) -> np.ndarray:
    n = min(len(x) // 2, int(ramp_s * fs))
    if n > 0:
        w = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n))
        x = x.copy()
        x[:n] *= w
        x[-n:] *= w[::-1]
    return x


def tone(name: str, *, sampling_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Samples of a named tone, float32 in [-0.5, 0.5], shape (N,).

    Parameters
    ----------
    name : str
        One of :data:`dsp.alerts.TONES` (``"none"`` gives an empty array).
    sampling_rate_hz : int
    """
    fs = int(sampling_rate_hz)
    silence = np.zeros(int(0.06 * fs))
    if name == "none":
        return np.zeros(0, dtype=np.float32)
    if name == "beep":
        x = _env(_sweep(880, 880, 0.15, fs), fs)
    elif name == "low":
        x = _env(_sweep(330, 330, 0.3, fs), fs)
    elif name == "high":
        x = _env(_sweep(1320, 1320, 0.12, fs), fs)
    elif name == "double":
        b = _env(_sweep(660, 660, 0.1, fs), fs)
        x = np.concatenate([b, silence, b])
    elif name == "rising":
        x = _env(_sweep(440, 880, 0.25, fs), fs)
    elif name == "falling":
        x = _env(_sweep(880, 440, 0.25, fs), fs)
    elif name == "chirp":
        b = _env(_sweep(1000, 1600, 0.06, fs), fs)
        x = np.concatenate([b, silence[: len(silence) // 2], b, silence[: len(silence) // 2], b])
    else:
        raise ValueError(f"unknown tone {name!r}, expected one of {', '.join(TONES)}")
    return (0.5 * x).astype(np.float32)


class SoundPlayer:
    """Play alert tones on the default output device, or only log them.

    Parameters
    ----------
    muted : bool
        Log the requests but play nothing.
    backend : str
        ``"auto"`` (miniaudio if a device opens, else log only) or ``"log"`` (never open a
        device; what tests use).

    Attributes
    ----------
    requested : list of (str, str)
        ``(rule, tone)`` of every request, in order, muted or not.
    backend_ : str
        ``"miniaudio"`` once a device is open, ``"log"`` when sounds are only logged.
    """

    def __init__(self, *, muted: bool = False, backend: str = "auto") -> None:
        if backend not in ("auto", "log"):
            raise ValueError(f"sound backend {backend!r}, expected auto or log")
        self.muted = muted
        self.requested: list[tuple[str, str]] = []
        self.backend_ = "log"
        self._want_device = backend == "auto"
        self._device = None
        self._lock = threading.Lock()
        self._queue: list[np.ndarray] = []
        self._cache: dict[str, np.ndarray] = {}

    def set_muted(self, muted: bool) -> None:
        self.muted = bool(muted)

    def play(self, rule: str, tone_name: str) -> None:
        """Request the tone of ``rule`` (non-blocking)."""
        self.requested.append((rule, tone_name))
        log.info(
            "alert sound requested: rule %s, tone %s%s",
            rule,
            tone_name,
            " (muted)" if self.muted else "",
        )
        if self.muted or tone_name == "none":
            return
        if self._want_device and self._device is None:
            self._open()
        if self._device is None:
            return
        if tone_name not in self._cache:
            pcm = np.clip(tone(tone_name) * 32767, -32768, 32767).astype(np.int16)
            self._cache[tone_name] = pcm
        with self._lock:
            self._queue.append(self._cache[tone_name])

    def play_samples(self, rule: str, pcm: np.ndarray, what: str = "speech") -> None:
        """Queue ready-made int16 samples at :data:`SAMPLE_RATE_HZ` (a spoken cue), from any
        thread; muted or without a device they are only logged."""
        self.requested.append((rule, what))
        log.info("alert %s requested: rule %s%s", what, rule, " (muted)" if self.muted else "")
        if self.muted:
            return
        if self._want_device and self._device is None:
            self._open()
        if self._device is None:
            return
        with self._lock:
            self._queue.append(np.asarray(pcm, dtype=np.int16))

    def _open(self) -> None:
        self._want_device = False  # try once
        with _alsa_errors_quiet():
            self._open_device()

    def _open_device(self) -> None:
        try:
            import miniaudio

            dev = miniaudio.PlaybackDevice(
                output_format=miniaudio.SampleFormat.SIGNED16,
                nchannels=1,
                sample_rate=SAMPLE_RATE_HZ,
                buffersize_msec=50,
            )
            gen = self._stream()
            next(gen)
            dev.start(gen)
        except Exception as exc:  # no audio device, no backend: keep going silently
            log.warning("no audio output (%s): alert sounds are only logged", exc)
            return
        self._device = dev
        self.backend_ = "miniaudio"

    def _stream(self) -> Generator[bytes, int, None]:
        """miniaudio pull generator: returns the requested number of frames each time."""
        current = np.zeros(0, dtype=np.int16)
        frames = yield b""
        while True:
            out = np.zeros(frames, dtype=np.int16)
            filled = 0
            while filled < frames:
                if current.size == 0:
                    with self._lock:
                        if not self._queue:
                            break
                        current = self._queue.pop(0)
                k = min(frames - filled, current.size)
                out[filled : filled + k] = current[:k]
                current = current[k:]
                filled += k
            frames = yield out.tobytes()

    def close(self) -> None:
        if self._device is not None:
            try:
                self._device.close()
            except Exception:  # closing a device that failed underneath
                log.debug("closing the audio device failed", exc_info=True)
            self._device = None


@contextlib.contextmanager
def _alsa_errors_quiet() -> Iterator[None]:
    """While inside: libasound's own error lines go to the debug log, not to stderr.

    Opening the device on a machine without a sound card, libasound printed about 40 lines
    ('ALSA lib confmisc.c:855:(parse_card) cannot find card '0'', ...) before miniaudio failed
    and the one-line warning said so. The handler is ALSA's default again on leaving: later
    errors (from the audio thread) are printed as before, and no Python callback is left for
    the library to call at exit. Linux with libasound only; elsewhere nothing changes.
    """
    lib = handler = None
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            lib = ctypes.CDLL("libasound.so.2")
            # snd_lib_error_handler_t is variadic; the arguments before the varargs are enough
            proto = ctypes.CFUNCTYPE(
                None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
            )

            def to_log(file: bytes, line: int, func: bytes, err: int, fmt: bytes) -> None:
                log.debug("ALSA %s:%d (%s): %s", file, line, func, fmt)

            handler = proto(to_log)
            lib.snd_lib_error_set_handler(handler)
        except (OSError, AttributeError):  # no libasound: nothing to quiet
            lib = None
    try:
        yield
    finally:
        if lib is not None:
            lib.snd_lib_error_set_handler(None)
        del handler
