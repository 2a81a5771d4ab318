"""Spoken alert cues: a short phrase per alert rule, spoken offline by espeak-ng.

``runform live/replay --cues speech`` speaks each alert instead of playing its tone, so a runner
on a treadmill need not look at the screen. The phrase comes from the rule's metric (and side):
"Land midfoot" for a heel-strike rule, "Level hips, left" for pelvic drop on left stance
(:func:`phrase_for`); a rule on another metric says its name.

espeak-ng (Debian/Ubuntu package ``espeak-ng``; Homebrew ``espeak-ng``) is called as a program:
``espeak-ng --stdout`` turns a phrase into WAV bytes, synthesised once per phrase on a worker
thread and played through the same audio output as the tones (:class:`viewer.sound.SoundPlayer`),
so nothing waits on the GUI thread. Without espeak-ng the viewer says so in one line and plays
the tones.
"""

from __future__ import annotations

import io
import logging
import queue
import shutil
import subprocess
import threading
import time
import wave
from collections.abc import Callable

import numpy as np

__all__ = ["ESPEAK", "SpeechCues", "find_espeak", "phrase_for", "synthesize"]

log = logging.getLogger(__name__)

#: The program called.
ESPEAK = "espeak-ng"
#: Words per minute (espeak-ng's default is 175: a little quicker for a short cue).
WORDS_PER_MINUTE = 185
#: Longest a synthesis may take before it is abandoned, s.
SYNTH_TIMEOUT_S = 10.0
#: A cue not started within this time after its alert is dropped (it would come too late), s.
STALE_S = 4.0

#: A short phrase per metric (``{side}`` = the side of a per-side alert), and per direction
#: where the advice differs.
PHRASES: dict[tuple[str, str], str] = {
    ("rearfoot_share", "above"): "Land midfoot",
    ("midfoot_share", "below"): "Land midfoot",
    ("forefoot_share", "above"): "Relax your calves",
    ("foot_strike_angle", "above"): "Land midfoot",
    ("pelvic_drop", "above"): "Level hips, {side}",
    ("cadence", "below"): "Quicker steps",
    ("cadence", "above"): "Longer, relaxed steps",
    ("stride_time", "above"): "Quicker steps",
    ("contact_time", "above"): "Light, quick feet",
    ("flight_time", "above"): "Run lower",
    ("max_pronation_velocity", "above"): "Pronation, {side} foot",
    ("pronation_excursion", "above"): "Pronation, {side} foot",
    ("stride_length", "above"): "Shorter strides",
    ("vertical_oscillation", "above"): "Run lower",
    ("peak_impact", "above"): "Land softer",
    ("speed", "above"): "Ease the pace",
    ("speed", "below"): "Pick up the pace",
}


def phrase_for(rule: object, side: str | None = None) -> str:
    """The short phrase spoken for an alert of ``rule`` (a :class:`dsp.alerts.Rule`).

    Per-side alerts name the side; a rule on a metric without a phrase says its own name
    ("low cadence" for ``low_cadence``).
    """
    metric = str(getattr(rule, "metric", ""))
    direction = str(getattr(rule, "direction", ""))
    text = PHRASES.get((metric, direction))
    if text is None:
        text = str(getattr(rule, "name", "alert")).replace("_", " ").capitalize()
        if side:
            text += f", {side}"
        return text
    if "{side}" in text:
        return (
            text.format(side=side) if side else text.replace(", {side}", "").replace("{side} ", "")
        )
    return text


def find_espeak() -> str | None:
    """The path of the espeak-ng program, or ``None`` when it is not installed."""
    return shutil.which(ESPEAK)


def synthesize(text: str, *, program: str | None = None) -> tuple[np.ndarray, int]:
    """A phrase spoken by espeak-ng: mono float32 samples in [-1, 1] and their rate, Hz.

    Raises
    ------
    FileNotFoundError
        espeak-ng is not installed.
    RuntimeError
        espeak-ng failed or gave no audio (one line, with its message).
    """
    exe = program or find_espeak()
    if exe is None:
        raise FileNotFoundError(f"{ESPEAK} is not installed")
    try:
        proc = subprocess.run(
            [exe, "--stdout", "-s", str(WORDS_PER_MINUTE), "--", text],
            capture_output=True,
            timeout=SYNTH_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{ESPEAK}: no audio after {SYNTH_TIMEOUT_S:g} s") from None
    if proc.returncode != 0 or not proc.stdout:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"{ESPEAK} failed ({msg[-1] if msg else f'exit {proc.returncode}'})")
    with wave.open(io.BytesIO(proc.stdout)) as w:
        rate = w.getframerate()
        n_ch = w.getnchannels()
        raw = w.readframes(w.getnframes())
        width = w.getsampwidth()
    if width != 2:
        raise RuntimeError(f"{ESPEAK}: {8 * width}-bit audio, expected 16-bit")
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if n_ch > 1:
        x = x.reshape(-1, n_ch).mean(axis=1)
    return x, rate


def _resample(x: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    if rate == to_rate or x.size == 0:
        return x
    n = round(x.size * to_rate / rate)
    return np.interp(np.arange(n) * (rate / to_rate), np.arange(x.size), x).astype(np.float32)


class SpeechCues:
    """Speaks alert phrases on a worker thread: :meth:`say` only enqueues.

    Parameters
    ----------
    play : callable
        Called with ``(rule, samples)``, int16 samples at ``sampling_rate_hz``, to play them
        (:meth:`viewer.sound.SoundPlayer.play_samples`); ``None`` synthesises only.
    sampling_rate_hz : int
        Rate the samples are resampled to.
    program : str, optional
        espeak-ng's path (default: found on ``PATH``).

    Attributes
    ----------
    spoken : list of (str, str)
        ``(rule, phrase)`` synthesised and handed to ``play``, in order.
    failed : list of (str, str)
        ``(rule, phrase)`` that espeak-ng could not speak.
    dropped : list of (str, str)
        ``(rule, phrase)`` not spoken: the queue was full, or the cue waited longer than
        :data:`STALE_S` (it would come too late to help). A phrase already waiting is not
        queued twice.
    """

    def __init__(
        self,
        play: Callable[[str, np.ndarray], None] | None,
        *,
        sampling_rate_hz: int = 44100,
        program: str | None = None,
    ) -> None:
        self.program = program or find_espeak()
        if self.program is None:
            raise FileNotFoundError(f"{ESPEAK} is not installed")
        self._play = play
        self._rate = int(sampling_rate_hz)
        self._cache: dict[str, np.ndarray] = {}
        self._queue: queue.Queue[tuple[str, str, float] | None] = queue.Queue(maxsize=8)
        self._pending: set[str] = set()
        self._pending_lock = threading.Lock()
        self.spoken: list[tuple[str, str]] = []
        self.failed: list[tuple[str, str]] = []
        self.dropped: list[tuple[str, str]] = []
        self._thread = threading.Thread(target=self._run, name="speech-cues", daemon=True)
        self._thread.start()

    def say(self, rule: str, text: str) -> bool:
        """Queue the phrase of an alert of ``rule`` (never blocks).

        Returns ``False`` when it was not queued: the same phrase is already waiting, or the
        queue is full.
        """
        with self._pending_lock:
            if text in self._pending:
                return False
            try:
                self._queue.put_nowait((rule, text, time.monotonic()))
            except queue.Full:
                log.info("speech cue dropped (the previous ones are still being spoken): %s", text)
                self.dropped.append((rule, text))
                return False
            self._pending.add(text)
        return True

    def pcm(self, text: str) -> np.ndarray:
        """The phrase as int16 samples at the player's rate (synthesised once, then cached)."""
        got = self._cache.get(text)
        if got is None:
            x, rate = synthesize(text, program=self.program)
            x = _resample(x, rate, self._rate)
            got = np.clip(x * 32767.0, -32768, 32767).astype(np.int16)
            self._cache[text] = got
        return got

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                rule, text, t_said = item
                with self._pending_lock:
                    self._pending.discard(text)
                if time.monotonic() - t_said > STALE_S:
                    log.info(
                        "speech cue dropped (%.1f s late): %s", time.monotonic() - t_said, text
                    )
                    self.dropped.append((rule, text))
                    continue
                pcm = self.pcm(text)
                if self._play is not None:
                    self._play(rule, pcm)
                self.spoken.append((rule, text))
            except (OSError, RuntimeError) as exc:
                self.failed.append((rule, text))
                log.warning("speech cue %r not spoken: %s", text, exc)
            finally:
                self._queue.task_done()

    def wait(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued phrase is done (tests); ``False`` on timeout."""
        done = threading.Event()

        def join() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=join, daemon=True).start()
        return done.wait(timeout_s)

    def close(self) -> None:
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass  # a daemon thread: it ends with the process
        self._thread.join(timeout=1.0)
