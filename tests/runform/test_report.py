"""runform report / the HTML reports: self-contained, complete, same numbers as the analysis."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from firmware_bridge.simulator import simulate_session
from runform.analysis_run import analyse_recording
from runform.cli import main
from runform.compare import format_value
from runform.report import left_right_table, session_report, strike_share_over_time

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def chi(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "chi.h5"
    simulate_session("chirunning", duration_s=50.0, seed=5).write(path)
    return path


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_report_cli_writes_self_contained_html_and_pngs(chi, tmp_path):
    out = tmp_path / "report.html"
    png = tmp_path / "png"
    assert (
        main(
            [
                "report",
                str(chi),
                "--out",
                str(out),
                "--png",
                str(png),
                "--json",
                str(tmp_path / "s.json"),
            ]
        )
        == 0
    )
    html = out.read_text(encoding="utf-8")
    imgs = _images(html)
    assert len(imgs) == 4  # over time, strike share, left/right, overlays
    assert all(i.startswith(PNG_MAGIC) for i in imgs)
    # nothing to fetch: no external scripts, styles or images
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html
    for section in (
        "Summary",
        "Per-stride metrics over time",
        "Strike type over time",
        "Left / right",
        "those of the unrounded medians",  # (a difference of rounded values looked wrong)
        "Per-stride overlays",
        "midfoot drill",
    ):
        assert section in html
    files = sorted(p.name for p in png.iterdir())
    assert files == [
        "report_left_right.png",
        "report_metrics_over_time.png",
        "report_overlays.png",
        "report_strike_share.png",
    ]
    assert all((png / f).read_bytes().startswith(PNG_MAGIC) for f in files)


def test_report_numbers_are_the_analysis_numbers(chi):
    res = analyse_recording(chi, collect_traces=True)
    html = session_report(res).html()
    for sid, s in res.summary["sensors"].items():
        assert f">{sid}<" in html or f"{sid} ({s['placement']})" in html
        assert format_value(s["cadence_median"], "steps/min") in html
        assert format_value(s["contact_time_median"], "s") in html
        if s["placement"].endswith("_foot"):
            assert format_value(s["foot_strike_angle_median"], "deg") in html
        else:
            drop = s["pelvic_drop_median"]
            assert (
                f"{format_value(drop['left'], 'deg')} / {format_value(drop['right'], 'deg')}"
                in html
            )
    lr = {
        r["metric"]: r
        for r in left_right_table(res.strides, {x.sensor_id: x.placement for x in res.sensors})
    }
    left = res.strides[res.strides["sensor_id"] == "left_foot"]["foot_strike_angle"].median()
    assert lr["foot_strike_angle"]["left"] == pytest.approx(left)
    # traces were collected for both feet and drawn
    assert set(res.traces) == {"left_foot", "right_foot"}
    n_left = int((res.strides["sensor_id"] == "left_foot").sum())
    assert n_left - 3 <= len(res.traces["left_foot"]) <= n_left


def test_strike_share_over_time_follows_the_drill(chi):
    res = analyse_recording(chi)
    tab = strike_share_over_time(res.strides, {s.sensor_id: s.placement for s in res.sensors}, 10.0)
    t_drill = res.markers[0][0]
    early = tab[tab["t_mid"] < t_drill - 5]
    late = tab[tab["t_mid"] > t_drill + 10]
    assert (early["rearfoot"] > 0.8).all()
    assert (late["midfoot"] > 0.8).all()
    assert tab["n"].sum() == (res.strides["strike_type"] != "").sum()


def test_alerts_and_markers_are_listed(chi):
    res = analyse_recording(chi)
    res.summary["alerts"] = [
        {
            "t": 12.5,
            "rule": "heel_strike",
            "message": "Heel strike on 90% of the last 20 strides",
            "level": "warning",
        }
    ]
    html = session_report(res).html()
    assert "heel_strike: Heel strike on 90% of the last 20 strides" in html
    assert "12.5 s" in html and "midfoot drill" in html


def test_report_of_a_missing_file_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope.h5"), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope.h5" in err and "\n" not in err


def test_help_of_the_new_commands():
    from runform.cli import build_parser

    parser = build_parser()
    assert "compare" in parser.format_help()
    for cmd in ("report", "compare", "batch"):
        with pytest.raises(SystemExit) as e:
            parser.parse_args([cmd, "--help"])
        assert e.value.code == 0


@pytest.mark.parametrize("sensors", [("pelvis",), ("left_foot",)])
def test_reports_with_few_sensors(tmp_path, sensors):
    path = tmp_path / "few.h5"
    simulate_session("easy", duration_s=20.0, seed=2, sensors=sensors).write(path)
    assert main(["report", str(path), "--out", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "Per-stride metrics over time" in html
    out = tmp_path / "c.json"
    assert (
        main(
            [
                "compare",
                str(path),
                "--split-at",
                "12",
                "--json",
                str(out),
                "--out",
                str(tmp_path / "c.html"),
            ]
        )
        == 0
    )


def test_report_puts_findings_first(chi, tmp_path):
    from runform.analysis_run import analyse_recording

    res = analyse_recording(chi, collect_traces=True)
    rep = session_report(res, units="imperial")
    html = rep.html()
    assert html.index("<h2>Findings</h2>") < html.index("<h2>Summary</h2>")
    # the chirunning runner keeps a weak left hip after the drill: that is the next step
    assert rep.next_step.startswith("Work on pelvic drop next")
    assert "after &#x27;midfoot drill&#x27;" in html  # segments split at the marker
    assert "% of the time" in html  # alert shares
    assert "/mi" in html and "Bramah et al. 2018" in html
    assert "foot contacts (" in html and "pelvis steps" in html


def test_binned_quartiles_for_long_sessions():
    from runform.report import binned_quartiles

    t = np.arange(0, 3600, 0.7)
    v = 170.0 + (t > 1800) * 6.0 + np.random.default_rng(0).normal(0, 2.0, t.size)
    tc, q1, q2, q3 = binned_quartiles(t, v, 60.0)
    assert tc.size == 60
    assert np.all(q1 <= q2) and np.all(q2 <= q3)
    assert np.median(q2[tc < 1800]) == pytest.approx(170.0, abs=0.5)
    assert np.median(q2[tc > 1800]) == pytest.approx(176.0, abs=0.5)


def test_each_alert_rule_has_its_own_marker_shape():
    import matplotlib.pyplot as plt

    from runform.report import _draw_event_strip

    fig, ax = plt.subplots()
    ax.set_xlim(0, 100)
    alerts = [
        {"t": 10.0, "rule": "heel_strike", "level": "warning", "t_clear": 40.0},
        {"t": 20.0, "rule": "pelvic_drop", "side": "left", "level": "warning"},
        {"t": 30.0, "rule": "low_cadence", "level": "info"},
    ]
    _draw_event_strip(ax, [], alerts, 1.0, 100.0)
    # an alert that never cleared is drawn as on to the end of the recording
    bars = [ln for ln in ax.lines if ln.get_linestyle() == "-"]
    assert max(max(ln.get_xdata()) for ln in bars) == pytest.approx(100.0)
    assert any(list(ln.get_xdata()) == [10.0, 40.0] for ln in bars)  # on until it cleared
    shapes = {
        ln.get_label(): ln.get_marker() for ln in ax.lines if ln.get_label().startswith("alert")
    }
    assert len(shapes) == 3 and len(set(shapes.values())) == 3
    plt.close(fig)


def test_metric_lines_run_forward_in_time_whatever_the_row_order():
    """Rows come in the order the analysis released them (a pelvis' walking steps before the
    running ones it holds back): the running-median lines went back in time, zigzagging across
    the intervals session's pelvic drop and vertical oscillation panels."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from runform.report import TIME_METRICS, fig_metrics_over_time

    rng = np.random.default_rng(3)
    t = np.arange(60) * 0.35
    vo = np.where((t // 5) % 2 == 0, 4.0, 8.0) + rng.normal(0, 0.1, t.size)
    df = pd.DataFrame(
        {
            "sensor_id": "pelvis",
            "side": np.where(np.arange(t.size) % 2 == 0, "left", "right"),
            "t_ic": t,
            "vertical_oscillation": vo,
            "pelvic_drop": 5.0 + rng.normal(0, 0.2, t.size),
        }
    )
    for col, *_ in TIME_METRICS:
        if col not in df:
            df[col] = np.nan  # (a pelvis-only session: no foot metric)
    shuffled = df.iloc[rng.permutation(len(df))]  # released out of time order
    fig = fig_metrics_over_time(shuffled, {"pelvis": "pelvis"}, float(t[-1]), [], [])
    assert fig is not None
    lines = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    assert len(lines) == 4  # left and right, two panels
    for ln in lines:
        x = np.asarray(ln.get_xdata(), dtype=float)
        assert np.all(np.diff(x) >= 0)
    plt.close(fig)


def test_summary_shows_the_contact_time_balance_as_the_sessions_not_the_left_foots(chi):
    # before: the session-level balance (SUMMARY top-level "balance") sat in the left_foot
    # column of the Summary table, as if it were a median of the left foot
    res = analyse_recording(chi)
    bal = res.summary["balance"]["contact_time_left_pct"]
    html = session_report(res).html()
    summary = html[html.index("<h2>Summary</h2>") :]
    table = summary[: summary.index("</table>")]
    n_sensors = table[: table.index("</thead>")].count("<th>")
    assert n_sensors == len(res.summary["sensors"]) == 3
    row = next(r for r in table.split("<tr>") if "contact time balance" in r)
    cells = re.findall(r"<td([^>]*)>(.*?)</td>", row)
    assert len(cells) == 2, row  # the label, and one value under all the sensors' columns
    attrs, value = cells[1]
    assert f'colspan="{n_sensors}"' in attrs, row
    assert value == f"{bal:.1f} % left"
