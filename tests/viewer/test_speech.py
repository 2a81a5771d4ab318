"""Spoken alert cues: a phrase per rule, spoken by espeak-ng (real program, real audio) on a
worker thread that never blocks the caller; tones when espeak-ng is missing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from runform.profiles import resolve_profile
from viewer.sound import SAMPLE_RATE_HZ, SoundPlayer
from viewer.speech import SpeechCues, find_espeak, phrase_for, synthesize

needs_espeak = pytest.mark.skipif(
    find_espeak() is None,
    reason="espeak-ng not installed (Debian/Ubuntu: apt-get install espeak-ng)",
)
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "recordings" / "examples" / "chirunning_example.h5"


def _rules():
    for name in ("default", "chirunning"):
        yield from resolve_profile(name).rules


def test_a_short_phrase_per_rule():
    phrases = {}
    for rule in _rules():
        sides = ("left", "right") if rule.side == "each" else (None,)
        for side in sides:
            p = phrase_for(rule, side)
            assert 0 < len(p.split()) <= 4, p
            if side:
                assert side in p
            phrases[(rule.name, side)] = p
    assert phrases[("heel_strike", None)] == "Land midfoot"
    assert phrases[("pelvic_drop", "left")] == "Level hips, left"
    assert phrases[("low_cadence", None)] == "Quicker steps"


def test_rule_without_a_phrase_says_its_name():
    class R:
        name, metric, direction = "my_rule", "no_such_metric", "above"

    assert phrase_for(R()) == "My rule"
    assert phrase_for(R(), "left") == "My rule, left"


@needs_espeak
def test_every_rule_phrase_is_spoken_aloud():
    # espeak-ng's real audio: long enough to be words and clearly not silence
    seen = {}
    for rule in _rules():
        for side in ("left", "right") if rule.side == "each" else (None,):
            text = phrase_for(rule, side)
            if text in seen:
                continue
            x, rate = synthesize(text)
            dur = x.size / rate
            rms = float(np.sqrt(np.mean(x**2)))
            assert 0.3 < dur < 4.0, (text, dur)
            assert rms > 0.02, (text, rms)
            # speech, not a tone: energy comes and goes (syllables)
            frames = x[: x.size // 480 * 480].reshape(-1, 480)
            loud = np.sqrt(np.mean(frames**2, axis=1)) > 0.5 * rms
            assert 0.2 < loud.mean() < 0.95, text
            seen[text] = x
    assert len(seen) >= 5
    assert seen["Level hips, left"].size != seen["Level hips, right"].size or not np.array_equal(
        seen["Level hips, left"], seen["Level hips, right"]
    )


@needs_espeak
def test_speaking_never_blocks_the_caller():
    got = []
    cues = SpeechCues(lambda rule, pcm: got.append((rule, pcm)), sampling_rate_hz=SAMPLE_RATE_HZ)
    phrases = [
        ("heel_strike", "Land midfoot"),
        ("pelvic_drop", "Level hips, left"),
        ("low_cadence", "Quicker steps"),
    ]
    t0 = time.perf_counter()
    for rule, text in phrases:
        assert cues.say(rule, text)
    took = time.perf_counter() - t0
    assert cues.spoken == []  # nothing synthesised yet on this thread: say() only queued
    assert took < 0.05
    assert cues.wait(30.0)
    t_synth = time.perf_counter() - t0
    assert cues.spoken == phrases
    assert took < 0.2 * t_synth  # the synthesis took the worker far longer than the queueing
    assert [r for r, _ in got] == [r for r, _ in phrases]
    pcm = got[0][1]
    assert pcm.dtype == np.int16 and pcm.size > 0.3 * SAMPLE_RATE_HZ
    # a phrase is synthesised once, then reused
    t1 = time.perf_counter()
    cues.say("heel_strike", "Land midfoot")
    assert cues.wait(10.0)
    assert time.perf_counter() - t1 < t_synth / 3
    cues.close()


@needs_espeak
def test_sound_player_takes_spoken_cues():
    player = SoundPlayer(backend="log")
    cues = SpeechCues(player.play_samples)
    cues.say("heel_strike", "Land midfoot")
    assert cues.wait(30.0)
    assert player.requested == [("heel_strike", "speech")]
    cues.close()


def test_missing_espeak_is_one_line_and_tones(monkeypatch, capsys, tmp_path):
    import argparse

    from runform.commands._viewer_common import add_viewer_arguments, viewer_config

    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no espeak-ng
    p = argparse.ArgumentParser()
    add_viewer_arguments(p)
    cfg = viewer_config(p.parse_args(["--cues", "speech"]), mode="replay", title="t")
    assert cfg.cues == "tone"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "espeak-ng not found" in err[0] and "tones" in err[0]
    assert viewer_config(p.parse_args([]), mode="replay", title="t").cues == "tone"
    assert viewer_config(p.parse_args(["--mute"]), mode="replay", title="t").cues == "off"


@needs_espeak
@pytest.mark.skipif(not EXAMPLE.exists(), reason="example recording not generated")
def test_replay_speaks_the_heel_strike_alert(qtbot):
    pytest.importorskip("pytestqt")
    from recordings import ReplaySource
    from viewer.app import MainWindow, ViewerConfig
    from viewer.worker import AnalysisWorker

    profile = resolve_profile("default")
    worker = AnalysisWorker(
        lambda: ReplaySource(EXAMPLE, speed=16.0, realtime=False, block_s=0.5),
        profile,
        replay=True,
    )
    cfg = ViewerConfig(mode="replay", cues="speech", sound_backend="log", size=(1000, 700))
    win = MainWindow(worker, profile, cfg)
    qtbot.addWidget(win)
    worker.start()
    win.show()
    qtbot.waitUntil(lambda: win.ended, timeout=90_000)
    assert win.speech is not None and win.speech.wait(30.0)
    assert ("heel_strike", "Land midfoot") in win.speech.spoken
    assert ("heel_strike", "speech") in win.sound.requested
    assert ("heel_strike", "low") not in win.sound.requested  # spoken instead of the tone
    win.close()


def _slow_engine(tmp_path, seconds: float) -> str:
    """A stand-in for espeak-ng that takes ``seconds`` and fails (the worker's bookkeeping
    around it is what is tested)."""
    exe = tmp_path / "slow-espeak"
    exe.write_text(f"#!/bin/sh\nsleep {seconds}\nexit 1\n")
    exe.chmod(0o755)
    return str(exe)


def test_a_waiting_phrase_is_not_queued_twice(tmp_path):
    cues = SpeechCues(None, program=_slow_engine(tmp_path, 1.0))
    assert cues.say("a", "First")
    time.sleep(0.2)  # the worker is now inside the (slow) synthesis of "First"
    assert cues.say("b", "Second")
    assert not cues.say("b", "Second")  # the same phrase is still waiting
    assert cues.wait(10.0)
    assert cues.failed == [("a", "First"), ("b", "Second")]
    cues.close()


def test_late_cues_are_dropped(tmp_path, monkeypatch):
    import viewer.speech as speech

    monkeypatch.setattr(speech, "STALE_S", 0.5)
    cues = SpeechCues(None, program=_slow_engine(tmp_path, 1.0))
    assert cues.say("a", "First")
    time.sleep(0.2)
    assert cues.say("b", "Second")  # waits ~0.8 s behind "First": too late when its turn comes
    assert cues.wait(10.0)
    assert cues.dropped == [("b", "Second")]
    assert cues.failed == [("a", "First")]
    cues.close()
