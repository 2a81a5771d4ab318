"""A season of sessions: trends per session and per week (``runform history``).

Each session's running contacts (the ``activity`` column when the analysis sets it) give one
median per key metric with its interquartile range; sessions are dated by the recording's
``created_utc`` (the file's modification time when it has none) and grouped into ISO weeks
(Monday first). Batch output folders (``strides.parquet`` + ``recordings.parquet`` of
``runform batch``) are read as they are, so a season already analysed takes seconds.

Noise and change
----------------
* **Session to session**: a metric *changed beyond noise* at a session when its median differs
  from the previous session's by more than both the metric's smallest worthwhile change
  (:mod:`dsp.metrics`) and 1.96 standard errors of the difference of the two medians.
  The standard error of a median is ``1.2533 sd / sqrt(n_eff)``, ``sd = IQR / 1.349`` and
  ``n_eff`` the effective number of strides (:func:`runform.stats.effective_sample_size`: the
  autocorrelation of strides counted).
* **When it changed** (:func:`change_point`): the split of the session medians into an earlier
  and a later part with the largest difference of means relative to the spread inside the
  parts (a single change point, least squares); reported when the difference exceeds the
  smallest worthwhile change and the parts differ by more than three of their standard errors.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dsp.metrics import METRICS, SHARE_SMALLEST_CHANGE
from runform.errors import UsageError

__all__ = [
    "HISTORY_METRICS",
    "Session",
    "change_point",
    "csv_table",
    "history_report",
    "load_sessions",
    "session_table",
]

log = logging.getLogger(__name__)

#: (key, label, unit, profile metric) of the trends, in the order drawn.
HISTORY_METRICS: tuple[tuple[str, str, str, str | None], ...] = (
    ("pace", "pace", "s/km", None),
    ("cadence", "cadence", "steps/min", "cadence"),
    ("rearfoot_share", "heel strikes (rearfoot share)", "%", "rearfoot_share"),
    ("foot_strike_angle", "foot strike angle", "deg", "foot_strike_angle"),
    ("contact_time", "ground contact time", "s", "contact_time"),
    ("pelvic_drop/left", "left-stance pelvic drop", "deg", "pelvic_drop"),
    ("pelvic_drop/right", "right-stance pelvic drop", "deg", "pelvic_drop"),
    ("vertical_ratio", "vertical ratio", "%", "vertical_ratio"),
    ("stride_length", "stride length", "m", None),
)


@dataclass
class Session:
    """One recording of the season: its date and running contacts (with ``placement``)."""

    recording: str
    date: datetime
    strides: pd.DataFrame
    duration_s: float = math.nan
    source: str = "analysed"
    #: walking contacts of the session (not in ``strides``): a walk, or the walking bouts of
    #: a run with walking breaks
    walk_contacts: int = 0


# ----------------------------------------------------------------------------- loading
def _parse_utc(text: Any) -> datetime | None:
    """An ISO 8601 time (as :func:`runform.fit.activity.parse_utc` reads it; fractions and
    offsets allowed), ``None`` when there is none or it is not one."""
    from runform.fit.activity import parse_utc

    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromtimestamp(parse_utc(text), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _session_date(created: Any, path: str, start: Any = None) -> datetime:
    """The session's date: its ``start_utc`` (the wall clock of ``t = 0``, set e.g. on a run
    downloaded from the sensors' flash, whose ``created_utc`` is the download), else its
    ``created_utc``, else the file's modification time (said)."""
    date = _parse_utc(start) or _parse_utc(created)
    if date is not None:
        return date
    why = f"created_utc {created!r} is not an ISO 8601 time" if created else "no created_utc"
    if not os.path.exists(path):
        log.warning("%s: %s, and the file is gone: dated 1970-01-01", path, why)
        return datetime.fromtimestamp(0, UTC)
    log.warning("%s: %s: dated by the file's modification time", path, why)
    return datetime.fromtimestamp(os.path.getmtime(path), UTC)


def _running(df: pd.DataFrame) -> pd.DataFrame:
    if "activity" not in df.columns:
        return df
    act = df["activity"].fillna("").astype(str)
    return df[(act == "run") | (act == "")]


def _walk_contacts(df: pd.DataFrame) -> int:
    if "activity" not in df.columns:
        return 0
    return int((df["activity"].fillna("").astype(str) == "walk").sum())


def _count(n: int, noun: str) -> str:
    """``"1 week"``, ``"3 weeks"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _batch_sessions(folder: Path) -> list[Session]:
    strides = pd.read_parquet(folder / "strides.parquet")
    recs = pd.read_parquet(folder / "recordings.parquet")
    out = []
    for _, r in recs.iterrows():
        place = dict(item.split(":", 1) for item in str(r.get("sensors", "")).split(";") if item)
        df = strides[strides["recording_id"] == r["recording_id"]].copy()
        df["placement"] = df["sensor_id"].map(place).fillna("")
        date = _session_date(
            r.get("attr_created_utc"), str(r["recording"]), r.get("attr_start_utc")
        )
        out.append(
            Session(
                str(r["recording"]),
                date,
                _running(df),
                float(r.get("duration_s", math.nan)),
                f"batch table {folder}",
                _walk_contacts(df),
            )
        )
    return out


def _is_batch_folder(p: Path) -> bool:
    try:
        return (
            p.is_dir() and (p / "strides.parquet").exists() and (p / "recordings.parquet").exists()
        )
    except OSError:  # a folder that cannot be read: runform.batch.expand_inputs says so
        return False


def input_files(inputs: Iterable[str]) -> list[str]:
    """Every file :func:`load_sessions` reads from ``inputs``: the tables of batch output
    folders and the recordings of files, folders and globs (an output must be none of them:
    ``--csv`` naming a recording inside an input folder would replace it)."""
    from runform.batch import expand_inputs

    tables: list[str] = []
    files: list[str] = []
    for item in inputs:
        p = Path(item)
        if _is_batch_folder(p):
            tables += [str(p / "strides.parquet"), str(p / "recordings.parquet")]
        else:
            files.append(item)
    return tables + (expand_inputs(files) if files else [])


def load_sessions(
    inputs: Iterable[str],
    *,
    profile: str | None = None,
    on_file: Callable[[int, int, str], None] | None = None,
) -> list[Session]:
    """Sessions from recordings, folders, globs and batch output folders, in date order.

    A batch output folder (with ``strides.parquet`` and ``recordings.parquet``) is read as it
    is; recordings the batch tables already hold (same path) are not analysed again; any other
    recording is analysed (:func:`runform.analysis_run.analyse_recording`); one that cannot be
    (empty, cut short, not a recording) is left out with a warning naming it.
    """
    from dsp.errors import AnalysisError
    from recordings.errors import RecordingError
    from runform.analysis_run import analyse_recording
    from runform.batch import expand_inputs
    from runform.compare import _with_placement

    sessions: list[Session] = []
    files: list[str] = []
    for item in inputs:
        p = Path(item)
        if _is_batch_folder(p):
            sessions += _batch_sessions(p)
        else:
            files.append(item)
    known = {os.path.abspath(s.recording) for s in sessions}
    paths = [f for f in expand_inputs(files) if os.path.abspath(f) not in known] if files else []
    left_out = 0
    for i, path in enumerate(paths):
        if on_file is not None:
            on_file(i, len(paths), path)
        try:
            res = analyse_recording(path, profile=profile, workers=1)
        except (RecordingError, AnalysisError) as exc:
            # not a session (a recording stopped at once, a file cut short, not a recording):
            # the others are still a history, as in batch; the message names the file
            log.warning("%s: left out", exc)
            left_out += 1
            continue
        date = _session_date(res.attrs.get("created_utc"), path, res.attrs.get("start_utc"))
        strides = _with_placement(res)
        sessions.append(
            Session(
                path, date, _running(strides), res.duration_s, walk_contacts=_walk_contacts(strides)
            )
        )
    if not sessions:
        why = f" ({left_out} left out, see above)" if left_out else ""
        raise UsageError(
            f"no sessions{why}: give recordings, folders of them or batch output folders"
        )
    sessions.sort(key=lambda s: (s.date, s.recording))
    return _without_copies(sessions)


def _without_copies(sessions: list[Session]) -> list[Session]:
    """The sessions without a second copy of one run (the same date and the same running
    contacts: a recording copied to another folder), each left out with a warning naming the
    one kept. batch analyses a copy once and compare names copies; history counted it twice."""
    kept: list[Session] = []
    for s in sessions:
        same = next(
            (
                k
                for k in kept
                if len(s.strides) and k.date == s.date and k.strides.equals(s.strides)
            ),
            None,
        )
        if same is not None:
            log.warning(
                "%s: the same run as %s (a copy?): counted once", s.recording, same.recording
            )
            continue
        kept.append(s)
    return kept


# ----------------------------------------------------------------------------- table
def _stats(x: np.ndarray) -> tuple[float, float, float, float, int]:
    """median, q25, q75, standard error of the median, n."""
    from runform.stats import effective_sample_size

    x = x[np.isfinite(x)]
    if x.size < 5:
        return math.nan, math.nan, math.nan, math.nan, int(x.size)
    q1, med, q3 = (float(v) for v in np.percentile(x, [25, 50, 75]))
    sd = (q3 - q1) / 1.349
    n_eff = max(1.0, float(effective_sample_size(x)))
    return med, q1, q3, 1.2533 * sd / math.sqrt(n_eff), int(x.size)


def _arrays(df: pd.DataFrame) -> dict[str, Any]:
    """The columns a session's metrics need, as arrays, computed once per session."""
    pl = df["placement"].to_numpy()
    ok = ~df["flags"].fillna("").astype(str).str.contains("rejected").to_numpy()
    t = pd.to_numeric(df["t_ic"], errors="coerce").to_numpy(dtype=float)
    order = np.argsort(t, kind="stable")
    feet = np.isin(pl, ["left_foot", "right_foot"]) & ok
    pelvis = pl == "pelvis"
    feet, pelvis = feet[order], pelvis[order]
    out: dict[str, Any] = {"feet": feet, "pelvis": pelvis}
    for c in ("t_ic", "speed", "cadence", "contact_time", "foot_strike_angle", "stride_length",
              "pelvic_drop", "vertical_oscillation"):  # fmt: skip
        col = df[c] if c in df.columns else pd.Series(np.nan, index=df.index)
        out[c] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)[order]
    out["side"] = df["side"].fillna("").astype(str).to_numpy()[order]
    out["strike_type"] = df["strike_type"].fillna("").astype(str).to_numpy()[order]
    return out


def _metric_values(a: dict[str, Any], key: str) -> np.ndarray:
    feet, pelvis = a["feet"], a["pelvis"]
    if key == "pace":
        sp = a["speed"][feet]
        with np.errstate(divide="ignore"):
            return np.where(sp > 0, 1000.0 / sp, np.nan)
    if key == "rearfoot_share":
        st = a["strike_type"][feet]
        st = st[st != ""]
        return 100.0 * (st == "rearfoot").astype(float)
    if key.startswith("pelvic_drop/"):
        side = key.split("/")[1]
        return a["pelvic_drop"][pelvis & (a["side"] == side)]
    if key == "vertical_ratio":
        from dsp.runner_metrics import vertical_ratio

        return vertical_ratio(
            a["t_ic"][pelvis],
            a["vertical_oscillation"][pelvis],
            a["t_ic"][feet],
            a["stride_length"][feet],
        )
    if key == "cadence" and not feet.any():
        return a["cadence"][pelvis]
    return a[key][feet] if key in a else np.empty(0)


def session_table(sessions: list[Session]) -> pd.DataFrame:
    """One row per session and metric: date, week, median, q25, q75, se, n.

    A session whose running contacts are too few for ``runform report`` to judge
    (:data:`runform.findings.MIN_CONTACTS` of one sensor) has no row: the trends follow the
    sessions a report judges."""
    from runform.findings import MIN_CONTACTS, contacts_per_sensor

    rows = []
    for s in sessions:
        week = (s.date - timedelta(days=s.date.weekday())).date()
        if contacts_per_sensor(s.strides) < MIN_CONTACTS:
            continue
        arrays = _arrays(s.strides)
        for key, _label, _unit, _pm in HISTORY_METRICS:
            v = _metric_values(arrays, key)
            if key == "rearfoot_share":
                # a share: median of 0/100 indicators is meaningless; use the mean and its SE
                x = v[np.isfinite(v)]
                if x.size < 5:
                    continue
                p = float(x.mean()) / 100.0
                from runform.stats import effective_sample_size

                n_eff = max(1.0, float(effective_sample_size(x)))
                se = 100.0 * math.sqrt(max(p * (1 - p), 1e-4) / n_eff)
                med, q1, q3, n = 100.0 * p, 100.0 * p, 100.0 * p, int(x.size)
            else:
                med, q1, q3, se, n = _stats(v)
                if not math.isfinite(med):
                    continue
            rows.append(
                {
                    "recording": s.recording,
                    "date": s.date,
                    "week": week,
                    "metric": key,
                    "median": med,
                    "q25": q1,
                    "q75": q3,
                    "se": se,
                    "n": n,
                }
            )
    return pd.DataFrame(rows)


def smallest_change(key: str) -> float:
    """Smallest worthwhile change of a history metric (registry; shares: 10 points)."""
    if key == "rearfoot_share":
        return 100.0 * SHARE_SMALLEST_CHANGE
    m = METRICS.get(key.split("/")[0])
    return float(m.smallest_change) if m is not None and m.smallest_change else 0.0


def mark_changes(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``changed`` (bool): the session's median differs from the previous session's beyond
    noise (see the module docstring), and ``delta``."""
    table = table.sort_values(["metric", "date"]).copy()
    table["delta"] = np.nan
    table["changed"] = False
    for key, g in table.groupby("metric"):
        swc = smallest_change(str(key))
        idx = g.index.to_list()
        for prev, cur in itertools.pairwise(idx):
            d = table.at[cur, "median"] - table.at[prev, "median"]
            se = math.hypot(table.at[cur, "se"], table.at[prev, "se"])
            table.at[cur, "delta"] = d
            table.at[cur, "changed"] = bool(abs(d) > swc and abs(d) > 1.96 * se)
    return table.sort_values(["date", "metric"])


@dataclass
class ChangePoint:
    """A lasting change of a metric: from ``before`` to ``after`` starting at ``date``."""

    metric: str
    index: int
    date: datetime
    before: float
    after: float
    score: float


#: Running sessions a lasting change needs: at least two before it and two after.
MIN_SESSIONS_FOR_CHANGE = 4


def change_point(dates: list[datetime], medians: np.ndarray, swc: float) -> ChangePoint | None:
    """The one split of a series of session medians into an earlier and a later level that
    fits best (least squares); ``None`` unless the levels differ by more than ``swc`` and by
    more than three standard errors of the difference (pooled spread inside the parts)."""
    y = np.asarray(medians, dtype=float)
    n = y.size
    if n < MIN_SESSIONS_FOR_CHANGE:
        return None
    best = None
    for k in range(2, n - 1):  # at least two sessions on each side
        a, b = y[:k], y[k:]
        resid = np.concatenate([a - a.mean(), b - b.mean()])
        s2 = float(resid @ resid) / max(1, n - 2)
        se = math.sqrt(max(s2, 1e-12) * (1 / k + 1 / (n - k)))
        score = abs(b.mean() - a.mean()) / se
        if best is None or score > best[0]:
            best = (score, k, float(a.mean()), float(b.mean()))
    if best is None:
        return None
    score, k, before, after = best
    if abs(after - before) <= swc or score < 3.0:
        return None
    return ChangePoint("", k, dates[k], before, after, score)


# ----------------------------------------------------------------------------- report
@dataclass
class History:
    sessions: list[Session]
    table: pd.DataFrame
    changes: dict[str, ChangePoint] = field(default_factory=dict)

    @property
    def running(self) -> list[Session]:
        """The sessions with running data (a row in the table): the ones the trends, weeks
        and counts are of. A walk (or a session of a few running contacts) is not one."""
        recs = set(self.table["recording"]) if len(self.table) else set()
        return [s for s in self.sessions if s.recording in recs]

    @property
    def not_running(self) -> list[Session]:
        """Sessions without running data: listed, not in the trends nor the counts."""
        running = {id(s) for s in self.running}
        return [s for s in self.sessions if id(s) not in running]

    def counts(self) -> str:
        """``"2 running sessions (1 walking session not in the trends)"``."""
        out = _count(len(self.running), "running session")
        why = [_not_running_why(s) for s in self.not_running]
        parts = [
            f"{_count(n, 'walking session')}"
            if w == "walking only"
            else f"{_count(n, 'session')} {'with' if w.startswith('too') else 'without'} "
            f"{w.removeprefix('no ')}"
            for w in ("walking only", "too few running contacts", "no running contacts")
            if (n := why.count(w))
        ]
        return out + (f" ({', '.join(parts)} not in the trends)" if parts else "")


def _not_running_why(s: Session) -> str:
    """Why a session adds nothing to the trends: ``"walking only"`` (mostly walking
    contacts), ``"too few running contacts"`` or ``"no running contacts"``."""
    if s.walk_contacts > len(s.strides):
        return "walking only"
    return "too few running contacts" if len(s.strides) else "no running contacts"


def build_history(sessions: list[Session]) -> History:
    """The trends of the sessions' running contacts (a UsageError when none has any)."""
    table = session_table(sessions)
    if not len(table):
        why = {_not_running_why(s) for s in sessions}
        names = ", ".join(Path(s.recording).name for s in sessions[:3])
        names += ", ..." if len(sessions) > 3 else ""
        what = why.pop() if len(why) == 1 else "without enough running contacts"
        what = what.replace("too few", "with too few").replace("no running", "without running")
        raise UsageError(
            f"no running session: {_count(len(sessions), 'session')} {what} ({names}); "
            "history follows running contacts (see `runform report` for a walk)"
        )
    table = mark_changes(table)
    changes = {}
    for key, _label, _unit, _pm in HISTORY_METRICS:
        g = table[table["metric"] == key].sort_values("date")
        if len(g) < 4:
            continue
        cp = change_point(list(g["date"]), g["median"].to_numpy(), smallest_change(key))
        if cp is not None:
            cp.metric = key
            changes[key] = cp
    return History(sessions, table, changes)


def _week_no(h: History, date: datetime) -> int:
    first = min(s.date for s in h.running)
    w0 = (first - timedelta(days=first.weekday())).date()
    w = (date - timedelta(days=date.weekday())).date()
    return (w - w0).days // 7 + 1


def change_sentences(h: History, units: str = "metric") -> list[str]:
    """``"foot strike angle fell from 17.1° to 4.0° from week 5 (2026-10-05)"`` per change."""
    from runform.findings import fmt

    labels = {k: lab for k, lab, _u, _p in HISTORY_METRICS}
    out = []
    for key, cp in h.changes.items():
        verb = "rose" if cp.after > cp.before else "fell"
        metric = key.split("/")[0]
        out.append(
            f"{labels[key]} {verb} from {fmt(metric, cp.before, units)} to "
            f"{fmt(metric, cp.after, units)} from week {_week_no(h, cp.date)} "
            f"({cp.date:%Y-%m-%d}) on"
        )
    return out


def csv_table(h: History) -> pd.DataFrame:
    """The per-session table for ``--csv``: :attr:`History.table` with each metric's unit
    (from :data:`HISTORY_METRICS`) beside its key."""
    units = {k: u for k, _lab, u, _p in HISTORY_METRICS}
    t = h.table.copy()
    if "metric" in t:
        t.insert(t.columns.get_loc("metric") + 1, "unit", t["metric"].map(units))
    return t


def no_change_sentence(h: History) -> str:
    """What to say when :func:`change_sentences` finds nothing: no lasting change, or too few
    running sessions to find one (it was 'no lasting change' with three sessions whose
    session-to-session steps were marked as changes)."""
    n = len(h.running)
    if n < MIN_SESSIONS_FOR_CHANGE:
        return (
            f"{_count(n, 'running session')}, a lasting change needs at least "
            f"{MIN_SESSIONS_FOR_CHANGE} (two before it, two after); changes from one session "
            "to the next are marked in the sessions table"
        )
    return "no lasting change beyond noise in any key metric"


def history_report(h: History, *, profile: Any = None, units: str = "metric") -> Any:
    """The history as a self-contained HTML :class:`runform.report.Report`."""
    import matplotlib.pyplot as plt

    from dsp.form_ranges import REFERENCES, rule_for
    from runform.findings import fmt, in_units
    from runform.report import Report, _e, _table
    from runform.terminal_text import distinct_names

    rep = Report(title="runform history")
    first, last = h.running[0].date, h.running[-1].date
    weeks = _week_no(h, last)
    rep.add("<h1>Running history</h1>")
    rep.add(
        f'<p class="meta">{_e(h.counts())} over {_count(weeks, "week")} '
        f"({first:%Y-%m-%d} to {last:%Y-%m-%d}); running contacts only.</p>"
    )
    sentences = change_sentences(h, units)
    items = "".join(
        f"<li>{_e(s[0].upper() + s[1:])}.</li>" for s in sentences or [no_change_sentence(h)]
    )
    rep.add(f'<div class="findings"><b>What changed over the season</b><ul>{items}</ul></div>')
    t = h.table
    panels = [m for m in HISTORY_METRICS if (t["metric"] == m[0]).any()] if len(t) else []
    if panels:
        fig, axes = plt.subplots(len(panels), 1, figsize=(11.5, 2.0 * len(panels)), sharex=True)
        axes = np.atleast_1d(axes)
        for ax, (key, label, _unit, pm) in zip(axes, panels, strict=True):
            g = t[t["metric"] == key].sort_values("date")
            metric = key.split("/")[0]
            m = METRICS.get(metric)
            scale = m.scale if m is not None and metric != "pace" else 1.0
            if metric == "pace":
                scale = 1.0 / 60.0  # min/km
            x = [d.replace(tzinfo=None) for d in g["date"]]
            ax.fill_between(
                x, g["q25"] * scale, g["q75"] * scale, color="#1f77b4", alpha=0.15, lw=0
            )
            ax.plot(x, g["median"] * scale, "o", ms=4, color="#1f77b4", label="session median")
            wk = g.groupby("week")["median"].median()
            wx = [datetime.combine(w, datetime.min.time()) + timedelta(days=3) for w in wk.index]
            ax.plot(wx, wk.to_numpy() * scale, "-", lw=2, color="#08306b", label="weekly median")
            ch = g[g["changed"]]
            ax.plot(
                [d.replace(tzinfo=None) for d in ch["date"]],
                ch["median"] * scale,
                "o",
                ms=11,
                mfc="none",
                mec="#e66101",
                mew=2,
                label="changed beyond noise",
            )
            side = key.split("/")[1] if "/" in key else None
            rule = rule_for(profile, pm, side) if pm else None
            if rule is not None:
                ax.axhline(rule.on * scale, color="#d73027", ls="--", lw=1.2, label="alert limit")
            elif pm in REFERENCES and REFERENCES[pm].amber is not None:
                ref = REFERENCES[pm]
                ax.axhline(
                    (ref.amber or 0.0) * scale, color="#f1a340", ls="--", lw=1.2,
                    label="published limit",
                )  # fmt: skip
            cp = h.changes.get(key)
            if cp is not None:
                ax.axvline(cp.date.replace(tzinfo=None), color="#e66101", lw=1.2, ls=":")
            unit = {"pace": "min/km"}.get(metric) or (m.shown_unit if m else _unit)
            base = "s/km" if metric == "pace" else (m.unit if m is not None else _unit)
            factor, shown = in_units(1.0, base, units)
            if shown != base:  # --units imperial: the figure as the tables (min/mi, ft)
                scale *= factor or 1.0
                unit = "min/mi" if metric == "pace" else shown
            ax.set_title(f"{label} ({unit})", fontsize=9, loc="left", pad=3)
            ax.grid(alpha=0.3)
        axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        fig.autofmt_xdate()
        fig.tight_layout()
        rep.add("<h2>Trends</h2>")
        rep.figure(
            "history",
            fig,
            "key metrics per session and week",
            "Dots: session medians; band: interquartile range of the session's strides; line: "
            "weekly median; rings: the median changed beyond noise since the previous session "
            "(more than the smallest worthwhile change and 1.96 standard errors); dotted "
            "line: where a lasting change starts; dashed: the alert profile's limit (red) or a "
            "published limit (amber).",
        )
    rep.add("<h2>Per week</h2>")
    if len(t):
        wk = t.groupby(["week", "metric"])["median"].median().unstack()
        cols = [k for k, *_ in HISTORY_METRICS if k in wk.columns]
        labels = {k: lab for k, lab, _u, _p in HISTORY_METRICS}
        rows = []
        for w, r in wk.iterrows():
            n = sum(1 for s in h.running if (s.date - timedelta(days=s.date.weekday())).date() == w)
            rows.append(
                [f"{w} (week {_week_no(h, datetime.combine(w, datetime.min.time()))})", str(n)]
                + [fmt(k.split("/")[0], r[k], units) for k in cols]
            )
        rep.add(_table(["week", "running sessions", *[labels[k] for k in cols]], rows))
    rep.add("<h2>Sessions</h2>")
    srows = []
    running = {id(s) for s in h.running}
    names = distinct_names(s.recording for s in h.sessions)
    for s in h.sessions:
        g = t[t["recording"] == s.recording]
        ch = ", ".join(
            dict((k, lab) for k, lab, _u, _p in HISTORY_METRICS)[k]
            for k in g[g["changed"]]["metric"]
        )
        if id(s) not in running:
            ch = f"{_not_running_why(s)}: not in the trends"
        srows.append([f"{s.date:%Y-%m-%d %H:%M}", _e(names[s.recording]), _e(ch or "–")])
    rep.add(_table(["date", "recording", "changed beyond noise"], srows, left=3))
    return rep
