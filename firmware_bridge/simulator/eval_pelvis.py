"""Scoring pelvis rows against the simulator's truth (shared by tests and the accuracy script)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsp.contact import ContactRow

#: A row and a truth step are the same contact when their ICs are closer than this, s.
MATCH_S = 0.06


@dataclass
class PelvisScore:
    n_truth: int
    n_rows: int
    found: float  # share of truth steps with a row
    false: int  # rows without a truth step
    side: float  # share of matched rows with the right side
    drop_mae: float  # deg, matched rows with a drop
    vo_mae: float  # cm
    ic_mae_ms: float
    ct_mae_ms: float
    n_drop: int

    def as_dict(self) -> dict[str, float]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def score_pelvis(rows: list[ContactRow], truth: dict, *, t_end: float) -> PelvisScore:
    """Match rows to ``truth["steps"]`` by IC time and score them.

    Truth steps within 0.5 s of the data's end are ignored (their contact is cut), and so are
    rows after the last truth step.
    """
    steps = [s for s in truth["steps"] if s["t_ic"] < t_end - 0.5]
    tic = np.array([s["t_ic"] for s in steps])
    rows = [r for r in rows if r.t_ic < tic[-1] + 0.2]
    ri = np.array([r.t_ic for r in rows])
    j = np.argmin(np.abs(tic[None, :] - ri[:, None]), axis=1)
    m = np.abs(tic[j] - ri) < MATCH_S
    found = len(set(j[m].tolist())) / len(steps)

    def col(name: str, src) -> np.ndarray:
        return np.array([np.nan if getattr(r, name) is None else getattr(r, name) for r in src])

    def tcol(name: str) -> np.ndarray:
        return np.array([np.nan if s[name] is None else s[name] for s in steps], dtype=float)

    side_ok = np.array([r.side for r in rows]) == np.array([s["side"] for s in steps])[j]
    d_err = np.abs(col("pelvic_drop", rows) - tcol("pelvic_drop")[j])[m]
    v_err = np.abs(col("vertical_oscillation", rows) - tcol("vertical_oscillation")[j])[m]
    ic_err = np.abs(ri - tic[j])[m]
    ct_err = np.abs(col("contact_time", rows) - tcol("contact_time")[j])[m]
    return PelvisScore(
        n_truth=len(steps),
        n_rows=len(rows),
        found=float(found),
        false=int((~m).sum()),
        side=float(side_ok[m].mean()) if m.any() else 0.0,
        drop_mae=float(np.nanmean(d_err)) if np.isfinite(d_err).any() else float("nan"),
        vo_mae=float(np.nanmean(v_err)) if np.isfinite(v_err).any() else float("nan"),
        ic_mae_ms=float(np.mean(ic_err) * 1e3) if ic_err.size else float("nan"),
        ct_mae_ms=float(np.nanmean(ct_err) * 1e3) if np.isfinite(ct_err).any() else float("nan"),
        n_drop=int(np.isfinite(d_err).sum()),
    )


def run_pelvis_only(sim, *, chunk_s: float | None = None) -> tuple[object, list[ContactRow]]:
    """Analyse the pelvis sensor of a simulated session alone (whole block, or in chunks)."""
    from dsp.pelvis_analyzer import PelvisAnalyzer

    info = next(s for s in sim.sensors if s.placement == "pelvis")
    pa = PelvisAnalyzer(info)
    rows: list[ContactRow] = []
    if chunk_s is None:
        rows += pa.feed(sim.blocks[info.sensor_id]).rows
    else:
        for b in sim.iter_blocks(chunk_s):
            if b.sensor_id == info.sensor_id:
                rows += pa.feed(b).rows
    rows += pa.finish().rows
    return pa, rows
