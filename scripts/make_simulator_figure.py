"""Figure for docs/simulator.md: simulated signals against published reference magnitudes.

Ensemble averages (mean ± SD over strides) of simulated signals, with bands/points for the
magnitudes reported in the literature (see the sources in ``docs/simulator.md``). The bands are
reference ranges read from the papers' text and tables, not copied curves.

Usage: ``python scripts/make_simulator_figure.py [OUT.png]``
"""

from __future__ import annotations

import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from dsp.block import STANDARD_GRAVITY as G
from firmware_bridge.simulator import simulate_session

RATE = 416.0


def _body(run, sid):
    s = run.truth["sensors"][sid]
    b = run.blocks[sid]
    Rbs = np.array(s["R_body_from_sensor"])
    return b.t, (b.acc - np.array(s["acc_bias"])) @ Rbs.T, (b.gyr - np.array(s["gyr_bias"])) @ Rbs.T


def _strides(run, sid, t, x, n=200, t_min=8.0):
    """Resample x over each stride of ``sid`` (IC to next IC) to n points: (strides, n)."""
    rows = [
        c
        for c in run.truth["contacts"]
        if c["sensor_id"] == sid and c["stride_time"] and c["t_ic"] > t_min
    ]
    u = np.linspace(0, 1, n)
    out = [np.interp(c["t_ic"] + u * c["stride_time"], t, x) for c in rows]
    to = np.median([c["contact_time"] / c["stride_time"] for c in rows])
    return u * 100, np.array(out), to * 100


def _band(ax, lo, hi, label, color="tab:green", axis="y"):
    if axis == "y":
        ax.axhspan(lo, hi, color=color, alpha=0.15, lw=0)
        ax.text(
            0.99,
            hi,
            label,
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="bottom",
            fontsize=7,
            color=color,
        )


def _mean_sd(ax, u, X, label, color):
    m, s = X.mean(axis=0), X.std(axis=0)
    ax.plot(u, m, color=color, label=label, lw=1.5)
    ax.fill_between(u, m - s, m + s, color=color, alpha=0.2, lw=0)


def main(argv: list[str]) -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = argv[0] if argv else os.path.join(root, "docs", "figures", "simulator_vs_published.png")
    runs = {
        name: simulate_session(name, duration_s=40.0, rate_hz=RATE, seed=1, standing_s=3.0)
        for name in ("rearfoot", "midfoot", "forefoot")
    }
    colors = {"rearfoot": "tab:blue", "midfoot": "tab:orange", "forefoot": "tab:red"}
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    (a_pitch, a_gyr, a_acc), (a_ev, a_pf, a_pz) = axes
    for name, run in runs.items():
        gen = run.generator
        foot = gen.plan.feet["right"]
        tt = np.arange(0, 40, 1 / 1000)
        pose = foot.pose(tt)
        u, P, to = _strides(run, "right_foot", tt, pose.pitch)
        _mean_sd(
            a_pitch,
            u,
            P,
            f"{name} (FSA {np.median([c['foot_strike_angle'] for c in run.truth['contacts']]):.0f}°)",
            colors[name],
        )
        t, acc, gyr = _body(run, "right_foot")
        u, X, to = _strides(run, "right_foot", t, gyr[:, 1])
        _mean_sd(a_gyr, u, X, name, colors[name])
        u, X, _ = _strides(run, "right_foot", t, np.linalg.norm(acc, axis=1) / G)
        _mean_sd(a_acc, u, X, name, colors[name])
        ev = -pose.roll  # right shoe: eversion = -roll
        u, X, _ = _strides(run, "right_foot", tt, ev)
        _mean_sd(a_ev, u, X, name, colors[name])
    for ax in (a_pitch, a_gyr, a_acc, a_ev):
        ax.axvline(to, color="k", ls=":", lw=0.8)
        ax.set_xlabel("% stride (right foot, from initial contact)")
    # references
    a_pitch.axhspan(8.0, 30.0, color="tab:blue", alpha=0.08, lw=0)
    a_pitch.axhspan(-1.6, 8.0, color="tab:orange", alpha=0.08, lw=0)
    a_pitch.axhspan(-20.0, -1.6, color="tab:red", alpha=0.08, lw=0)
    a_pitch.text(1, 9, "rearfoot > 8°", fontsize=7, color="tab:blue")
    a_pitch.text(1, 0, "midfoot", fontsize=7, color="tab:orange")
    a_pitch.text(1, -8, "forefoot < -1.6° (Altman & Davis 2012)", fontsize=7, color="tab:red")
    a_pitch.set_ylabel("shoe pitch (deg, + toes up)")
    a_pitch.set_title("foot pitch: strike angle at IC, flat, push-off")
    _band(a_gyr, -1200, -400, "mid-swing peak 400-1200 deg/s (Falbriard 2018; Bailey & Harle 2015)")
    _band(a_gyr, -30, 30, "foot-flat plateau ~0", color="tab:gray")
    a_gyr.set_ylabel("gyr_ml, body frame (deg/s)")
    a_gyr.set_title(f"foot angular rate about ml ({RATE:g} Hz)")
    _band(a_acc, 5, 16, "heel-strike impact 5 to >16 g (Bailey & Harle 2014)")
    a_acc.set_ylabel("|acc| (g)")
    a_acc.set_title("foot specific force magnitude (impact at IC)")
    _band(a_ev, -6, -2, "inverted at IC", color="tab:gray")
    a_ev.set_ylabel("eversion (deg, + lateral edge up)")
    a_ev.set_title("eversion: excursion 5-15° (Nigg 1998; Sinclair 2017)")
    a_ev.set_xlim(0, 50)
    for name, run in runs.items():
        exc = np.median([c["pronation_excursion"] for c in run.truth["contacts"]])
        pv = np.median([c["max_pronation_velocity"] for c in run.truth["contacts"]])
        a_ev.text(
            24,
            8.0 - 1.1 * list(runs).index(name),
            f"{name}: excursion {exc:.0f}°, peak velocity {pv:.0f} deg/s",
            fontsize=7,
            color=colors[name],
        )
    a_ev.text(
        24,
        3.6,
        "published peak eversion velocity 200-600 deg/s\n(Mitschke et al. 2017; Shih et al. 2014)",
        fontsize=7,
        color="tab:green",
    )
    # pelvis
    for name, run in runs.items():
        t, acc, gyr = _body(run, "pelvis")
        # vertical specific force with the true orientation (model pose)
        pose = run.generator.plan.pelvis.pose(t)
        Rbs = np.array(run.truth["sensors"]["pelvis"]["R_body_from_sensor"])
        f_world = np.einsum("nij,nj->ni", pose.R, acc)[:, 2] / G
        u, X, to = _strides(run, "right_foot", t, f_world)
        _mean_sd(a_pf, u, X, name, colors[name])
        z = run.generator.sensor_position("pelvis", t)[:, 2]
        u, Z, _ = _strides(run, "right_foot", t, z)
        Z = (Z - Z.mean(axis=1, keepdims=True)) * 100
        _mean_sd(a_pz, u, Z, name, colors[name])
        del Rbs
    _band(a_pf, -0.15, 0.15, "flight ~0 g")
    _band(
        a_pf,
        2.0,
        3.0,
        "stance peak 2-3 g (~peak vGRF 2-3 BW; Cavanagh & Lafortune 1980; Alcantara 2021)",
    )
    a_pf.set_ylabel("pelvis vertical specific force (g)")
    a_pf.set_title("sacral IMU, vertical (true orientation)")
    _band(a_pz, -5, 5, "vertical oscillation 6-10 cm peak-to-peak (Folland 2017)")
    a_pz.set_ylabel("pelvis sensor height (cm, mean removed)")
    a_pz.set_title("pelvis vertical travel over a stride (2 steps)")
    for ax in (a_pf, a_pz):
        ax.set_xlabel("% stride (from right initial contact)")
    for ax in axes.ravel():
        ax.legend(fontsize=7, loc="lower left")
        ax.grid(alpha=0.3)
    fig.suptitle(
        "runform simulator vs published magnitudes (bands: reference ranges from the literature)"
    )
    fig.tight_layout()
    os.makedirs(os.path.dirname(out), exist_ok=True)
    fig.savefig(out, dpi=90)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
