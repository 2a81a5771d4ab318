"""FIT export: the file is read back by two independent decoders (Garmin's own SDK and
fitdecode) with valid CRCs, every field within its resolution of the analysis' values, the
developer fields readable by name and unit, laps at markers and at activity bouts."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from firmware_bridge.simulator import simulate_session
from runform.analysis_run import analyse_recording
from runform.cli import main
from runform.fit import profile as P
from runform.fit.activity import DEV_FIELDS, activity_fit, lap_bounds, parse_utc
from runform.fit.encoder import DevField, FitEncoder, fit_crc

garmin = pytest.importorskip(
    "garmin_fit_sdk", reason="garmin-fit-sdk (dev dependency) not installed"
)
fitdecode = pytest.importorskip("fitdecode")


@pytest.fixture(scope="module")
def chi(tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "chi.h5"
    simulate_session("chirunning", duration_s=50.0, seed=5).write(path)
    return path


@pytest.fixture(scope="module")
def analysed(chi):
    return analyse_recording(chi)


@pytest.fixture(scope="module")
def exported(analysed):
    start = parse_utc(analysed.attrs["created_utc"])
    return activity_fit(analysed, start_unix_s=start, software_version="0.1.0")


def _garmin_read(data: bytes):
    dec = garmin.Decoder(garmin.Stream.from_byte_array(bytearray(data)))
    assert dec.is_fit()
    assert dec.check_integrity()  # header and file CRCs
    dec = garmin.Decoder(garmin.Stream.from_byte_array(bytearray(data)))
    msgs, errors = dec.read()
    assert errors == []
    return msgs


def test_crc_is_fit_crc16():
    # the FIT CRC is CRC-16/ARC: the standard check value of "123456789" is 0xBB3D
    assert fit_crc(b"123456789") == 0xBB3D


def test_both_decoders_read_the_file_with_valid_crcs(exported):
    msgs = _garmin_read(exported.data)
    for name in (
        "file_id_mesgs",
        "developer_data_id_mesgs",
        "field_description_mesgs",
        "device_info_mesgs",
        "record_mesgs",
        "lap_mesgs",
        "session_mesgs",
        "activity_mesgs",
        "event_mesgs",
    ):
        assert msgs.get(name), name
    assert msgs["file_id_mesgs"][0]["type"] == "activity"
    assert len(msgs["record_mesgs"]) == exported.records
    assert len(msgs["session_mesgs"]) == 1
    assert msgs["activity_mesgs"][0]["num_sessions"] == 1
    # fitdecode checks the CRC too, and raises on a bad one
    n = 0
    with fitdecode.FitReader(exported.data, check_crc=fitdecode.CrcCheck.RAISE) as fr:
        for fm in fr:
            if isinstance(fm, fitdecode.FitDataMessage) and fm.name == "record":
                n += 1
    assert n == exported.records


def test_corrupted_file_fails_the_crc(exported):
    bad = bytearray(exported.data)
    bad[len(bad) // 2] ^= 0x01
    dec = garmin.Decoder(garmin.Stream.from_byte_array(bad))
    assert not dec.check_integrity()


def test_record_fields_within_resolution(exported):
    msgs = _garmin_read(exported.data)
    recs = msgs["record_mesgs"]
    tl = exported.timeline
    v = tl.values
    t0 = exported.start_unix_s
    checked = {k: 0 for k in ("cadence", "speed", "step_length", "stance_time", "vo", "bal")}
    for i, r in enumerate(recs):
        assert r["timestamp"].timestamp() == pytest.approx(t0 + tl.t[i], abs=1e-6)
        spm = v["cadence_spm"][i]
        if math.isfinite(spm):  # running cadence: strides/min + 1/128 fraction
            got = 2 * (r["cadence"] + r["fractional_cadence"])
            assert got == pytest.approx(spm, abs=2 / 128 + 1e-9)
            checked["cadence"] += 1
        if math.isfinite(v["speed_mps"][i]):
            assert r["enhanced_speed"] == pytest.approx(v["speed_mps"][i], abs=0.0005 + 1e-9)
            checked["speed"] += 1
        if math.isfinite(v["stride_length_m"][i]):
            # step length = half a stride, mm, 0.1 mm resolution
            assert r["step_length"] == pytest.approx(500 * v["stride_length_m"][i], abs=0.05 + 1e-9)
            checked["step_length"] += 1
        if math.isfinite(v["contact_time_s"][i]):
            assert r["stance_time"] == pytest.approx(1000 * v["contact_time_s"][i], abs=0.05 + 1e-9)
            checked["stance_time"] += 1
        if math.isfinite(v["vertical_oscillation_cm"][i]):
            assert r["vertical_oscillation"] == pytest.approx(
                10 * v["vertical_oscillation_cm"][i], abs=0.05 + 1e-9
            )
            checked["vo"] += 1
        if math.isfinite(v["contact_time_left_pct"][i]):
            assert r["stance_time_balance"] == pytest.approx(
                v["contact_time_left_pct"][i], abs=0.005 + 1e-9
            )
            checked["bal"] += 1
        assert r["distance"] == pytest.approx(v["distance_m"][i], abs=0.005 + 1e-9)
    # the run part of the session (after 5 s standing) has every metric
    assert all(n >= 35 for n in checked.values()), checked
    # and the values are the run's: 160 -> 176 spm, 3.0 -> 3.1 m/s in the chirunning scenario
    cads = np.array([2 * (r["cadence"] + r["fractional_cadence"]) for r in recs if "cadence" in r])
    assert 150 < np.median(cads) < 185
    dists = [r["distance"] for r in recs]
    assert np.all(np.diff(dists) >= 0)


def test_distance_matches_summary(exported, analysed):
    msgs = _garmin_read(exported.data)
    sess = msgs["session_mesgs"][0]
    df = analysed.strides
    feet = [sid for sid in set(df["sensor_id"]) if analysed.placement_of(sid).endswith("_foot")]
    assert len(feet) == 2
    summary_distance = float(
        np.mean([df.loc[df["sensor_id"] == sid, "stride_length"].sum() for sid in feet])
    )
    # SUMMARY's distance sums every stride; the export spreads each over its duration up to the
    # end of the analysed span: within one stride length
    assert sess["total_distance"] == pytest.approx(summary_distance, abs=3.5)
    assert sess["sport"] == "running"
    assert sess["num_laps"] == len(msgs["lap_mesgs"])


def test_developer_fields_readable_by_name_and_unit(exported):
    msgs = _garmin_read(exported.data)
    desc = {d["field_definition_number"]: d for d in msgs["field_description_mesgs"]}
    for f in DEV_FIELDS:
        assert desc[f.number]["field_name"] == f.name
        assert desc[f.number].get("units", "") == f.units
    # fitdecode resolves developer fields to their names and units
    seen: dict[str, tuple] = {}
    with fitdecode.FitReader(exported.data) as fr:
        for fm in fr:
            if isinstance(fm, fitdecode.FitDataMessage) and fm.name == "record":
                for fld in fm.fields:
                    if fld.name in {f.name for f in DEV_FIELDS} and fld.value is not None:
                        seen.setdefault(fld.name, (fld.value, fld.units))
    assert set(seen) == {f.name for f in DEV_FIELDS}
    assert seen["foot_strike_angle"][1] == "deg"
    assert seen["strike_type"][0] in ("rearfoot", "midfoot", "forefoot")
    # values: the chirunning heel strike (~17 deg) then the midfoot drill (~2 deg)
    recs = msgs["record_mesgs"]
    tl = exported.timeline
    fsa = tl.values["foot_strike_angle_deg"]
    for i, r in enumerate(recs):
        dev = r.get("developer_fields", {})
        if math.isfinite(fsa[i]):
            assert dev[0] == pytest.approx(fsa[i], rel=1e-6, abs=1e-5)  # float32
            assert dev[1] == tl.strike_type[i]
        pd_l = tl.values["pelvic_drop_left_deg"][i]
        if math.isfinite(pd_l):
            assert dev[4] == pytest.approx(pd_l, rel=1e-6, abs=1e-5)
    laps = msgs["lap_mesgs"]
    assert 1 not in laps[0].get("developer_fields", {})  # standing: no strike
    assert laps[1]["developer_fields"][1] == "rearfoot"
    assert laps[-1]["developer_fields"][1] == "midfoot"


def test_laps_at_markers(exported, analysed):
    msgs = _garmin_read(exported.data)
    laps = msgs["lap_mesgs"]
    (t_marker,) = [t for t, _, kind in analysed.markers if kind in ("user", "note")]
    # the standing start is a lap of its own (SUMMARY bouts: stand, then run), then the run
    # up to the drill marker, then the drill
    bouts = analysed.summary["bouts"]
    assert [b["activity"] for b in bouts] == ["stand", "run"]
    assert len(laps) == 3
    t0 = exported.start_unix_s
    assert laps[1]["start_time"].timestamp() == pytest.approx(t0 + bouts[1]["t0"], abs=0.5)
    assert laps[2]["start_time"].timestamp() == pytest.approx(t0 + t_marker, abs=0.5)
    assert laps[0]["total_elapsed_time"] + laps[1]["total_elapsed_time"] == pytest.approx(
        t_marker - analysed.t_start, abs=0.002
    )
    assert laps[-1]["lap_trigger"] == "session_end"
    # lap cadence before/after the drill: 160 -> ~176 spm; standing has none
    assert laps[0].get("avg_cadence") is None
    cad = [2 * (lap["avg_cadence"] + lap["avg_fractional_cadence"]) for lap in laps[1:]]
    assert cad[1] - cad[0] > 8


def test_laps_at_bouts_and_without():
    bouts = [
        {"t0": 0.0, "t1": 5.0, "activity": "stand"},
        {"t0": 5.0, "t1": 30.0, "activity": "run"},
        {"t0": 30.0, "t1": 45.0, "activity": "walk"},
        {"t0": 45.0, "t1": 60.0, "activity": "run"},
    ]
    laps = lap_bounds(0.0, 60.0, [(20.0, "drill", "user"), (21.0, "heel_strike", "alert")], bouts)
    assert [(lap.t0, lap.t1) for lap in laps] == [
        (0.0, 5.0),
        (5.0, 20.0),
        (20.0, 30.0),
        (30.0, 45.0),
        (45.0, 60.0),
    ]
    assert [lap.sport for lap in laps] == [
        P.SPORT_GENERIC,
        P.SPORT_RUNNING,
        P.SPORT_RUNNING,
        P.SPORT_WALKING,
        P.SPORT_RUNNING,
    ]
    # no bouts (an analysis before issue 17), no markers: one lap, running
    (only,) = lap_bounds(0.0, 60.0, [], None)
    assert (only.t0, only.t1, only.sport) == (0.0, 60.0, P.SPORT_RUNNING)


def test_bouts_become_laps_in_the_file(analysed):
    import copy

    res = copy.copy(analysed)
    res.summary = dict(analysed.summary)
    res.summary["bouts"] = [
        {"t0": 0.0, "t1": 5.0, "activity": "stand"},
        {"t0": 5.0, "t1": 50.0, "activity": "run"},
    ]
    act = activity_fit(res, start_unix_s=parse_utc(res.attrs["created_utc"]))
    laps = _garmin_read(act.data)["lap_mesgs"]
    assert [lap["sport"] for lap in laps] == ["generic", "running", "running"]  # + the marker
    assert laps[1]["start_time"].timestamp() == pytest.approx(act.start_unix_s + 5.0)


def test_encoder_invalid_values_and_redefinition():
    enc = FitEncoder()
    enc.write("file_id", {"type": P.FILE_ACTIVITY, "manufacturer": 255, "product": 0})
    dev = enc.add_developer(bytes(16))
    f = enc.add_dev_field(DevField(dev, 0, "x", "float32", "u"))
    base = 1_000_000_000
    # NaN, None and out-of-range values are written as the type's invalid value (absent when read)
    enc.write("record", {"timestamp": base, "heart_rate": math.nan, "speed": 70.0}, {f: math.nan})
    enc.write("record", {"timestamp": base + 1, "heart_rate": 150, "speed": 3.5}, {f: 1.5})
    # more layouts than local message types: definitions are reused round-robin
    for k in range(20):
        enc.write(
            "event",
            {"timestamp": base + 2 + k, "event": 0, "event_type": 0}
            | ({"event_group": k} if k % 2 else {}),
        )
        enc.write(
            "lap",
            {"timestamp": base + 2 + k, "message_index": k}
            | ({"total_distance": float(k)} if k % 3 else {}),
        )
    enc.write("record", {"timestamp": base + 30, "heart_rate": 151, "speed": 3.6}, {f: 2.5})
    msgs = _garmin_read(enc.getvalue())
    r = msgs["record_mesgs"]
    assert "heart_rate" not in r[0] and "speed" not in r[0]
    missing = r[0].get("developer_fields", {}).get(0)
    assert missing is None or math.isnan(missing)  # float32 invalid is a NaN bit pattern
    assert (r[1]["heart_rate"], r[1]["speed"], r[1]["developer_fields"][0]) == (150, 3.5, 1.5)
    assert (r[2]["heart_rate"], r[2]["speed"], r[2]["developer_fields"][0]) == (151, 3.6, 2.5)
    assert len(msgs["lap_mesgs"]) == 20
    assert [lap.get("total_distance") for lap in msgs["lap_mesgs"]][:4] == [None, 1.0, 2.0, None]


def test_start_time_precedence():
    from runform.errors import UsageError
    from runform.fit.activity import recording_start_unix

    attrs = {"created_utc": "2026-11-24T21:50:31Z"}
    assert recording_start_unix(attrs, None, "r.h5") == parse_utc("2026-11-24T21:50:31Z")
    attrs["start_utc"] = "2026-11-24T21:40:02.25Z"  # e.g. the arm time of a logged run
    assert recording_start_unix(attrs, None, "r.h5") == pytest.approx(
        parse_utc("2026-11-24T21:40:02Z") + 0.25
    )
    assert recording_start_unix(attrs, "2026-01-01T00:00:00Z", "r.h5") == parse_utc(
        "2026-01-01T00:00:00Z"
    )
    with pytest.raises(UsageError, match="start_utc"):
        recording_start_unix({"start_utc": "soon"}, None, "r.h5")
    with pytest.raises(UsageError, match="--start"):
        recording_start_unix({}, None, "r.h5")
    # an empty --start is a bad --start, not a missing attribute (before: 'r.h5: no
    # created_utc attribute: give the start time with --start' about a file that has one)
    with pytest.raises(UsageError, match=r"^--start '': expected an ISO 8601"):
        recording_start_unix(attrs, "", "r.h5")


def test_header_layout(exported):
    size, proto, profile, data_size, magic = struct.unpack("<BBHI4s", exported.data[:12])
    assert (size, proto, magic) == (14, 0x20, b".FIT")
    assert data_size == len(exported.data) - 14 - 2
    assert profile == P.PROFILE_VERSION


def test_export_cli_writes_fit_and_the_analysis(chi, tmp_path, capsys):
    fit = tmp_path / "run.fit"
    csv = tmp_path / "s.csv"
    js = tmp_path / "s.json"
    assert (
        main(["export", str(chi), "--fit", str(fit), "--strides", str(csv), "--json", str(js)]) == 0
    )
    msgs = _garmin_read(fit.read_bytes())
    assert len(msgs["record_mesgs"]) >= 45
    out = capsys.readouterr().out
    assert (
        f"read back run.fit (fitdecode, CRC ok): {len(msgs['record_mesgs'])} records, 3 lap(s)"
        in out
    )
    assert "developer fields: foot_strike_angle, strike_type, pronation_excursion" in out
    # the CSV and JSON are those of runform analyze
    csv2, js2 = tmp_path / "a.csv", tmp_path / "a.json"
    assert main(["analyze", str(chi), "--strides", str(csv2), "--json", str(js2)]) == 0
    assert csv.read_text() == csv2.read_text()
    assert js.read_text() == js2.read_text()


def test_export_cli_errors_are_one_line(chi, tmp_path, capsys):
    assert main(["export", str(chi), "--fit", str(tmp_path / "no" / "x.fit")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err
    assert main(["export", str(chi), "--fit", str(tmp_path / "x.fit"), "--start", "yesterday"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--start" in err and "ISO 8601" in err
    assert not (tmp_path / "x.fit").exists()


def test_only_fields_with_values_are_declared_and_a_walk_is_a_walk(tmp_path):
    # before: a pelvis-only recording declared (and the read-back listed) the four foot fields
    # with no value in any record, and a walk that began standing (laps generic + walking)
    # was a 'running' session
    import h5py

    from runform.fit.readback import fit_overview

    pelvis = tmp_path / "pelvis.h5"
    simulate_session("easy", duration_s=30.0, seed=2, truth=False).write(pelvis)
    with h5py.File(pelvis, "r+") as f:
        del f["sensors"]["left_foot"], f["sensors"]["right_foot"]
    res = analyse_recording(pelvis)
    act = activity_fit(res, start_unix_s=parse_utc(res.attrs["created_utc"]))
    (tmp_path / "p.fit").write_bytes(act.data)
    names = [n for n, _ in fit_overview(tmp_path / "p.fit").developer_fields]
    assert names == ["pelvic_drop_left", "pelvic_drop_right"], names
    _garmin_read(act.data)  # still a valid file for Garmin's SDK

    walk = tmp_path / "walk.h5"
    simulate_session("walk", duration_s=40.0, seed=2, truth=False).write(walk)
    res = analyse_recording(walk)
    act = activity_fit(res, start_unix_s=parse_utc(res.attrs["created_utc"]))
    msgs = _garmin_read(act.data)
    assert "walking" in [lap["sport"] for lap in msgs["lap_mesgs"]]
    assert msgs["session_mesgs"][0]["sport"] == "walking"


def test_elapsed_time_is_the_analysed_span_and_a_standing_lap_has_no_cadence(tmp_path):
    # before: the session's elapsed time ran from the first to the last whole second of the
    # records (38 s of a 40 s walk: up to 2 s short), and the standing lap before the walk
    # carried the walk's cadence (112 steps/min) and contact time from its edge records
    walk = tmp_path / "walk.h5"
    simulate_session("walk", duration_s=40.0, seed=0, truth=False).write(walk)
    res = analyse_recording(walk)
    assert [b["activity"] for b in res.summary["bouts"]] == ["stand", "walk"]
    act = activity_fit(res, start_unix_s=parse_utc(res.attrs["created_utc"]))
    msgs = _garmin_read(act.data)
    (sess,) = msgs["session_mesgs"]
    assert sess["total_elapsed_time"] == pytest.approx(res.duration_s, abs=0.001)
    assert sess["total_timer_time"] == pytest.approx(res.duration_s, abs=0.001)
    laps = msgs["lap_mesgs"]
    assert sum(lap["total_elapsed_time"] for lap in laps) == pytest.approx(
        res.duration_s, abs=0.002
    )
    standing, walking = laps
    assert standing["sport"] == "generic" and walking["sport"] == "walking"
    for key in ("avg_cadence", "avg_running_cadence", "avg_stance_time", "avg_step_length"):
        assert standing.get(key) is None, (key, standing)
    assert 100 < 2 * (walking["avg_cadence"] + walking["avg_fractional_cadence"]) < 130
