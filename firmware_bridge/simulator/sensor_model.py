"""What a real IMU makes of the motion: mounting, specific force, filter, errors, packets.

For one sensor rigidly clipped to a body segment (rotation ``R_body_from_sensor`` and a lever arm
from the segment's origin), :class:`SensorModel` turns world-frame poses sampled at a high
internal rate into the sample stream a device would send:

1. specific force ``acc = R_ws^T (a_world - g_world)`` (+9.81 m/s² up at rest) and angular rate
   ``gyr = R_bs^T omega_body`` in deg/s, at the internal rate;
2. the device's anti-alias low-pass (causal Butterworth, state kept between pieces) and
   decimation to the output data rate (each sensor samples at its own phase);
3. gain error and axis misalignment, constant bias, white noise (noise density × √(rate/2)),
   int16 quantisation of the full-scale range and clipping at the range;
4. BLE packets of ``samples_per_packet`` samples lost in bursts (a two-state Markov chain),
   counted by ``seq`` (sample counter), with the lost intervals reported as gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import butter, sosfilt, sosfilt_zi
from scipy.spatial.transform import Rotation

from dsp.block import STANDARD_GRAVITY, SampleBlock

__all__ = ["MOUNTING_PRESETS", "Mounting", "SensorModel", "mounting_for"]

G = STANDARD_GRAVITY


def _ry(deg: float) -> np.ndarray:
    return Rotation.from_euler("y", deg, degrees=True).as_matrix()


def _cols(x, y, z) -> np.ndarray:
    """Matrix whose columns are the sensor axes x, y, z expressed in the body frame."""
    return np.array([x, y, z], dtype=float).T


AP, ML, VT = np.eye(3)

#: Named mountings: placement kind -> name -> (R_body_from_sensor, lever arm in the body frame, m).
#: Foot lever arms are from the heel point on the sole; the pelvis' from its centre. ``lateral``
#: and ``medial`` are given for the LEFT shoe (``+ml`` is lateral there) and mirrored for the right.
MOUNTING_PRESETS: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {
    "foot": {
        "flat": (np.eye(3), np.array([0.12, 0.0, 0.06])),
        # on the laces: x toward the toes, along the instep sloping down 25 deg, z out of the shoe
        "laces": (_ry(25.0), np.array([0.13, 0.0, 0.075])),
        "upside_down": (_ry(25.0) @ np.diag([1.0, -1.0, -1.0]), np.array([0.13, 0.0, 0.075])),
        # on the heel counter: z backward, x up (tilted back 10 deg with the counter)
        "heel_counter": (_ry(-10.0) @ _cols(VT, ML, -AP), np.array([-0.02, 0.0, 0.06])),
        # on the lateral side of the (left) shoe: z lateral (+ml), x toward the toes, y down
        "lateral": (_cols(AP, -VT, ML), np.array([0.10, 0.045, 0.035])),
        "medial": (_cols(AP, VT, -ML), np.array([0.10, -0.045, 0.035])),
    },
    "pelvis": {
        # on the sacrum: z backward out of the skin, x up, inclined 20 deg with the sacrum
        "sacrum": (_ry(20.0) @ _cols(VT, ML, -AP), np.array([-0.12, 0.0, 0.02])),
        "pelvis_upside_down": (_ry(20.0) @ _cols(-VT, -ML, -AP), np.array([-0.12, 0.0, 0.02])),
        # on a belt at the front: z forward, x up
        "pelvis_front": (_cols(VT, -ML, AP), np.array([0.12, 0.0, 0.0])),
        "flat": (np.eye(3), np.array([-0.12, 0.0, 0.02])),
    },
}


@dataclass
class Mounting:
    """How one sensor sits on its segment (truth)."""

    name: str
    R_body_from_sensor: np.ndarray
    lever_arm_m: np.ndarray


def mounting_for(
    placement: str, spec: object, rng: np.random.Generator, jitter_deg: float = 0.0
) -> Mounting:
    """Resolve a mounting preset name / ``"random"`` / 3x3 matrix for a placement.

    Raises ``ValueError`` naming the placement and the accepted names.
    """
    kind = "pelvis" if placement == "pelvis" else "foot"
    presets = MOUNTING_PRESETS[kind]
    default_lever = presets["sacrum" if kind == "pelvis" else "laces"][1]
    if isinstance(spec, str):
        if spec == "random":
            R = Rotation.random(random_state=rng).as_matrix()
            lever = default_lever.copy()
            name = "random"
        elif spec in presets:
            R, lever = presets[spec][0].copy(), presets[spec][1].copy()
            name = spec
        else:
            raise ValueError(
                f"mounting of {placement}: {spec!r}, expected one of "
                f"{', '.join([*presets, 'random'])} or a 3x3 rotation matrix"
            )
    else:
        R = np.asarray(spec, dtype=float)
        if (
            R.shape != (3, 3)
            or not np.allclose(R @ R.T, np.eye(3), atol=1e-6)
            or np.linalg.det(R) < 0
        ):
            raise ValueError(f"mounting of {placement}: expected a 3x3 rotation matrix")
        lever = default_lever.copy()
        name = "matrix"
    if placement == "right_foot":
        # ml points left on both shoes: the lateral side of the right shoe is -ml
        if name in ("lateral", "medial"):
            R = presets["medial" if name == "lateral" else "lateral"][0].copy()
        lever = np.diag([1.0, -1.0, 1.0]) @ lever
    if jitter_deg > 0:
        R = (
            Rotation.from_rotvec(
                rng.standard_normal(3) * np.deg2rad(jitter_deg) / np.sqrt(3)
            ).as_matrix()
            @ R
        )
    return Mounting(name=name, R_body_from_sensor=R, lever_arm_m=lever)


@dataclass(frozen=True)
class DeviceSpec:
    """What a simulated sensor device does to the truth (the defaults: a typical 6-axis IMU
    module streaming over BLE). :class:`~firmware_bridge.simulator.scenarios.Scenario` has the
    same knobs (its defaults are these) and gives them to every sensor
    (:meth:`~firmware_bridge.simulator.scenarios.Scenario.device_spec`).

    Attributes
    ----------
    acc_range_g, gyr_range_dps : float
        Full scale, g and deg/s.
    acc_noise_density, gyr_noise_density : float
        White noise, m/s²/√Hz and deg/s/√Hz.
    acc_bias_sd, gyr_bias_sd : float
        Per-axis constant bias spread, m/s² and deg/s.
    scale_error_sd, cross_axis_sd : float
        Per-axis gain error and axis misalignment (fractions).
    quantise : bool
        Round to the int16 step of the range.
    aa_filter : str
        ``"butterworth"`` (causal, like the device's digital low-pass) or ``"none"``.
    aa_cutoff_ratio : float
        Cutoff / rate.
    aa_order : int
        Filter order.
    samples_per_packet, packet_loss, loss_burst_packets : int, float, float
        BLE packets and their loss (fraction of packets, mean burst length in packets).
    """

    acc_range_g: float = 16.0
    gyr_range_dps: float = 2000.0
    acc_noise_density: float = 1.5e-3
    gyr_noise_density: float = 8e-3
    acc_bias_sd: float = 0.08
    gyr_bias_sd: float = 0.5
    scale_error_sd: float = 0.01
    cross_axis_sd: float = 0.003
    quantise: bool = True
    aa_filter: str = "butterworth"
    aa_cutoff_ratio: float = 0.4
    aa_order: int = 2
    samples_per_packet: int = 4
    packet_loss: float = 0.0
    loss_burst_packets: float = 2.0


@dataclass
class SensorModel:
    """Streaming device model of one sensor. Feed internal-rate truth in order with :meth:`feed`.

    Parameters
    ----------
    sensor_id : str
    mounting : Mounting
    rate_hz : float
        Output data rate, Hz.
    decim : int
        Internal rate / output rate.
    phase : int
        Index (0..decim-1) of the internal sample that is output in every group.
    rng : numpy Generator
        Draws this sensor's errors, noise and packet losses.
    spec : DeviceSpec
        Ranges, errors, anti-alias filter and BLE packets of the device.
    time_offset_s : float
        Constant time-stamp error, s.
    """

    sensor_id: str
    mounting: Mounting
    rate_hz: float
    decim: int
    phase: int
    rng: np.random.Generator
    spec: DeviceSpec = field(default_factory=lambda: DeviceSpec())
    time_offset_s: float = 0.0
    _state: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        r = self.rng
        self.acc_bias = r.standard_normal(3) * self.spec.acc_bias_sd
        self.gyr_bias = r.standard_normal(3) * self.spec.gyr_bias_sd
        self.acc_gain = np.eye(3) + np.diag(r.standard_normal(3) * self.spec.scale_error_sd)
        self.gyr_gain = np.eye(3) + np.diag(r.standard_normal(3) * self.spec.scale_error_sd)
        off = ~np.eye(3, dtype=bool)
        self.acc_gain[off] += r.standard_normal(6) * self.spec.cross_axis_sd
        self.gyr_gain[off] += r.standard_normal(6) * self.spec.cross_axis_sd
        self._loss_rng = np.random.default_rng(int(r.integers(0, 2**63 - 1)))
        self.acc_sigma = self.spec.acc_noise_density * np.sqrt(self.rate_hz / 2)
        self.gyr_sigma = self.spec.gyr_noise_density * np.sqrt(self.rate_hz / 2)
        self.acc_lsb = self.spec.acc_range_g * G / 32768.0
        self.gyr_lsb = self.spec.gyr_range_dps / 32768.0
        fs_int = self.rate_hz * self.decim
        if self.spec.aa_filter == "butterworth":
            fc = min(self.spec.aa_cutoff_ratio * self.rate_hz, 0.45 * fs_int)
            self.sos = butter(self.spec.aa_order, fc, fs=fs_int, output="sos")
        else:
            self.sos = None
        self._zi = None
        self._lost_prev = False
        self._packet_lost: dict[int, bool] = {}
        self._last_packet = -1
        self._gap_open: list[float] | None = None
        self._pending_gaps: list[list[float]] = []
        self._loss_start = (
            self.spec.packet_loss / (self.spec.loss_burst_packets * (1 - self.spec.packet_loss))
            if self.spec.packet_loss > 0
            else 0.0
        )
        self._loss_stay = 1 - 1 / max(self.spec.loss_burst_packets, 1.0)

    # ------------------------------------------------------------------------------------
    def true_signals(
        self, R_wb: np.ndarray, omega_b: np.ndarray, p_sensor: np.ndarray, dt: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ideal specific force (m/s²) and rate (deg/s) in the sensor frame.

        ``R_wb`` (N,3,3) and ``omega_b`` (N,3) at N samples; ``p_sensor`` (N+2,3) world positions
        of the sensor one sample before and after as well (for the second difference).
        """
        a = (p_sensor[2:] - 2 * p_sensor[1:-1] + p_sensor[:-2]) / (dt * dt)
        a[:, 2] += G
        Rbs = self.mounting.R_body_from_sensor
        acc_b = np.einsum("nji,nj->ni", R_wb, a)  # R_wb^T a
        acc = acc_b @ Rbs  # (R_bs^T v)^T = v^T R_bs
        gyr = np.rad2deg(omega_b) @ Rbs
        return acc, gyr

    def feed(
        self, n0: int, t_int: np.ndarray, acc: np.ndarray, gyr: np.ndarray
    ) -> SampleBlock | None:
        """Process internal samples with global indices ``n0 .. n0+len-1``; returns output samples."""
        x = np.concatenate([acc, gyr], axis=1)
        if self.sos is not None:
            if self._zi is None:
                self._zi = sosfilt_zi(self.sos)[:, :, None] * x[0][None, None, :]
            x, self._zi = sosfilt(self.sos, x, axis=0, zi=self._zi)
        idx = np.arange(n0, n0 + t_int.size)
        pick = (idx - self.phase) % self.decim == 0
        pick &= idx >= self.phase
        if not pick.any():
            return None
        x = x[pick]
        k = (idx[pick] - self.phase) // self.decim  # global output sample index
        t = t_int[pick] + self.time_offset_s
        n = k.size
        noise = self.rng.standard_normal((n, 6))  # one draw per piece: independent of piece sizes
        acc_o = x[:, :3] @ self.acc_gain.T + self.acc_bias + noise[:, :3] * self.acc_sigma
        gyr_o = x[:, 3:] @ self.gyr_gain.T + self.gyr_bias + noise[:, 3:] * self.gyr_sigma
        if self.spec.quantise:
            acc_o = np.clip(np.round(acc_o / self.acc_lsb), -32768, 32767) * self.acc_lsb
            gyr_o = np.clip(np.round(gyr_o / self.gyr_lsb), -32768, 32767) * self.gyr_lsb
        else:
            acc_o = np.clip(acc_o, -self.spec.acc_range_g * G, self.spec.acc_range_g * G)
            gyr_o = np.clip(gyr_o, -self.spec.gyr_range_dps, self.spec.gyr_range_dps)
        keep = np.ones(n, dtype=bool)
        if self.spec.packet_loss > 0:
            pk = k // self.spec.samples_per_packet
            lost = self._packets_lost(pk)
            keep = ~lost
            # gaps: runs of lost samples (a run may continue from the previous piece)
            d = np.diff(np.concatenate(([0], lost.astype(np.int8), [0])))
            starts = np.flatnonzero(d == 1)
            ends = np.flatnonzero(d == -1) - 1
            for a, b in zip(starts, ends, strict=True):
                if a == 0 and self._gap_open is not None:
                    self._gap_open[1] = float(t[b])
                else:
                    if self._gap_open is not None:
                        self._pending_gaps.append(self._gap_open)
                    self._gap_open = [float(t[a]), float(t[b])]
                if b < n - 1:
                    self._pending_gaps.append(self._gap_open)
                    self._gap_open = None
            if self._gap_open is not None and not lost[0] and starts.size == 0:
                self._pending_gaps.append(self._gap_open)
                self._gap_open = None
        gaps = np.empty((0, 2))
        if keep.any() and self._pending_gaps:
            gaps = np.array(self._pending_gaps)
            self._pending_gaps = []
        if not keep.any():
            return None
        return SampleBlock(
            sensor_id=self.sensor_id,
            t=t[keep].astype(np.float64),
            acc=acc_o[keep].astype(np.float64),
            gyr=gyr_o[keep].astype(np.float64),
            seq=k[keep].astype(np.uint32),
            gaps=gaps,
        )

    def _packets_lost(self, pk: np.ndarray) -> np.ndarray:
        uniq, inv = np.unique(pk, return_inverse=True)
        u = self._loss_rng.random(uniq.size)
        state = np.empty(uniq.size, dtype=bool)
        for i, p in enumerate(uniq):
            if int(p) != self._last_packet:
                thr = self._loss_stay if self._lost_prev else self._loss_start
                self._lost_prev = bool(u[i] < thr)
                self._last_packet = int(p)
            state[i] = self._lost_prev
        return state[inv]

    def truth_dict(self) -> dict[str, object]:
        """JSON-ready description of this sensor's true mounting and errors."""
        return {
            "mounting": self.mounting.name,
            "R_body_from_sensor": self.mounting.R_body_from_sensor.tolist(),
            "lever_arm_m": self.mounting.lever_arm_m.tolist(),
            "acc_bias": self.acc_bias.tolist(),
            "gyr_bias": self.gyr_bias.tolist(),
            "acc_gain": self.acc_gain.tolist(),
            "gyr_gain": self.gyr_gain.tolist(),
            "acc_noise_sd": float(self.acc_sigma),
            "gyr_noise_sd": float(self.gyr_sigma),
            "acc_range_g": float(self.spec.acc_range_g),
            "gyr_range_dps": float(self.spec.gyr_range_dps),
            "time_offset_s": float(self.time_offset_s),
            "sample_phase_s": float(self.phase / (self.rate_hz * self.decim)),
            "aa_filter": self.spec.aa_filter,
            "aa_cutoff_hz": float(self.spec.aa_cutoff_ratio * self.rate_hz)
            if self.sos is not None
            else None,
        }
