"""Watch FIT merge: a synthetic watch file (written from a simulated session's truth by
runform's encoder, its clock off by a known offset) is aligned to the recording, the offset
found by cadence cross-correlation; the SUMMARY key, the report's route profile, the speed check
against GPS and the export with the watch's track."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.simulator import simulate_session
from recordings import open_recording
from runform.analysis_run import analyse_recording
from runform.cli import main
from runform.fit.activity import parse_utc
from runform.fit.watch import align_by_cadence, elevation_change, merge_watch
from tests.runform.watch_synth import truth_curves, watch_fit_bytes

DURATION_S = 50.0


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    d = tmp_path_factory.mktemp("watch")
    sim = simulate_session("chirunning", duration_s=DURATION_S, seed=5)
    path = d / "chi.h5"
    sim.write(path)
    with open_recording(path) as rec:
        start = parse_utc(rec.created_utc)
    return sim, path, start, d


@pytest.fixture(scope="module")
def analysed(session):
    return analyse_recording(session[1])


def _watch(session, offset_s: float, name: str, **kw) -> str:
    sim, _, start, d = session
    p = d / name
    p.write_bytes(
        watch_fit_bytes(
            sim.truth, start_unix_s=start, clock_offset_s=offset_s, duration_s=DURATION_S, **kw
        )
    )
    return str(p)


@pytest.mark.parametrize("offset_s", [2.0, -1.3, 0.45])
def test_clock_offset_found_by_cadence(session, analysed, offset_s):
    w = _watch(session, offset_s, f"w{offset_s}.fit")
    m = merge_watch(analysed, w, start_unix_s=session[2])
    assert m.alignment.method == "cadence"
    assert m.alignment.offset_s == pytest.approx(offset_s, abs=0.1)
    assert m.alignment.correlation > 0.9
    # corrected: at the merged times the true cadence is what the watch recorded (the drill's
    # 160 -> 176 spm change is steep: 2 s off would be ~8 spm off there)
    t_mid, cad, _ = truth_curves(session[0].truth)
    w_cad = m.track.values["cadence_spm"]
    ok = np.isfinite(w_cad) & (m.track.t > t_mid[0]) & (m.track.t < t_mid[-1])
    err = np.abs(np.interp(m.track.t[ok], t_mid, cad) - w_cad[ok])
    assert err.max() < 1.0
    wall = m.track.t + m.alignment.offset_s  # by wall clock only
    assert np.abs(np.interp(wall[ok], t_mid, cad) - w_cad[ok]).max() > 3.0 * err.max()


def test_merge_summary_and_speed_check(session, analysed):
    m = merge_watch(analysed, _watch(session, 2.0, "w.fit"), start_unix_s=session[2])
    s = m.summary
    assert s["alignment"] == "cadence"
    assert s["records_in_recording"] >= DURATION_S - 3
    assert 130 < s["heart_rate_median"] < 150  # 120 -> 160 bpm ramp
    assert s["elevation_gain_m"] == pytest.approx(20.0, abs=1.0)
    assert s["elevation_loss_m"] == pytest.approx(20.0, abs=1.0)
    chk = s["speed_check"]
    assert chk["speed_source"] == "gps positions"
    # runform's stride-length speed against the GPS track of the true speed
    assert abs(chk["speed_bias_pct"]) < 3.0
    assert chk["speed_within_5pct_fraction"] > 0.7
    assert chk["distance_runform_m"] == pytest.approx(chk["distance_watch_m"], rel=0.03)


def test_watch_without_gps_uses_its_speed_field(session, analysed):
    m = merge_watch(
        analysed, _watch(session, 2.0, "nogps.fit", with_gps=False), start_unix_s=session[2]
    )
    assert m.summary["speed_check"]["speed_source"] == "watch speed field"


def test_elevation_change_ignores_spikes_and_noise():
    rng = np.random.default_rng(3)
    hill = 400 + 30 * np.sin(np.linspace(0, np.pi, 1200))  # up 30 m, down 30 m
    noisy = hill + 0.4 * rng.standard_normal(hill.size)
    noisy[[100, 500, 900]] += [80.0, -60.0, 90.0]  # altimeter glitches
    gain, loss = elevation_change(noisy)
    assert gain == pytest.approx(30.0, abs=2.0) and loss == pytest.approx(30.0, abs=2.0)
    d = np.diff(noisy)
    assert d[d > 0].sum() > 150  # what a plain sum of rises would say


def test_steady_cadence_keeps_the_wall_clock():
    t = np.arange(0.0, 60.0, 0.35)
    al = align_by_cadence(np.arange(0.0, 60.0), np.full(60, 170.0), t, np.full(t.size, 170.0))
    assert al.method == "wall_clock" and al.offset_s == 0.0
    assert "steady" in al.note


def test_cadence_that_does_not_match_keeps_the_wall_clock():
    rng = np.random.default_rng(1)
    t = np.arange(0.0, 120.0, 0.35)
    al = align_by_cadence(
        np.arange(0.0, 120.0),
        170 + 5 * rng.standard_normal(120),
        t,
        170 + 5 * rng.standard_normal(t.size),
    )
    assert al.method == "wall_clock"


def test_analyze_cli_adds_the_watch_key(session, tmp_path):
    import pandas as pd

    w = _watch(session, 2.0, "cli.fit")
    js = tmp_path / "s.json"
    tl = tmp_path / "t.csv"
    assert (
        main(["analyze", str(session[1]), "--json", str(js), "--watch", w, "--timeline", str(tl)])
        == 0
    )
    df = pd.read_csv(tl)
    assert len(df) >= DURATION_S - 1 and (np.diff(df["t"]) == 1.0).all()
    run = df[df["t"] > 8]
    assert run["watch_heart_rate_bpm"].between(120, 160).all()
    assert run["watch_lat_deg"].notna().all() and run["cadence_spm"].notna().all()
    # runform's and the watch's cadence agree once aligned
    assert (run["cadence_spm"] - run["watch_cadence_spm"]).abs().median() < 2.0
    doc = json.loads(js.read_text())
    assert doc["watch"]["clock_offset_s"] == pytest.approx(2.0, abs=0.1)
    assert "speed_check" in doc["watch"]
    assert doc["sensors"]  # the rest of SUMMARY is there


def test_report_cli_has_the_route_profile(session, tmp_path):
    w = _watch(session, 2.0, "rep.fit")
    out = tmp_path / "r.html"
    assert (
        main(["report", str(session[1]), "--out", str(out), "--png", str(tmp_path), "--watch", w])
        == 0
    )
    html = out.read_text(encoding="utf-8")
    assert "Route profile" in html
    m = re.search(r'class="note speed-check">([^<]+)<', html)
    assert m and "Watch clock offset +" in m.group(1) and "running seconds within 5 %" in m.group(1)
    assert (tmp_path / "report_route_profile.png").read_bytes().startswith(b"\x89PNG")


def test_export_with_watch_carries_its_track(session, tmp_path):
    garmin = pytest.importorskip("garmin_fit_sdk", reason="garmin-fit-sdk not installed")
    w = _watch(session, 2.0, "exp.fit")
    fit = tmp_path / "run.fit"
    assert main(["export", str(session[1]), "--fit", str(fit), "--watch", w]) == 0
    dec = garmin.Decoder(garmin.Stream.from_file(str(fit)))
    msgs, errors = dec.read()
    assert errors == []
    recs = msgs["record_mesgs"]
    with_pos = [r for r in recs if "position_lat" in r]
    assert len(with_pos) >= len(recs) - 3
    assert all(110 <= r["heart_rate"] <= 165 for r in recs if "heart_rate" in r)
    assert 47.37 < with_pos[-1]["position_lat"] * 180 / 2**31 < 47.39


def test_bad_watch_file_is_one_line(session, tmp_path, capsys):
    bad = tmp_path / "bad.fit"
    bad.write_bytes(b"not a fit file at all")
    assert (
        main(["analyze", str(session[1]), "--json", str(tmp_path / "s.json"), "--watch", str(bad)])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 or err[-1].startswith("runform analyze: error: --watch")
    assert "--watch" in err[-1]


def test_watch_of_another_run_is_one_line(session, tmp_path, capsys):
    w = _watch(session, 3600.0, "other.fit")  # an hour off: another run
    assert main(["report", str(session[1]), "--out", str(tmp_path / "r.html"), "--watch", w]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not the same run?" in err


def test_watch_file_cut_short_is_used_up_to_the_cut(session, analysed, tmp_path):
    data = Path(_watch(session, 2.0, "full.fit")).read_bytes()
    cut = tmp_path / "cut.fit"
    cut.write_bytes(data[: int(len(data) * 0.8)])  # the battery died: no end, no CRC
    m = merge_watch(analysed, cut, start_unix_s=session[2])
    assert "cut short" in m.summary["file_note"]
    assert 30 <= m.summary["records"] < 50
    assert m.alignment.offset_s == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        # before: '--watch watch: no such file' (it is there, a folder)
        (lambda p: p.mkdir(), "is a folder, expected the watch's FIT file"),
        # before: '--watch empty.fit: no record messages (is it an activity file?)'
        (lambda p: p.write_bytes(b""), "the file is empty (0 bytes)"),
    ],
)
def test_watch_folder_or_empty_file_is_named_as_such(session, tmp_path, capsys, make, words):
    watch = tmp_path / "watch"
    make(watch)
    code = main(
        ["export", str(session[1]), "--fit", str(tmp_path / "r.fit"), "--watch", str(watch)]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("runform export: error: --watch") and words in err[-1], err


def test_route_profile_follows_units(session, tmp_path, monkeypatch):
    # before: with --units imperial the route profile was drawn in min/km, km and m
    import matplotlib.axes

    labels: list[str] = []
    real = matplotlib.axes.Axes.set_ylabel, matplotlib.axes.Axes.set_xlabel

    def set_ylabel(self, label, *a, **k):
        labels.append(str(label))
        return real[0](self, label, *a, **k)

    def set_xlabel(self, label, *a, **k):
        labels.append(str(label))
        return real[1](self, label, *a, **k)

    monkeypatch.setattr(matplotlib.axes.Axes, "set_ylabel", set_ylabel)
    monkeypatch.setattr(matplotlib.axes.Axes, "set_xlabel", set_xlabel)
    w = _watch(session, 2.0, "units.fit")
    out = tmp_path / "r.html"
    argv = ["report", str(session[1]), "--out", str(out), "--watch", w, "--units", "imperial"]
    assert main(argv) == 0
    assert "pace (min/mi)" in labels and "distance (mi, watch)" in labels, labels
    assert not any("min/km" in x or "(km" in x or x == "elevation (m)" for x in labels), labels


def test_report_distance_check_follows_units(session, tmp_path):
    # before: with --units imperial the GPS check still read 'distance 104 m (runform) vs
    # 103 m (watch)'
    w = _watch(session, 2.0, "dist.fit")
    out, js = tmp_path / "r.html", tmp_path / "s.json"
    argv = ["report", str(session[1]), "--out", str(out), "--watch", w, "--json", str(js)]
    assert main([*argv, "--units", "imperial", "--no-progress"]) == 0
    m = re.search(r'class="note speed-check">([^<]+)<', out.read_text(encoding="utf-8"))
    assert m, "no speed check"
    chk = json.loads(js.read_text())["watch"]["speed_check"]
    mine, theirs = chk["distance_runform_m"] / 0.3048, chk["distance_watch_m"] / 0.3048
    said = m.group(1)
    assert f"distance {mine:.0f} ft (runform) vs {theirs:.0f} ft (watch)" in said, said
    assert " m (runform)" not in said and " m (watch)" not in said, said
