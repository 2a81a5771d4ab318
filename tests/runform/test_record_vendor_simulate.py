"""``runform record --simulate --simulate-devices``: emulated vendor sensors (Movesense,
MetaWear, Polar, WitMotion) streamed over the virtual link through the real bleak path, each
identified from its GATT services, decoded by its driver and written with its own rate."""

from __future__ import annotations

import numpy as np
import pytest

from recordings import open_recording
from runform.cli import main
from runform.commands.record import parse_simulate_devices
from runform.errors import UsageError


def test_record_vendor_devices_writes_each_model(tmp_path, capsys):
    out = tmp_path / "vendor.h5"
    # 208 Hz: Movesense and Polar stream it natively, MetaWear runs at its nearest (200 Hz)
    code = main(
        [
            "record",
            "--simulate",
            "--simulate-devices",
            "movesense,metawear,polar",
            "--footpod",
            "--rate",
            "208",
            "--duration",
            "4",
            "--speed",
            "4",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "bad packets 0" in printed
    with open_recording(out) as rec:
        models = {s.sensor_id: s.device_model for s in rec.sensors}
        assert models == {
            "left_foot": "movesense",
            "right_foot": "metawear",
            "pelvis": "polar-verity-sense",
        }
        rates = {s.sensor_id: s.sample_rate_hz for s in rec.sensors}
        assert rates == {"left_foot": 208.0, "right_foot": 200.0, "pelvis": 208.0}
        for info in rec.sensors:
            b = rec.read(info.sensor_id)
            assert np.all(np.diff(b.t) > 0), info.sensor_id
            assert b.t[-1] - b.t[0] >= 3.0, info.sensor_id
            late = b.t[b.t > b.t[0] + 1.0]
            # every sample of the stream arrived (no loss on this link)
            assert len(late) == pytest.approx((late[-1] - late[0]) * info.sample_rate_hz, rel=0.03)
            assert rec.lost_samples(info.sensor_id) in (0, None), info.sensor_id
            # the simulator's running signal came through the vendor encoding
            norm = np.linalg.norm(b.acc, axis=1)
            assert np.max(norm) > 15.0, info.sensor_id
            gyr_peak = 20.0 if info.sensor_id == "pelvis" else 200.0  # foot swing ≫ pelvis
            assert np.max(np.abs(b.gyr)) > gyr_peak, info.sensor_id
        (pod,) = rec.streams()
        assert pod.stream_id == "footpod" and pod.device_model == "rsc-footpod"
        assert len(pod.t) >= 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "movesense,metawear,polar",
            {"left_foot": "movesense", "right_foot": "metawear", "pelvis": "polar-verity-sense"},
        ),
        ("witmotion", {"left_foot": "witmotion"}),
        ("pelvis=polar, left_foot=diy", {"pelvis": "polar-verity-sense", "left_foot": "diy"}),
        (None, {}),
    ],
)
def test_parse_simulate_devices(text, expected):
    assert parse_simulate_devices(text) == expected


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("movesense,garmin", "device 'garmin': expected one of"),
        ("a,b,c,d", "at most 3 models"),
        ("chest=polar", "'chest' is no simulated placement"),
        ("pelvis=polar,metawear", "either MODEL,MODEL,MODEL or PLACEMENT=MODEL"),
        ("movesense,,polar", "expected models separated by commas"),
        ("pelvis=polar,pelvis=diy", "pelvis given twice"),
    ],
)
def test_parse_simulate_devices_errors(text, msg):
    with pytest.raises(UsageError, match=msg):
        parse_simulate_devices(text)


def test_simulate_devices_needs_simulate(tmp_path, capsys):
    code = main(
        [
            "record",
            "--sensor",
            "left_foot=AA",
            "--simulate-devices",
            "polar",
            "--out",
            str(tmp_path / "x.h5"),
        ]
    )
    assert code != 0
    err = capsys.readouterr().err
    assert "--simulate-devices needs --simulate" in err
    assert "Traceback" not in err


def test_a_range_the_device_lacks_is_never_narrowed_and_is_said(tmp_path, caplog):
    # before: Polar and MetaWear took the nearest range, below the one asked (±3 g -> ±2 g,
    # ±300 deg/s -> ±250 deg/s: a running pelvis clipped at 2 g), and no driver said it had
    # changed a setting (--rate 500 gave 416 Hz, a WitMotion 200 Hz, without a word)
    out = tmp_path / "ranges.h5"
    argv = ["record", "--simulate", "--simulate-devices", "diy,metawear,polar", "--rate", "208"]
    argv += ["--acc-range", "3", "--gyr-range", "300", "--duration", "2", "--speed", "4"]
    with caplog.at_level("WARNING", logger="firmware_bridge.ble_session"):
        assert main([*argv, "--quiet", "--out", str(out)]) == 0
    with open_recording(out) as rec:
        ranges = {s.sensor_id: (s.acc_range_g, s.gyr_range_dps) for s in rec.sensors}
    assert ranges == {
        "left_foot": (4.0, 500.0),
        "right_foot": (4.0, 500.0),
        "pelvis": (4.0, 500.0),
    }
    said = [r.getMessage() for r in caplog.records]
    line = next(m for m in said if m.startswith("sensor pelvis (polar-verity-sense)"))
    assert "±4 g instead of ±3 g, ±500 deg/s instead of ±300 deg/s" in line, said
    line = next(m for m in said if m.startswith("sensor right_foot (metawear)"))
    assert "200 Hz instead of 208 Hz" in line, said
