"""Scenarios: every knob of a simulated run, and the named ones the CLI offers.

A :class:`Scenario` describes the runner (gait, cadence, speed, foot strike, pronation, pelvis),
the session (duration, standing period, treadmill, markers) and the sensors (mountings, ranges,
noise, filter, rate, lost packets). Time-varying knobs are *schedules*: a number, or a sequence
of ``(time, value)`` breakpoints interpolated linearly (held constant outside). With
``schedule_time="fraction"`` the breakpoint times (and marker times) are fractions of the
running part of the session (0 = end of the standing period, 1 = end of the session).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np

from firmware_bridge.simulator.sensor_model import DeviceSpec

__all__ = [
    "MIN_PROGRAM_BOUT_S",
    "MIN_STOPPING_WALK_S",
    "RATE_RANGE_HZ",
    "SCENARIOS",
    "Scenario",
    "Schedule",
    "get_scenario",
    "interval_program",
    "scenario_names",
]

#: A constant or ``((t, value), ...)`` breakpoints (linear interpolation, held at the ends).
Schedule = float | Sequence[tuple[float, float]]


_DEVICE = DeviceSpec()  # the device defaults (one place: DeviceSpec)

#: The shortest walking or running bout of a program once scaled to the session's duration, s
#: (a few strides) ...
MIN_PROGRAM_BOUT_S = 3.0
#: ... and of a walk followed by standing, which stops: its closing contact at least 3 s in
#: (``Scenario.walk_stop_s``), then 1.5 s of coming to rest, and a sample period's rounding.
MIN_STOPPING_WALK_S = 5.0

#: Output data rates the simulator generates, Hz (``Scenario.rate_hz``).
RATE_RANGE_HZ = (50.0, 1666.0)


def _default_mounting() -> dict[str, object]:
    return {"left_foot": "laces", "right_foot": "laces", "pelvis": "sacrum"}


@dataclass
class Scenario:
    """All knobs of one simulated session. Units in the names; angles in deg.

    Runner
    ------
    gait : ``"run"`` or ``"walk"``.
    cadence_spm : schedule, steps/min.
    speed_mps : schedule, m/s (belt speed on a treadmill).
    foot_strike_angle_deg : schedule, deg; foot pitch at IC minus at foot-flat, + = toes up.
    foot_strike_offset_deg : (left, right) added to the schedule per side.
    foot_strike_sd_deg : stride-to-stride standard deviation, deg.
    pronation_excursion_deg, pronation_velocity_dps : (left, right) eversion excursion in stance
        and peak eversion rate, deg and deg/s.
    eversion_at_ic_deg : eversion at contact (negative = landing on the lateral edge).
    pelvic_drop_deg : (left stance, right stance): drop of the swing side, deg.
    pelvic_obliquity_standing_deg : standing obliquity (+ = left hip higher), deg.
    vertical_oscillation_cm : schedule; sets the contact time of the spring-mass pelvis model.
    duty_factor : walking only: contact time / stride time.
    pelvic_rotation_deg, pelvic_tilt_deg : axial rotation amplitude (±) and extra anterior tilt
        while running, deg.
    foot_progression_deg : toe-out angle, deg. step_width_m : distance between the feet, m.
    cadence_cv, contact_time_cv, variability : stride-to-stride variability (relative).
    speed_wander : slow relative speed fluctuation overground (0 on a treadmill).
    runner_variation : 0 = the nominal runner; 1 = a different runner per seed (heel-off timing,
        forefoot slap, push-off and swing pitch, heel kick and impact vary by typical
        between-runner amounts).
    impact_g_rearfoot, impact_g_forefoot : extra deceleration of the shoe at contact, g.
    pelvis_impact_g : soft-tissue transient at the sacrum at each contact, g.
    foot_ring_g, foot_ring_hz, foot_ring_tau_s : impact ringing of the shoe after each
        touch-down (peak g, frequency Hz, decay s): a damped oscillation, as real shoe IMUs
        show (25-60 Hz), which clips at small ranges; 0 = off.
    stance_wobble_dps : peak roll and yaw rate of the foot through its flat phase, deg/s (real
        running feet are never still at mid-stance: 25-90 deg/s at the stillest instant);
        0 = a still flat phase.
    swing_inversion_coupling : eversion change per degree of pitch in swing (deg/deg; the
        pitch relative to the next touch-down's, faded in and out over the swing): the foot
        inverts as it dorsiflexes towards the touch-down, so it swings about an oblique axis,
        not its own medio-lateral one. The real treadmill runner (Fukuchi RBDS032) swung
        about an axis ~20 deg from its heel-toe axis's normal. 0 = a pure pitch.
    foot_axes_variation : 0 = the scenario's foot axes; 1 = a different runner's per seed:
        toe-out ±4 deg, inversion at contact ±3 deg, ``swing_inversion_coupling`` + 0.2 ± 0.12
        (the shoe's heel-toe axis then differs from the swing axis and from the direction of
        travel, as on real runners).

    Session
    -------
    duration_s, standing_s (standing still at the start; 0 = running from t = 0), treadmill,
    schedule_time (``"s"`` or ``"fraction"``), markers ``((t, label, kind), ...)``.
    walk_stop_s : walking only: the walk stops, s (None: it goes on to the end). The walker
        slows over the last step and closes the walk: the trailing foot is set down beside the
        other ``WALK_CLOSING_STEP`` of a step after the last contact (at or before
        ``walk_stop_s``), both feet then stay on the ground and the pelvis comes to rest (its
        bounce at the closing contact a tenth of a step's; sway, drop and rotation gone).
    program : ``((activity, seconds), ...)`` with activity ``stand``, ``walk`` or ``run``: a
        session of bouts (e.g. run/walk intervals), simulated bout by bout and joined (see
        :func:`firmware_bridge.simulator.session.simulate_session`); running bouts use this
        scenario's runner, walking bouts the ``walk`` scenario's gait knobs (the runner's own
        pelvic drop). ``duration_s``
        and ``standing_s`` are then the program's.

    Sensors
    -------
    sensors : placements to simulate (sensor id = placement).
    mounting : placement -> preset name (``laces``, ``flat``, ``heel_counter``, ``lateral``,
        ``medial``, ``upside_down``, ``sacrum``, ``pelvis_front``, ``pelvis_upside_down``,
        ``random``) or a 3x3 ``R_body_from_sensor``.
    mount_jitter_deg : random extra misalignment of every mounting, deg.
    rate_hz : output data rate, 50-1666 Hz.
    acc_range_g ... loss_burst_packets : the device: ranges, noise, biases, gain and axis errors,
        quantisation, anti-alias filter, BLE packets and their loss, as in
        :class:`~firmware_bridge.simulator.sensor_model.DeviceSpec` (whose defaults these are).
    clock_offset_s : placement -> constant time-stamp error, s. random_phase : sensors sample at
        independent instants.
    """

    name: str = "custom"
    description: str = ""
    # session
    duration_s: float = 120.0
    standing_s: float = 5.0
    treadmill: bool = False
    schedule_time: str = "s"
    markers: tuple[tuple[float, str, str], ...] = ()
    program: tuple[tuple[str, float], ...] = ()
    walk_stop_s: float | None = None
    # runner
    gait: str = "run"
    cadence_spm: Schedule = 170.0
    speed_mps: Schedule = 3.2
    foot_strike_angle_deg: Schedule = 12.0
    foot_strike_offset_deg: tuple[float, float] = (0.0, 0.0)
    foot_strike_sd_deg: float = 1.5
    pronation_excursion_deg: tuple[float, float] = (9.0, 9.0)
    pronation_velocity_dps: tuple[float, float] = (350.0, 350.0)
    eversion_at_ic_deg: float = -4.0
    pelvic_drop_deg: tuple[float, float] = (5.0, 5.0)
    pelvic_obliquity_standing_deg: float = 0.0
    vertical_oscillation_cm: Schedule = 8.0
    duty_factor: float = 0.62
    pelvic_rotation_deg: float = 5.0
    pelvic_tilt_deg: float = 6.0
    foot_progression_deg: float = 6.0
    step_width_m: float = 0.09
    cadence_cv: float = 0.012
    contact_time_cv: float = 0.03
    variability: float = 0.08
    speed_wander: float = 0.02
    runner_variation: float = 0.0
    impact_g_rearfoot: float = 12.0
    impact_g_forefoot: float = 4.0
    pelvis_impact_g: float = 0.6
    foot_ring_g: float = 0.0
    foot_ring_hz: float = 40.0
    foot_ring_tau_s: float = 0.008
    stance_wobble_dps: float = 0.0
    swing_inversion_coupling: float = 0.0
    foot_axes_variation: float = 0.0
    # sensors
    sensors: tuple[str, ...] = ("left_foot", "right_foot", "pelvis")
    mounting: Mapping[str, object] = field(default_factory=_default_mounting)
    mount_jitter_deg: float = 2.0
    rate_hz: float = 208.0
    # the device (its defaults are DeviceSpec's, given to every sensor by device_spec())
    acc_range_g: float = _DEVICE.acc_range_g
    gyr_range_dps: float = _DEVICE.gyr_range_dps
    acc_noise_density: float = _DEVICE.acc_noise_density
    gyr_noise_density: float = _DEVICE.gyr_noise_density
    acc_bias_sd: float = _DEVICE.acc_bias_sd
    gyr_bias_sd: float = _DEVICE.gyr_bias_sd
    scale_error_sd: float = _DEVICE.scale_error_sd
    cross_axis_sd: float = _DEVICE.cross_axis_sd
    quantise: bool = _DEVICE.quantise
    aa_filter: str = _DEVICE.aa_filter
    aa_cutoff_ratio: float = _DEVICE.aa_cutoff_ratio
    aa_order: int = _DEVICE.aa_order
    samples_per_packet: int = _DEVICE.samples_per_packet
    packet_loss: float = _DEVICE.packet_loss
    loss_burst_packets: float = _DEVICE.loss_burst_packets
    clock_offset_s: Mapping[str, float] = field(default_factory=dict)
    random_phase: bool = True

    # -- helpers -------------------------------------------------------------------------
    def device_spec(self) -> DeviceSpec:
        """The device knobs of this scenario (the same for every sensor)."""
        return DeviceSpec(**{f.name: getattr(self, f.name) for f in fields(DeviceSpec)})

    def with_overrides(self, **overrides: object) -> Scenario:
        """A copy with some fields replaced; unknown names raise one clear ``ValueError``."""
        names = {f.name for f in fields(self)}
        bad = sorted(set(overrides) - names)
        if bad:
            raise ValueError(
                f"scenario {self.name}: unknown field(s) {', '.join(bad)}; "
                f"expected some of {', '.join(sorted(names))}"
            )
        return replace(self, **overrides)  # type: ignore[arg-type]

    def to_seconds(self, t: float) -> float:
        """A schedule/marker time in s on the session time base."""
        if self.schedule_time == "fraction":
            return self.standing_s + float(t) * (self.duration_s - self.standing_s)
        return float(t)

    def schedule(self, value: Schedule, t: np.ndarray | float) -> np.ndarray:
        """Evaluate a schedule knob at times ``t`` (s)."""
        if isinstance(value, (int, float)):
            return np.full(np.shape(t), float(value))
        pts = sorted((self.to_seconds(a), float(b)) for a, b in value)
        ts = np.array([p[0] for p in pts])
        vs = np.array([p[1] for p in pts])
        return np.interp(t, ts, vs)

    def program_bouts(self) -> list[tuple[str, float]]:
        """The program scaled to ``duration_s`` (a duration override shortens every bout
        alike): ``[(activity, seconds), ...]``."""
        total = sum(float(d) for _, d in self.program)
        k = self.duration_s / total if total > 0 else 1.0
        return [(a, float(d) * k) for a, d in self.program]

    def min_duration_s(self) -> float:
        """The shortest ``duration_s`` this scenario's program can be scaled to, s, rounded up
        to 0.1 s: every walking or running bout at least :data:`MIN_PROGRAM_BOUT_S`, a walk
        followed by standing at least :data:`MIN_STOPPING_WALK_S`; 0 for a scenario without a
        program."""
        total = sum(float(d) for _, d in self.program)
        need = 0.0
        for k, (act, d) in enumerate(self.program):
            if act == "stand" or not float(d) > 0:
                continue
            stops = (
                act == "walk" and k + 1 < len(self.program) and self.program[k + 1][0] == "stand"
            )
            shortest = MIN_STOPPING_WALK_S if stops else MIN_PROGRAM_BOUT_S
            need = max(need, total * shortest / float(d))
        return math.ceil(10.0 * need - 1e-6) / 10.0

    def marker_list(self) -> list[tuple[float, str, str]]:
        """Markers with times in s."""
        return [(self.to_seconds(t), str(label), str(kind)) for t, label, kind in self.markers]

    def validate(self) -> None:
        """Raise ``ValueError`` (one line naming the field) for knobs that cannot work."""
        n = self.name
        lo, hi = RATE_RANGE_HZ
        if not (lo <= self.rate_hz <= hi + 1e-9):
            raise ValueError(f"scenario {n}: rate_hz {self.rate_hz}, expected {lo:g} to {hi:g} Hz")
        if self.duration_s <= 0:
            raise ValueError(f"scenario {n}: duration_s {self.duration_s}, expected > 0")
        if not (0 <= self.standing_s < self.duration_s):
            raise ValueError(
                f"scenario {n}: standing_s {self.standing_s}, expected 0 <= standing_s "
                f"< duration_s ({self.duration_s})"
            )
        for act, secs in self.program:
            if act not in ("stand", "walk", "run") or not float(secs) > 0:
                raise ValueError(
                    f"scenario {n}: program bout ({act!r}, {secs}), expected stand, walk or "
                    "run for a positive number of seconds"
                )
        if self.program and all(a == "stand" for a, _ in self.program):
            raise ValueError(f"scenario {n}: program has no walking or running bout")
        if self.program and self.duration_s < self.min_duration_s() - 1e-9:
            total = sum(float(d) for _, d in self.program)
            raise ValueError(
                f"scenario {n}: duration_s {self.duration_s:g} s is too short for its program "
                f"of {len(self.program)} bouts ({total:g} s, every bout shortened alike): "
                f"expected every walking or running bout to last at least "
                f"{MIN_PROGRAM_BOUT_S:g} s and a walk before standing {MIN_STOPPING_WALK_S:g} s; "
                f"give a duration of at least {self.min_duration_s():g} s"
            )
        if self.gait not in ("run", "walk"):
            raise ValueError(f"scenario {n}: gait {self.gait!r}, expected 'run' or 'walk'")
        if self.walk_stop_s is not None and not (
            self.gait == "walk" and self.standing_s + 3.0 <= self.walk_stop_s <= self.duration_s
        ):
            raise ValueError(
                f"scenario {n}: walk_stop_s {self.walk_stop_s}, expected a walk (gait 'walk') "
                f"stopping at least 3 s after standing_s ({self.standing_s}) and by duration_s "
                f"({self.duration_s})"
            )
        if self.schedule_time not in ("s", "fraction"):
            raise ValueError(
                f"scenario {n}: schedule_time {self.schedule_time!r}, expected 's' or 'fraction'"
            )
        if self.aa_filter not in ("butterworth", "none"):
            raise ValueError(
                f"scenario {n}: aa_filter {self.aa_filter!r}, expected 'butterworth' or 'none'"
            )
        if not (0.0 <= self.foot_axes_variation <= 2.0):
            raise ValueError(
                f"scenario {n}: foot_axes_variation {self.foot_axes_variation}, expected 0 to 2"
            )
        if not (0.0 <= self.swing_inversion_coupling <= 1.0):
            raise ValueError(
                f"scenario {n}: swing_inversion_coupling {self.swing_inversion_coupling}, "
                "expected 0 to 1"
            )
        if not (0 <= self.packet_loss < 0.9):
            raise ValueError(f"scenario {n}: packet_loss {self.packet_loss}, expected 0 <= p < 0.9")
        # the device's ranges as a recording holds them (else simulate writes a file that no
        # reader takes: 'acc_range_g is 0, expected 0.5 to 1000 g')
        from recordings.reader import ACC_RANGE_G, GYR_RANGE_DPS

        for key, (lo, hi), unit in (
            ("acc_range_g", ACC_RANGE_G, "g"),
            ("gyr_range_dps", GYR_RANGE_DPS, "deg/s"),
        ):
            v = float(getattr(self, key))
            if not (lo <= v <= hi):
                raise ValueError(f"scenario {n}: {key} {v:g}, expected {lo:g} to {hi:g} {unit}")
        if not (0.0 <= self.mount_jitter_deg <= 180.0):
            raise ValueError(
                f"scenario {n}: mount_jitter_deg {self.mount_jitter_deg}, expected 0 to 180 deg"
            )
        for drop in self.pelvic_drop_deg:
            if not (-10.0 <= float(drop) <= 30.0):
                raise ValueError(
                    f"scenario {n}: pelvic_drop_deg value {drop}, expected -10 to 30 deg "
                    "(a drop of the swing side; negative: a hip hike)"
                )
        if self.samples_per_packet < 1:
            raise ValueError(
                f"scenario {n}: samples_per_packet {self.samples_per_packet}, expected >= 1"
            )
        for p in self.sensors:
            if p not in ("left_foot", "right_foot", "pelvis"):
                raise ValueError(
                    f"scenario {n}: sensor {p!r}, expected left_foot, right_foot or pelvis"
                )
        for key, lo, hi in (
            ("cadence_spm", 60.0, 260.0),
            ("speed_mps", 0.3, 9.0),
            ("foot_strike_angle_deg", -25.0, 35.0),
            ("vertical_oscillation_cm", 1.0, 20.0),
        ):
            v = getattr(self, key)
            vals = [v] if isinstance(v, (int, float)) else [b for _, b in v]
            for x in vals:
                if not (lo <= float(x) <= hi):
                    raise ValueError(f"scenario {n}: {key} value {x}, expected {lo} to {hi}")


def _easy() -> Scenario:
    return Scenario(
        name="easy",
        description="easy run, mild rearfoot strike, 168 spm at 3.0 m/s, symmetric",
        cadence_spm=168.0,
        speed_mps=3.0,
        foot_strike_angle_deg=10.0,
        vertical_oscillation_cm=8.5,
        pelvic_drop_deg=(5.0, 4.6),
    )


def _chirunning() -> Scenario:
    return Scenario(
        name="chirunning",
        description=(
            "heel strike (~17 deg) at 160 spm, then a ChiRunning midfoot drill (~2 deg, 176 spm) "
            "from 45% of the run; weak left gluteus minimus (7.5 vs 4 deg pelvic drop)"
        ),
        duration_s=120.0,
        standing_s=5.0,
        schedule_time="fraction",
        cadence_spm=((0.0, 160.0), (0.45, 160.0), (0.52, 176.0), (1.0, 177.0)),
        speed_mps=((0.0, 3.0), (0.45, 3.0), (0.52, 3.1), (1.0, 3.1)),
        foot_strike_angle_deg=((0.0, 17.0), (0.45, 17.0), (0.52, 2.5), (1.0, 2.0)),
        vertical_oscillation_cm=((0.0, 9.5), (0.45, 9.5), (0.52, 7.0), (1.0, 7.0)),
        pelvic_drop_deg=(7.5, 4.0),
        pronation_excursion_deg=(10.0, 8.0),
        pronation_velocity_dps=(420.0, 330.0),
        markers=((0.45, "midfoot drill", "note"),),
    )


def _rearfoot() -> Scenario:
    return Scenario(
        name="rearfoot",
        description="pronounced heel strike (~22 deg), 158 spm at 2.8 m/s, large pronation",
        cadence_spm=158.0,
        speed_mps=2.8,
        foot_strike_angle_deg=22.0,
        vertical_oscillation_cm=10.0,
        pronation_excursion_deg=(13.0, 12.0),
        pronation_velocity_dps=(520.0, 480.0),
        impact_g_rearfoot=14.0,
        pelvic_drop_deg=(6.0, 6.5),
    )


def _midfoot() -> Scenario:
    return Scenario(
        name="midfoot",
        description="midfoot strike (~3 deg), 176 spm at 3.4 m/s",
        cadence_spm=176.0,
        speed_mps=3.4,
        foot_strike_angle_deg=3.0,
        vertical_oscillation_cm=7.5,
        pronation_excursion_deg=(7.0, 7.5),
        pronation_velocity_dps=(300.0, 320.0),
        pelvic_drop_deg=(4.5, 5.0),
    )


def _forefoot() -> Scenario:
    return Scenario(
        name="forefoot",
        description="forefoot strike (~-9 deg), 182 spm at 4.2 m/s, tempo run",
        cadence_spm=182.0,
        speed_mps=4.2,
        foot_strike_angle_deg=-9.0,
        vertical_oscillation_cm=7.0,
        pronation_excursion_deg=(6.0, 6.0),
        pronation_velocity_dps=(260.0, 280.0),
        pelvic_drop_deg=(4.0, 3.5),
        pelvic_rotation_deg=7.0,
    )


def _walk() -> Scenario:
    return Scenario(
        name="walk",
        description="brisk walk, 112 steps/min at 1.45 m/s, heel strike ~22 deg",
        gait="walk",
        cadence_spm=112.0,
        speed_mps=1.45,
        foot_strike_angle_deg=22.0,
        vertical_oscillation_cm=3.5,
        duty_factor=0.62,
        pronation_excursion_deg=(6.0, 6.0),
        pronation_velocity_dps=(120.0, 120.0),
        eversion_at_ic_deg=-3.0,
        pelvic_drop_deg=(4.0, 4.0),
        pelvic_rotation_deg=4.0,
        pelvic_tilt_deg=1.0,
        impact_g_rearfoot=3.0,
        impact_g_forefoot=1.5,
        pelvis_impact_g=0.2,
        speed_wander=0.03,
    )


def _treadmill() -> Scenario:
    return Scenario(
        name="treadmill",
        description="treadmill at 3.3 m/s, 172 spm, mild heel strike, belt speed step at 60%",
        treadmill=True,
        schedule_time="fraction",
        cadence_spm=((0.0, 172.0), (0.6, 172.0), (0.62, 176.0)),
        speed_mps=((0.0, 3.3), (0.6, 3.3), (0.62, 3.6)),
        foot_strike_angle_deg=9.0,
        vertical_oscillation_cm=7.8,
        pelvic_drop_deg=(5.5, 5.0),
        speed_wander=0.0,
        markers=((0.6, "belt speed 3.6 m/s", "note"),),
    )


def interval_program(
    run_s: float, walk_s: float, repeats: int, *, stand_s: float = 10.0, warmup_s: float = 60.0
) -> tuple[tuple[str, float], ...]:
    """Stand, walk (warm-up), ``repeats`` x (run ``run_s``, walk ``walk_s``), stand."""
    prog: list[tuple[str, float]] = [("stand", stand_s), ("walk", warmup_s)]
    for _ in range(repeats):
        prog += [("run", run_s), ("walk", walk_s)]
    return (*prog, ("stand", stand_s))


def _intervals() -> Scenario:
    prog = interval_program(60.0, 90.0, 4)
    return Scenario(
        name="intervals",
        description=(
            "run/walk intervals (Couch to 5K): stand, 60 s walk, 4 x (60 s run at 2.8 m/s, "
            "90 s walk), stand; weak left hip (9 vs 4.5 deg pelvic drop, walking and running)"
        ),
        program=prog,
        duration_s=sum(d for _, d in prog),
        standing_s=prog[0][1],
        cadence_spm=164.0,
        speed_mps=2.8,
        foot_strike_angle_deg=14.0,
        vertical_oscillation_cm=8.5,
        pelvic_drop_deg=(9.0, 4.5),
    )


#: Named scenarios: name -> factory returning a fresh :class:`Scenario`.
SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "easy": _easy,
    "chirunning": _chirunning,
    "rearfoot": _rearfoot,
    "midfoot": _midfoot,
    "forefoot": _forefoot,
    "walk": _walk,
    "treadmill": _treadmill,
    "intervals": _intervals,
}


def scenario_names() -> list[str]:
    """Names of the named scenarios."""
    return list(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    """A fresh copy of a named scenario; unknown names raise one clear ``ValueError``."""
    try:
        return SCENARIOS[name]()
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}, expected one of {', '.join(SCENARIOS)}"
        ) from None
