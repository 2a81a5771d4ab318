"""Simulated sessions: the motion model + sensor models, generated in pieces.

:class:`SignalGenerator` advances through a session at the internal rate, a piece at a time, and
hands out :class:`~dsp.block.SampleBlock` objects per sensor; :func:`simulate_session` runs it to
the end and measures the truth; :class:`SimulatedSession` holds the result.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from dsp.block import SampleBlock, SensorInfo
from firmware_bridge.simulator.kinematics import GaitPlan
from firmware_bridge.simulator.scenarios import Scenario, get_scenario
from firmware_bridge.simulator.sensor_model import SensorModel, mounting_for

__all__ = [
    "SignalGenerator",
    "SimulatedSession",
    "resolve_scenario",
    "simulate_session",
    "write_simulated_recording",
]

log = logging.getLogger(__name__)

#: Internal (motion) sampling rate is the smallest multiple of the output rate >= this, Hz.
MIN_INTERNAL_RATE_HZ = 2000.0
_WARMUP_S = 0.25
#: A program's walk followed by standing stops this long before the standing bout, s (its
#: closing contact at or before then, :attr:`Scenario.walk_stop_s`).
_WALK_STOP_REST_S = 1.5


#: The gait knobs a walking bout of a program takes from the ``walk`` scenario (the pelvic
#: drop is the runner's own: weak hip abductors show in both gaits).
_WALK_KNOBS = (
    "gait",
    "cadence_spm",
    "speed_mps",
    "foot_strike_angle_deg",
    "foot_strike_offset_deg",
    "vertical_oscillation_cm",
    "duty_factor",
    "pronation_excursion_deg",
    "pronation_velocity_dps",
    "eversion_at_ic_deg",
    "pelvic_rotation_deg",
    "pelvic_tilt_deg",
    "impact_g_rearfoot",
    "impact_g_forefoot",
    "pelvis_impact_g",
    "speed_wander",
)


def _simulate_program(sc: Scenario, seed: int, *, truth: bool) -> SimulatedSession:
    """A session of bouts (``Scenario.program``): each walking or running bout simulated on
    its own (a stand before it as its standing period; the same seed, so the same sensors,
    mountings and errors), joined so that each sensor's samples and counters run on
    without a gap (bouts last whole sample periods, joined at them);
    the truth is joined alike and lists the ``bouts``."""
    from firmware_bridge.simulator.scenarios import get_scenario

    walk = get_scenario("walk")
    walk_knobs = {k: getattr(walk, k) for k in _WALK_KNOBS}
    phases: list[tuple[str, float, float]] = []  # (activity, standing before, seconds)
    stand = 0.0
    for act, d in sc.program_bouts():
        if act == "stand":
            stand += d
            continue
        phases.append((act, stand, d))
        stand = 0.0
    period = 1.0 / sc.rate_hz
    parts: dict[str, list[SampleBlock]] = {}
    contacts: list[dict] = []
    steps: list[dict] = []
    standing: list[list[float]] = []
    bouts: list[list] = []
    first: SimulatedSession | None = None
    offset = 0.0
    last_seq: dict[str, int] = {}
    tail = stand  # a stand after the last bout
    todo = [*phases, ("stand", tail, 0.0)] if tail > 0 else phases
    for k, (act, st_s, d) in enumerate(todo):
        # whole sample periods: every sensor samples at its own phase in each bout (the same
        # seed), so bouts joined at multiples of the period run on for all of them at once
        st_s = round(st_s / period) * period
        end_local = st_s + round((d if act != "stand" else 0.0) / period) * period
        # a walk followed by standing stops (a closing contact, then still) before its end
        stops = act == "walk" and k + 1 < len(todo) and todo[k + 1][1] > 0
        stop = {"walk_stop_s": end_local - _WALK_STOP_REST_S} if stops else {}
        sub = sc.with_overrides(
            name=f"{sc.name}#{k}",
            program=(),
            markers=(),
            schedule_time="s",
            standing_s=st_s,
            duration_s=end_local + (1.0 if act == "stand" else period),
            **(walk_knobs if act in ("walk", "stand") else {}),
            **stop,
        )
        part = simulate_session(sub, seed=seed, truth=truth)
        if first is None:
            first = part
        shift = offset
        for sid, b in part.blocks.items():
            n = int(np.searchsorted(b.t, end_local - 1e-9, side="left"))
            if not n:
                continue
            seq = None
            if b.seq is not None:
                s0 = last_seq.get(sid, -1) + 1 - int(b.seq[0])
                seq = (b.seq[:n].astype(np.int64) + s0).astype(np.uint32)
                last_seq[sid] = int(seq[-1])
            gaps = b.gaps[b.gaps[:, 1] <= b.t[n - 1]] + shift if b.gaps.size else b.gaps
            blk = SampleBlock(sid, b.t[:n] + shift, b.acc[:n], b.gyr[:n], seq=seq, gaps=gaps)
            parts.setdefault(sid, []).append(blk)
        tr = part.truth
        t_move = shift + st_s
        if st_s > 0:
            standing.append([round(shift, 6), round(t_move, 6)])
            bouts.append([round(shift, 6), round(t_move, 6), "stand"])
        if act != "stand":
            first_ic = min((c["t_ic"] for c in tr.get("contacts", [])), default=st_s)
            if st_s > 0:  # the walk starts with its first contact
                bouts[-1][1] = round(shift + first_ic, 6)
            start = shift + first_ic if st_s > 0 else shift
            t_stop = part.truth.get("t_stop")
            if stops and t_stop is not None:  # the walk ends at its closing contact
                bouts.append([round(start, 6), round(shift + t_stop, 6), act])
                bouts.append([round(shift + t_stop, 6), round(shift + end_local, 6), "stand"])
            else:
                bouts.append([round(start, 6), round(shift + end_local, 6), act])
            for lst_in, lst_out in (
                (tr.get("contacts", []), contacts),
                (tr.get("steps", []), steps),
            ):
                for c in lst_in:
                    if c["t_ic"] >= end_local:
                        continue
                    c = dict(c)
                    c["activity"] = act
                    for key in ("t_ic", "t_to"):
                        if c.get(key) is not None:
                            c[key] = round(c[key] + shift, 6)
                    lst_out.append(c)
        offset = shift + end_local
    assert first is not None
    joined: list[list] = []  # a stand after a stop and the stand before the next bout: one
    for bt in bouts:
        if joined and joined[-1][2] == bt[2] and abs(joined[-1][1] - bt[0]) < 1e-6:
            joined[-1][1] = bt[1]
        else:
            joined.append(bt)
    bouts = joined
    blocks = {sid: SampleBlock.concatenate(lst) for sid, lst in parts.items()}
    out_truth: dict = {}
    if truth:
        out_truth = dict(first.truth)
        out_truth.update(
            scenario=sc.name,
            description=sc.description,
            duration_s=round(offset, 6),
            gait="program",
            program=[[a, round(d, 6)] for a, d in sc.program_bouts()],
            standing=standing,
            contacts=contacts,
            steps=steps,
            bouts=bouts,
            seed=seed,
        )
    return SimulatedSession(
        scenario=sc,
        seed=seed,
        sensors=list(first.sensors),
        blocks=blocks,
        truth=out_truth,
        markers=[],
        generator=None,
    )


def resolve_scenario(
    scenario: str | Scenario,
    *,
    duration_s: float | None = None,
    rate_hz: float | None = None,
    **overrides: object,
) -> Scenario:
    """A :class:`Scenario` from a name or an instance, with overrides applied and validated."""
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    if duration_s is not None:
        overrides["duration_s"] = float(duration_s)
    if rate_hz is not None:
        overrides["rate_hz"] = float(rate_hz)
    if overrides:
        sc = sc.with_overrides(**overrides)
    # a scenario's own standing period gives way to a short duration; one asked for does not
    if "standing_s" not in overrides and sc.standing_s >= sc.duration_s:
        sc = sc.with_overrides(standing_s=max(0.0, min(sc.standing_s, sc.duration_s / 4)))
    sc.validate()
    return sc


def _software_version() -> str:
    """``runform-sim <installed version>`` (the simulator does not import the CLI package)."""
    try:
        return f"runform-sim {version('runform')}"
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "runform-sim 0.0.0+src"


class SignalGenerator:
    """Generates the sample streams of all sensors of a scenario, piece by piece.

    Parameters
    ----------
    scenario : Scenario
    seed : int
    horizon_s : float, optional
        How far the gait is planned (default the scenario's duration). Samples stop at it.
    """

    def __init__(self, scenario: Scenario, seed: int = 0, horizon_s: float | None = None):
        self.scenario = sc = scenario
        self.seed = int(seed)
        self.horizon_s = float(horizon_s if horizon_s is not None else sc.duration_s)
        self.plan = GaitPlan(sc, seed, self.horizon_s)
        rate = float(sc.rate_hz)
        self.decim = max(1, math.ceil(MIN_INTERNAL_RATE_HZ / rate - 1e-9))
        self.fs_int = rate * self.decim
        self.sensors: list[SensorInfo] = []
        self.models: dict[str, SensorModel] = {}
        for idx, placement in enumerate(sc.sensors):
            mrng = np.random.default_rng([self.seed, 13, idx])
            spec = sc.mounting.get(placement, "sacrum" if placement == "pelvis" else "laces")
            mount = mounting_for(placement, spec, mrng, sc.mount_jitter_deg)
            phase = int(mrng.integers(0, self.decim)) if sc.random_phase else 0
            info = SensorInfo(
                sensor_id=placement,
                placement=placement,
                device_model="simulated",
                sample_rate_hz=rate,
                acc_range_g=float(sc.acc_range_g),
                gyr_range_dps=float(sc.gyr_range_dps),
                firmware=_software_version(),
            )
            self.sensors.append(info)
            self.models[placement] = SensorModel(
                sensor_id=placement,
                mounting=mount,
                rate_hz=rate,
                decim=self.decim,
                phase=phase,
                rng=np.random.default_rng([self.seed, 11, idx]),
                spec=sc.device_spec(),
                time_offset_s=float(sc.clock_offset_s.get(placement, 0.0)),
            )
        self._n = -math.ceil(_WARMUP_S * self.fs_int)
        self._n_end = math.ceil(self.horizon_s * self.fs_int - 1e-9)

    @property
    def t_now(self) -> float:
        """Time up to which samples have been generated, s."""
        return max(self._n / self.fs_int, 0.0)

    @property
    def done(self) -> bool:
        return self._n >= self._n_end

    def segment_pose(self, placement: str, t: np.ndarray):
        """World pose of the segment a sensor is on (see :mod:`kinematics`)."""
        if placement == "pelvis":
            return self.plan.pelvis.pose(t)
        return self.plan.feet["left" if placement == "left_foot" else "right"].pose(t)

    def sensor_position(self, placement: str, t: np.ndarray) -> np.ndarray:
        """World position (m) of the sensor at times ``t``."""
        p = self.segment_pose(placement, t)
        lever = self.models[placement].mounting.lever_arm_m
        return p.origin + p.R @ lever

    def true_signals(self, placement: str, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ideal acc (m/s²) and gyr (deg/s) of a sensor at times ``t`` (uniform step)."""
        dt = float(t[1] - t[0])
        te = np.concatenate(([t[0] - dt], t, [t[-1] + dt]))
        p = self.segment_pose(placement, te)
        model = self.models[placement]
        pos = p.origin + p.R @ model.mounting.lever_arm_m
        return model.true_signals(p.R[1:-1], p.omega_body[1:-1], pos, dt)

    def advance(self, until_s: float) -> dict[str, list[SampleBlock]]:
        """Generate samples up to ``until_s`` (s); returns new blocks per sensor id."""
        out: dict[str, list[SampleBlock]] = {s.sensor_id: [] for s in self.sensors}
        n_stop = min(self._n_end, math.ceil(until_s * self.fs_int - 1e-9))
        piece = 1 << 15
        while self._n < n_stop:
            n1 = min(n_stop, self._n + piece)
            t = np.arange(self._n, n1) / self.fs_int
            for info in self.sensors:
                acc, gyr = self.true_signals(info.placement, t)
                blk = self.models[info.sensor_id].feed(self._n, t, acc, gyr)
                if blk is not None and len(blk):
                    out[info.sensor_id].append(blk)
            self._n = n1
        return out


@dataclass
class SimulatedSession:
    """A whole simulated session: sensors, blocks, truth and markers.

    Attributes
    ----------
    scenario : Scenario
    seed : int
    sensors : list of SensorInfo
    blocks : dict sensor_id -> SampleBlock (the whole run; lost packets removed, ``seq`` keeps
        counting, ``gaps`` lists the lost intervals)
    truth : dict (JSON-serialisable, see ``docs/simulator.md``)
    markers : list of (t, label, kind)
    """

    scenario: Scenario
    seed: int
    sensors: list[SensorInfo]
    blocks: dict[str, SampleBlock]
    truth: dict
    markers: list[tuple[float, str, str]] = field(default_factory=list)
    generator: SignalGenerator | None = field(default=None, repr=False)

    def iter_blocks(self, block_s: float = 0.05) -> Iterator[SampleBlock]:
        """Blocks of ``block_s`` seconds of all sensors, interleaved in time order."""
        if block_s <= 0:
            raise ValueError(f"block_s {block_s}: expected > 0")
        edges: dict[str, np.ndarray] = {}
        t_end = 0.0
        for b in self.blocks.values():
            if len(b):
                t_end = max(t_end, b.t_end)
        n_win = math.floor(t_end / block_s) + 1
        for sid, b in self.blocks.items():
            edges[sid] = np.searchsorted(b.t, np.arange(n_win + 1) * block_s, side="left")
        for w in range(n_win):
            for sid, b in self.blocks.items():
                i0, i1 = int(edges[sid][w]), int(edges[sid][w + 1])
                if w == n_win - 1:
                    i1 = len(b)
                if i1 <= i0:
                    continue
                gaps = b.gaps
                if gaps.size:
                    lo = b.t[i0 - 1] if i0 > 0 else -np.inf
                    sel = (gaps[:, 1] < b.t[i1 - 1]) & (gaps[:, 1] > lo)
                    gaps = gaps[sel]
                yield SampleBlock(
                    sensor_id=sid,
                    t=b.t[i0:i1],
                    acc=b.acc[i0:i1],
                    gyr=b.gyr[i0:i1],
                    seq=None if b.seq is None else b.seq[i0:i1],
                    gaps=gaps.reshape(-1, 2),
                )

    def write(self, path: str | os.PathLike[str], notes: str | None = None) -> None:
        """Write the session as an HDF5 recording (format v1), with markers and gaps."""
        from recordings.writer import RecordingWriter  # h5py only when writing (a live
        # simulated source that imports this module at connect time must not wait for it)

        if notes is None:
            notes = f"simulated: scenario {self.scenario.name}, seed {self.seed}"
        with RecordingWriter(path, self.sensors, notes=notes, live=False) as w:
            for _sid, b in self.blocks.items():
                w.append(b)
            for t, label, kind in self.markers:
                w.add_marker(t, label, kind)

    def write_truth(self, path: str | os.PathLike[str]) -> None:
        """Write :attr:`truth` as JSON."""
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(self.truth, fh, indent=1)
            fh.write("\n")


def simulate_session(
    scenario: str | Scenario = "easy",
    duration_s: float | None = None,
    rate_hz: float | None = None,
    seed: int = 0,
    *,
    truth: bool = True,
    **overrides: object,
) -> SimulatedSession:
    """Simulate a whole session.

    Parameters
    ----------
    scenario : str or Scenario
        A name of :data:`~firmware_bridge.simulator.scenarios.SCENARIOS` or a Scenario.
    duration_s, rate_hz : float, optional
        Override the scenario's duration (s) and output data rate (Hz, 50-1666).
    seed : int
        Everything random (variability, mountings jitter, sensor errors, losses) follows it.
    truth : bool
        Measure the ground truth (skip for benchmarks that need only signals).
    **overrides
        Any other :class:`Scenario` field.

    Returns
    -------
    SimulatedSession
    """
    from firmware_bridge.simulator.truth import block_stats, measure_truth

    sc = resolve_scenario(scenario, duration_s=duration_s, rate_hz=rate_hz, **overrides)
    if sc.program:
        return _simulate_program(sc, int(seed), truth=truth)
    gen = SignalGenerator(sc, seed)
    pieces = gen.advance(sc.duration_s)
    blocks = {}
    for info in gen.sensors:
        lst = pieces[info.sensor_id]
        if lst:
            blocks[info.sensor_id] = SampleBlock.concatenate(lst)
        else:
            blocks[info.sensor_id] = SampleBlock(
                info.sensor_id,
                np.empty(0),
                np.empty((0, 3)),
                np.empty((0, 3)),
                np.empty(0, np.uint32),
            )
    # samples lost at the very end cannot be told from the end of the recording: no gap
    markers = sc.marker_list()
    tr = measure_truth(gen, block_stats(blocks), markers) if truth else {}
    return SimulatedSession(
        scenario=sc,
        seed=int(seed),
        sensors=list(gen.sensors),
        blocks=blocks,
        truth=tr,
        markers=markers,
        generator=gen,
    )


def write_simulated_recording(
    path: str | os.PathLike[str],
    scenario: str | Scenario = "easy",
    duration_s: float | None = None,
    rate_hz: float | None = None,
    seed: int = 0,
    *,
    truth_path: str | os.PathLike[str] | None = None,
    notes: str | None = None,
    piece_s: float = 60.0,
    created_utc: str | None = None,
    **overrides: object,
) -> tuple[Scenario, dict, dict[str, int]]:
    """Simulate straight into an HDF5 recording, piece by piece (bounded memory for long runs).

    Produces the same samples as ``simulate_session(...).write(path)`` for the same arguments.
    ``created_utc`` (``YYYY-MM-DDTHH:MM:SSZ``) dates the recording, e.g. for a simulated
    season of sessions; now when omitted.

    Returns
    -------
    scenario : Scenario
        The resolved scenario.
    truth : dict
        The truth (``{}`` unless ``truth_path`` is given; then also written there as JSON).
    samples : dict
        Samples written per sensor id.
    """
    from firmware_bridge.simulator.truth import measure_truth
    from recordings.writer import RecordingWriter  # h5py only when writing

    sc = resolve_scenario(scenario, duration_s=duration_s, rate_hz=rate_hz, **overrides)
    if sc.program:  # bout by bout in memory (a program is minutes long)
        sim = _simulate_program(sc, int(seed), truth=truth_path is not None)
        sim.write(path, notes=notes)
        if truth_path is not None:
            sim.write_truth(truth_path)
        return sc, sim.truth, {sid: len(b) for sid, b in sim.blocks.items()}
    gen = SignalGenerator(sc, seed)
    if notes is None:
        notes = f"simulated: scenario {sc.name}, seed {int(seed)}"
    stats: dict[str, dict] = {
        s.sensor_id: {"gaps": [], "samples": 0, "last_seq": -1} for s in gen.sensors
    }
    markers = sc.marker_list()
    with RecordingWriter(path, gen.sensors, notes=notes, live=False, created_utc=created_utc) as w:
        t = 0.0
        while not gen.done:
            t = min(t + piece_s, sc.duration_s)
            for sid, lst in gen.advance(t).items():
                for b in lst:
                    w.append(b)
                    st = stats[sid]
                    st["gaps"].extend(b.gaps.tolist())
                    st["samples"] += len(b)
                    st["last_seq"] = int(b.seq[-1]) if b.seq is not None else -1
        for tm, label, kind in markers:
            w.add_marker(tm, label, kind)
    tr: dict = {}
    if truth_path is not None:
        tr = measure_truth(gen, stats, markers)
        with open(truth_path, "w", encoding="utf-8") as fh:
            json.dump(tr, fh, indent=1)
            fh.write("\n")
    return sc, tr, {sid: int(st["samples"]) for sid, st in stats.items()}
