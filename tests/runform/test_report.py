"""runform report / the HTML reports: self-contained, complete, same numbers as the analysis."""

from __future__ import annotations

import base64
import re

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
