"""Compare foot analysis rows with the simulator's ground truth (used by the accuracy tests and
``scripts/accuracy_matrix.py``)."""

from __future__ import annotations

import numpy as np

from dsp.block import SampleBlock
from dsp.contact import ContactRow
from dsp.foot_analyzer import FootAnalyzer
from dsp.session import SessionAnalyzer

FOOT = ("left_foot", "right_foot")


def analyze_run(run, *, block_s: float | None = None, config=None) -> list[ContactRow]:
    """Rows of a simulated run (all sensors) through :class:`SessionAnalyzer`."""
    sa = SessionAnalyzer(run.sensors, config=config)
    rows: list[ContactRow] = []
    if block_s is None:
        for b in run.blocks.values():
            if len(b):
                rows += sa.feed(b).rows
    else:
        for b in run.iter_blocks(block_s):
            rows += sa.feed(b).rows
    rows += sa.finish().rows
    return rows


def _in_gap(t0: float, t1: float, gaps: np.ndarray) -> bool:
    return bool(gaps.size and np.any((gaps[:, 0] < t1) & (gaps[:, 1] > t0)))


def evaluate(rows: list[ContactRow], truth: dict, sensor_id: str, tol_s: float = 0.1) -> dict:
    """Errors of one foot sensor's rows against the truth contacts.

    Truth contacts that touch a data gap (50 ms margin before IC, 150 ms after TO: the lift-off
    must be seen) or end within 150 ms of the end of the data are not expected (a contact
    without a toe-off, the last ones of a stopped walk: its IC and a second after it); rows
    that match no truth contact are false ones.
    """
    tc = [c for c in truth["contacts"] if c["sensor_id"] == sensor_id]
    gaps = np.asarray(truth["sensors"][sensor_id].get("gaps") or np.empty((0, 2)), float)
    gaps = gaps.reshape(-1, 2)
    mine = [r for r in rows if r.sensor_id == sensor_id]
    t_end = float(truth["duration_s"])

    def lift(c: dict) -> float:
        # a stopped walk's last contacts have no toe-off (the foot stays down): their contact
        # is expected when the data go on for a second after it
        return c["t_to"] + 0.15 if c["t_to"] is not None else c["t_ic"] + 1.0

    expected = [c for c in tc if not _in_gap(c["t_ic"] - 0.05, lift(c), gaps) and lift(c) < t_end]
    t_true = np.array([c["t_ic"] for c in tc])
    used = set()
    pairs = []
    false = 0
    for r in mine:
        if r.t_ic < 0.05:
            continue  # the truth lists no contact that starts within 20 ms of the data's start
        if r.t_to is None and r.t_ic > t_end - 1.0:
            continue  # a landing cut by the end of the data: the truth lists no contact without TO
        if t_true.size == 0:
            false += 1
            continue
        j = int(np.argmin(np.abs(t_true - r.t_ic)))
        if abs(t_true[j] - r.t_ic) <= tol_s and j not in used:
            used.add(j)
            pairs.append((r, tc[j]))
        else:
            false += 1
    exp_ids = {id(c) for c in expected}
    found = sum(1 for _, c in pairs if id(c) in exp_ids)
    out: dict = {
        "sensor_id": sensor_id,
        "expected": len(expected),
        "found": found,
        "found_frac": found / len(expected) if expected else 1.0,
        "false": false,
        "rows": len(mine),
    }

    def col(name_r, name_t=None, only_ok=True):
        a, b = [], []
        for r, c in pairs:
            if only_ok and "rejected" in r.flags:
                continue
            x = getattr(r, name_r)
            y = c.get(name_t or name_r)
            if x is None or y is None:
                continue
            a.append(x)
            b.append(y)
        return np.asarray(a, dtype=object if name_r == "strike_type" else float), np.asarray(
            b, dtype=object if name_r == "strike_type" else float
        )

    e_ic = np.array([r.t_ic - c["t_ic"] for r, c in pairs]) * 1000
    e_to = (
        np.array([r.t_to - c["t_to"] for r, c in pairs if None not in (r.t_to, c["t_to"])]) * 1000
    )
    out["ic_median_abs_ms"] = float(np.median(np.abs(e_ic))) if e_ic.size else np.nan
    out["ic_bias_ms"] = float(np.median(e_ic)) if e_ic.size else np.nan
    out["to_median_abs_ms"] = float(np.median(np.abs(e_to))) if e_to.size else np.nan
    out["to_bias_ms"] = float(np.median(e_to)) if e_to.size else np.nan
    a, b = col("foot_strike_angle")
    out["fsa_mae_deg"] = float(np.mean(np.abs(a - b))) if a.size else np.nan
    a, b = col("strike_type")
    out["strike_type_acc"] = float(np.mean(a == b)) if a.size else np.nan
    a, b = col("max_pronation_velocity")
    out["mpv_mape"] = float(np.mean(np.abs(a - b) / np.abs(b))) * 100 if a.size else np.nan
    a, b = col("pronation_excursion")
    out["exc_mae_deg"] = float(np.mean(np.abs(a - b))) if a.size else np.nan
    a, b = col("stride_length")
    out["sl_mape"] = float(np.mean(np.abs(a - b) / b)) * 100 if a.size else np.nan
    out["sl_n"] = int(a.size)
    a, b = col("contact_time")
    out["ct_mae_ms"] = float(np.mean(np.abs(a - b))) * 1000 if a.size else np.nan
    return out


def evaluate_run(rows: list[ContactRow], truth: dict) -> list[dict]:
    return [evaluate(rows, truth, sid) for sid in truth["sensors"] if sid in FOOT]


def block_of(run, sid: str) -> SampleBlock:
    return run.blocks[sid]


def rows_given_alignment(run) -> list[ContactRow]:
    """Rows of every foot sensor of a simulated run analysed with its true sensor-to-foot
    rotation (isolates the events from the alignment)."""
    rows: list[ContactRow] = []
    for info in run.sensors:
        r_bs = np.asarray(run.truth["sensors"][info.sensor_id]["R_body_from_sensor"])
        fa = FootAnalyzer(info, R_bs=tuple(map(tuple, r_bs)))
        rows += fa.feed(run.blocks[info.sensor_id]).rows + fa.finish().rows
    return rows
