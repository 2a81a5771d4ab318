"""Foot ICs more than 60 ms off on real walks: one line each, and a table by class (issue 16).

Analyses every foot sensor of the recordings of FOLDER that have a reference (``S.json`` with
``contacts``; default: the Voisard et al. walks, ``/work/extra_realdata/voisard``) with a
:class:`dsp.foot_analyzer.FootAnalyzer` of its own (the rows are those of
``scripts/real_data_check.py``: the analysis does not depend on the chunking), matches its ICs
to the reference as :func:`runform.evaluation.score_foot` does (one to one within 0.1 s, the
reference's ``cover``) and lists every matched IC more than ``--limit`` ms (60) off:

* trial, side, reference IC, ours, the error (ours minus reference, ms), the reference stride
  time;
* ``where``: the contact's place in its walk: ``first`` / ``last`` contact of that foot in the
  reference, ``turn`` (inside the reference's ``u_turn`` span), ``near-turn`` (within
  ``--turn-window`` s, 1.5, of that span), else ``straight``;
* ``key``: what the detector keyed the IC on, found by recording the candidates the event
  functions return during the analysis (``impact``: the first ringing change of the specific
  force, :func:`dsp.foot_events._impact_onset`; ``heel-drop``: the rising zero crossing of
  the pitch rate before a heel drop; ``pronation``: the eversion onset inside the force jump's
  interval; ``jump``: the force jump alone; ``other``);
* the signals: pitch rate ``omega = -gyr_ml`` (deg/s, foot frame of the analyzer's mounting)
  at the reference IC and at ours, and the largest 10-ms change of the specific-force vector
  (g) within 20 ms of each (``dA_ref``, ``dA_ours``): an impact is ~1-4 g;
* the row's flags (``gap`` etc.);
* ``evidence``, what the signals say of the two (not a verdict; every IC is scored):
  ``ours-on-impact`` (ours early, on a change of ``--impact-g`` (2 g) or more: a touch-down's
  size, the late-swing jolts of these walkers are 1-1.6 g; the reference is on a later event:
  a second impact, the slap's end), ``ref-no-impact`` (ours late, on such an impact, and no
  change of 1 g within 20 ms of the reference), ``ours-in-swing`` (ours on a smaller change
  where the toes still rise at ``ic_swing_max_dps`` or more), else ``unclear``.

Then a table per group (Voisard subjects 1-10 = dev, 11-19 = held out, other recordings
each on their own): counts by ``where`` and ``key``, early and late. ``--plot DIR`` writes one
PNG per outlier (omega, the force-change norm, the reference and our IC).

    .venv/bin/python scripts/walk_ic_outliers.py [FOLDER] [--limit 60] [--plot /tmp/ic_png]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dsp.foot_events as fe  # noqa: E402
from dsp.block import STANDARD_GRAVITY  # noqa: E402
from dsp.foot_analyzer import FootAnalyzer  # noqa: E402
from dsp.foot_events import EventSettings  # noqa: E402
from dsp.orientation import rotate_rows  # noqa: E402
from recordings import open_recording  # noqa: E402
from runform.evaluation import match_events  # noqa: E402

TOL_S = 0.1

#: candidate IC times returned by the event functions during one sensor's analysis
_CANDIDATES: dict[str, list[float]] = {}


def _recorder(name: str, label: str) -> None:
    """Wrap ``dsp.foot_events.<name>`` so that each IC time it returns is kept under ``label``
    (module-global lookup: the callers inside the module see the wrapper)."""
    fn: Callable[..., Any] = getattr(fe, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        if isinstance(out, tuple) and len(out) == 2:
            _CANDIDATES.setdefault(label, []).append(float(out[1]))
        elif isinstance(out, float):
            _CANDIDATES.setdefault(label, []).append(out)
        return out

    setattr(fe, name, wrapped)


_recorder("_impact_onset", "impact")
_recorder("_rising_zero", "heel-drop")
_recorder("_robust_pronation_onset", "pronation")
_recorder("_jump", "jump")


def _key(t_ic: float) -> str:
    for label in ("impact", "heel-drop", "pronation", "jump"):
        if any(abs(c - t_ic) < 1e-9 for c in _CANDIDATES.get(label, [])):
            return label
    return "other"


def _where(t_ref: float, first: float, last: float, u_turn: list[float] | None, w: float) -> str:
    if t_ref == first:
        return "first"
    if t_ref == last:
        return "last"
    if u_turn:
        u0, u1 = u_turn
        if u0 <= t_ref <= u1:
            return "turn"
        if u0 - w <= t_ref <= u1 + w:
            return "near-turn"
    return "straight"


def _at(t: np.ndarray, x: np.ndarray, tq: float) -> float:
    k = int(np.clip(np.searchsorted(t, tq), 0, t.size - 1))
    return float(x[k])


def _max_near(t: np.ndarray, x: np.ndarray, tq: float, half_s: float = 0.02) -> float:
    m = (t >= tq - half_s) & (t <= tq + half_s)
    return float(x[m].max()) if m.any() else float("nan")


def analyse_sensor(path: Path, sid: str) -> tuple[list[Any], dict[str, Any]]:
    """The rows of one foot sensor and the signals in the analyzer's foot frame (``t``,
    ``omega``, ``dA``: 10-ms specific-force change, g; ``keys``: row id to its IC's key)."""
    with open_recording(path) as rec:
        info = next(i for i in rec.sensors if i.sensor_id == sid)
        blk = rec.read(sid)
    _CANDIDATES.clear()
    fa = FootAnalyzer(info)
    rows = [*fa.feed(blk).rows, *fa.finish().rows]
    keys = {id(r): _key(float(r.t_ic)) for r in rows}
    t = np.asarray(blk.t, dtype=np.float64)
    ok = np.isfinite(blk.acc).all(axis=1) & np.isfinite(blk.gyr).all(axis=1)
    t, acc, gyr = t[ok], blk.acc[ok], blk.gyr[ok]
    al = fa.alignment_
    R = al.R_bs if al is not None and al.ok else np.eye(3)
    g_f = rotate_rows(np.asarray(gyr, dtype=np.float64), R)
    fs = float(info.sample_rate_hz)
    m = max(1, round(0.01 * fs))
    d = np.full(t.size, np.nan)
    d[m:] = np.linalg.norm(acc[m:] - acc[:-m], axis=1) / STANDARD_GRAVITY
    # (placed midway, as the impact rule does)
    tm = t.copy()
    tm[m:] = 0.5 * (t[m:] + t[:-m])
    return rows, {"t": t, "omega": -g_f[:, 1], "tm": tm, "dA": d, "keys": keys}


def _evidence(o: dict[str, Any], impact_g: float, swing_dps: float) -> str:
    if o["err_ms"] < 0 and o["dA_ours"] >= impact_g:
        return "ours-on-impact"
    if o["err_ms"] > 0 and o["dA_ours"] >= impact_g and o["dA_ref"] < 1.0:
        return "ref-no-impact"
    if o["om_ours"] >= swing_dps and o["dA_ours"] < impact_g:
        return "ours-in-swing"
    return "unclear"


def outliers(path: Path, limit_ms: float, turn_window_s: float) -> list[dict[str, Any]]:
    ref = json.loads(path.with_suffix(".json").read_text())
    contacts = ref.get("contacts") or []
    cover = ref.get("cover") or {}
    out: list[dict[str, Any]] = []
    for sid in sorted({c["sensor_id"] for c in contacts}):
        refs = sorted((c for c in contacts if c["sensor_id"] == sid), key=lambda c: c["t_ic"])
        if not refs:
            continue
        first, last = refs[0]["t_ic"], refs[-1]["t_ic"]
        rows, sig = analyse_sensor(path, sid)
        rows = sorted(rows, key=lambda r: r.t_ic)
        cv = cover.get(sid)
        if cv is not None:
            refs = [c for c in refs if cv[0] <= c["t_ic"] <= cv[1]]
            rows = [r for r in rows if cv[0] - TOL_S <= r.t_ic <= cv[1] + TOL_S]
        t_ref = np.array([c["t_ic"] for c in refs])
        t_det = np.array([r.t_ic for r in rows])
        for i, j in zip(*match_events(t_ref, t_det, tol_s=TOL_S), strict=True):
            err = (t_det[j] - t_ref[i]) * 1e3
            if abs(err) <= limit_ms:
                continue
            c, r = refs[i], rows[j]
            out.append(
                {
                    "trial": path.stem,
                    "subject": ref.get("subject"),
                    "side": sid.split("_")[0],
                    "t_ref": float(t_ref[i]),
                    "t_ours": float(t_det[j]),
                    "err_ms": float(err),
                    "stride_s": c.get("stride_time"),
                    "where": _where(c["t_ic"], first, last, ref.get("u_turn"), turn_window_s),
                    "key": sig["keys"][id(r)],
                    "om_ref": _at(sig["t"], sig["omega"], float(t_ref[i])),
                    "om_ours": _at(sig["t"], sig["omega"], float(t_det[j])),
                    "dA_ref": _max_near(sig["tm"], sig["dA"], float(t_ref[i])),
                    "dA_ours": _max_near(sig["tm"], sig["dA"], float(t_det[j])),
                    "flags": ",".join(r.flags),
                    "_sig": sig,
                }
            )
    return out


def plot(o: dict[str, Any], folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sig = o["_sig"]
    t0 = o["t_ref"]
    m = (sig["t"] >= t0 - 0.5) & (sig["t"] <= t0 + 0.4)
    fig, ax = plt.subplots(2, 1, sharex=True, figsize=(8, 5))
    ax[0].plot(sig["t"][m] - t0, sig["omega"][m], ".-", ms=3)
    ax[0].set_ylabel("omega = -gyr_ml, deg/s")
    ax[0].axhline(0, color="k", lw=0.5)
    ax[1].plot(sig["tm"][m] - t0, sig["dA"][m], ".-", ms=3)
    ax[1].set_ylabel("|a(t) - a(t-10 ms)|, g")
    ax[1].set_xlabel("s from the reference IC")
    for a in ax:
        a.axvline(0, color="g", label="reference IC")
        a.axvline(o["t_ours"] - t0, color="r", label="ours")
    ax[0].legend(loc="upper right")
    fig.suptitle(
        f"{o['trial']} {o['side']} {o['t_ref']:.2f} s: {o['err_ms']:+.0f} ms ({o['where']}, {o['key']})"
    )
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / f"{o['trial']}_{o['side']}_{o['t_ref']:.2f}.png", dpi=80)
    plt.close(fig)


def _group(o: dict[str, Any]) -> str:
    s = o["subject"]
    if o["trial"].startswith("voisard_") and isinstance(s, int):
        return "voisard 1-10 (dev)" if s <= 10 else "voisard 11-19 (held out)"
    return str(o["trial"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", type=Path, default=Path("/work/extra_realdata/voisard"))
    ap.add_argument("--limit", type=float, default=60.0, help="ms")
    ap.add_argument("--turn-window", type=float, default=1.5, help="s")
    ap.add_argument("--plot", type=Path, default=None, help="write one PNG per outlier here")
    ap.add_argument("--only", default="", help="recordings whose name contains this")
    ap.add_argument("--impact-g", type=float, default=2.0, help="see evidence")
    args = ap.parse_args(argv)
    all_o: list[dict[str, Any]] = []
    for h5 in sorted(args.folder.glob("*.h5")):
        if args.only not in h5.stem or not h5.with_suffix(".json").exists():
            continue
        meta = json.loads(h5.with_suffix(".json").read_text())
        if not meta.get("contacts"):
            continue
        all_o += outliers(h5, args.limit, args.turn_window)
    swing_dps = EventSettings().ic_swing_max_dps
    for o in all_o:
        o["evidence"] = _evidence(o, args.impact_g, swing_dps)
    cols = (
        "trial side t_ref t_ours err_ms stride_s where key om_ref om_ours dA_ref dA_ours flags "
        "evidence"
    ).split()
    print("\t".join(cols))
    for o in sorted(all_o, key=lambda o: (_group(o), o["trial"], o["side"], o["t_ref"])):
        print(
            "\t".join(
                f"{o[c]:.3f}"
                if c in ("t_ref", "t_ours")
                else f"{o[c]:+.0f}"
                if c == "err_ms"
                else f"{o[c]:.0f}"
                if c in ("om_ref", "om_ours")
                else f"{o[c]:.2f}"
                if c in ("dA_ref", "dA_ours", "stride_s") and o[c] is not None
                else str(o[c])
                for c in cols
            )
        )
        if args.plot is not None:
            plot(o, args.plot)
    for grp in sorted({_group(o) for o in all_o}):
        sel = [o for o in all_o if _group(o) == grp]
        print(
            f"\n{grp}: {len(sel)} ICs over {args.limit:.0f} ms "
            f"({sum(o['err_ms'] > 0 for o in sel)} late, {sum(o['err_ms'] < 0 for o in sel)} early)"
        )
        for field in ("where", "key", "evidence"):
            cnt = Counter((o[field], "late" if o["err_ms"] > 0 else "early") for o in sel)
            names = sorted({k for k, _ in cnt})
            print(
                f"  by {field}: "
                + ", ".join(f"{n} {cnt[(n, 'late')]}+{cnt[(n, 'early')]}" for n in names)
                + "  (late+early)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
