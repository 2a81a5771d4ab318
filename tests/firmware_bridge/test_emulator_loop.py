"""The emulated sensors' simulated signal loops for sessions longer than it: the repeats must
run on as more strides, not add a spurious one at each seam."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from dsp.block import SampleBlock
from firmware_bridge.emulator.virtual import simulated_signals
from firmware_bridge.simulator import simulate_session
from firmware_bridge.simulator.eval_feet import analyze_run

FEET = ["left_foot", "right_foot"]


def test_a_looped_simulated_run_has_no_spurious_stride_at_its_seams():
    rate, signal_s, session_s = 416.0, 60.0, 200.0  # three repeats of the 60 s signal
    sim = simulate_session("easy", duration_s=signal_s, rate_hz=rate, seed=3, packet_loss=0.0)
    signals = simulated_signals(FEET, scenario="easy", duration_s=signal_s, rate_hz=rate, seed=3)
    t = np.arange(int(session_s * rate)) / rate

    blocks = {}
    for sid in FEET:
        acc, gyr = signals[sid].sample(t)
        blocks[sid] = SampleBlock(sid, t, acc, gyr)
    run = SimpleNamespace(sensors=[s for s in sim.sensors if s.sensor_id in FEET], blocks=blocks)
    rows = [r for r in analyze_run(run) if r.t_ic > 8.0 and r.t_to is not None]
    truth = [c for c in sim.truth["contacts"] if c.get("cadence") is not None]
    cad = np.array([c["cadence"] for c in truth])
    vel = np.array([c["max_pronation_velocity"] for c in truth])
    # every stride of the repeats is one of the simulated runner's: cadence and pronation
    # velocity within the truth's range (a seam that lands the foot standing gave one stride
    # a cadence of 190-240 and no pronation)
    bad = [
        (round(r.t_ic, 2), r.cadence, r.max_pronation_velocity)
        for r in rows
        if (r.cadence is not None and r.cadence > cad.max() + 6.0)
        or (r.max_pronation_velocity is not None and r.max_pronation_velocity < 0.6 * vel.min())
    ]
    assert not bad, f"strides unlike the runner's (t_ic, cadence, pronation velocity): {bad}"
    # and every second of the session after the start keeps running
    per_foot = {sid: sum(1 for r in rows if r.sensor_id == sid) for sid in FEET}
    strides = (session_s - 8.0) * cad.mean() / 120.0
    assert all(n > 0.97 * strides for n in per_foot.values()), (per_foot, strides)
