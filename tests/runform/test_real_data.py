"""The real recordings of the shared real-data folder, analysed and scored by
``scripts/real_data_check.py`` (skipped when the folder is absent: it is not part of the
repository). Thresholds are today's measured figures with a small margin, so a change that
makes real-data results worse fails here; the targets of issue 16 are in docs/accuracy_real.md.
"""

from __future__ import annotations

import pytest

from .script_module import load_script

rdc = load_script("real_data_check")
FOLDER = rdc.realdata_dir()
pytestmark = pytest.mark.skipif(not FOLDER.is_dir(), reason=f"no real-data folder at {FOLDER}")


@pytest.fixture(scope="module")
def results():
    return {p.stem: rdc.check_recording(p) for p in rdc.recordings_in(FOLDER)}


def test_every_recording_is_analysed_and_reported(results, tmp_path):
    assert results
    text = rdc.markdown(list(results.values()), FOLDER)
    for name in results:
        assert name in text
    assert rdc.main(["--out", str(tmp_path / "acc.md")]) == 0
    assert (tmp_path / "acc.md").read_text().startswith("# Accuracy on real recordings")


def test_running_contacts_all_found_and_aligned_without_a_still_phase(results):
    runs = [r for r in results.values() if r["foot"] and "running" in r["activity"]]
    if not runs:
        pytest.skip("no real running recording with a contact reference")
    for r in runs:
        for s in r["foot"]:
            assert s["found"] >= 0.99 * s["n_ref"], (r["recording"], s)
            assert s["false"] == 0, (r["recording"], s)
            # the feet are never still at mid-stance: the alignment comes from whole cycles
            assert s["low_alignment"] == 0, (r["recording"], s)
            # (scored where the reference's own foot-flat is >= 50 ms after its IC; today 100 %)
            assert s["strike_agree"] >= 0.9, (r["recording"], s)
            # IC against the markers: 10.1 / 6.9 ms today (47.8 / 33.7 before the pronation
            # onset's yaw check; issue target 10 ms against force plates)
            assert s["ic_median_ms"] <= 14.0, (r["recording"], s)
            # foot strike angle about the shoe's heel-toe axis (the direction of progression
            # turned out by a typical toe-out): 1.0 / 2.8 deg today (4.6 / 6.2 about the swing
            # axis's forward; 0.7 / 1.0 with the true mounting; target 3 deg)
            assert s["fsa_mae_deg"] <= 3.0, (r["recording"], s)
            # pronation about the shoe's axes, where the reference has it: excursion 0.2 / 2.5
            # deg and max velocity 0 / 10 % today (9.1 / 8.6 deg and 30 / 33 % about the
            # swing axis's frame)
            if s["n_pronation"]:
                assert s["exc_mae_deg"] <= 4.0, (r["recording"], s)
                assert s["mpv_err_pct"] <= 15.0, (r["recording"], s)
            # stride length (belt-relative): 0.9 / 1.6 % today with the pooled foot-flat
            # reference and the foot-flat velocity omega x r (1.8 / 2.1 % taking the foot as
            # still there; 9.1 / 6.4 % from each foot-flat's own specific force); TO 4.4 / 4.7 ms
            assert s["stride_length_err_pct"] <= 2.0, (r["recording"], s)
            assert s["n_stride_length"] >= 0.9 * s["found"], (r["recording"], s)
            assert s["to_median_ms"] <= 8.0, (r["recording"], s)


def test_feet_without_reference_are_plausible(results):
    pl = [(r["recording"], s) for r in results.values() for s in r["plausibility"]]
    if not pl:
        pytest.skip("no foot recording without a reference")
    for name, s in pl:
        assert s["extra_contacts"] == 0, (name, s)
        # (today: the last landing before standing still at the end, and a slow shuffle)
        assert s["swings_without_contact"] <= 2, (name, s)
        assert s["contacts"] >= 0.85 * s["swings"], (name, s)
        assert 80.0 <= s["cadence_median"] <= 160.0, (name, s)
        assert s["low_alignment"] == 0, (name, s)


def test_evaluation_matching_is_one_to_one():
    import numpy as np

    from runform.evaluation import match_events

    i, j = match_events(np.array([1.0, 2.0, 3.0]), np.array([1.05, 1.08, 2.95, 5.0]), tol_s=0.1)
    assert i.tolist() == [0, 2] and j.tolist() == [0, 2]


def test_reference_strike_angles_with_a_foot_flat_on_the_landing_are_not_scored():
    import pandas as pd

    from runform.evaluation import score_foot

    rows = pd.DataFrame(
        {
            "sensor_id": ["f"] * 3,
            "t_ic": [1.0, 2.0, 3.0],
            "t_to": [1.3, 2.3, 3.3],
            "foot_strike_angle": [20.0, 21.0, 19.0],
            "strike_type": ["rearfoot"] * 3,
            "stride_length": [2.0, 2.0, 2.0],
        }
    )
    ref = [
        {
            "sensor_id": "f",
            "t_ic": 1.0,
            "t_to": 1.3,
            "t_ms": 1.14,
            "foot_strike_angle": 21.0,
            "strike_type": "rearfoot",
        },
        # the reference's foot-flat 10 ms after its IC: its angle (~0) says nothing
        {
            "sensor_id": "f",
            "t_ic": 2.0,
            "t_to": 2.3,
            "t_ms": 2.01,
            "foot_strike_angle": 0.0,
            "strike_type": "midfoot",
        },
        {
            "sensor_id": "f",
            "t_ic": 3.0,
            "t_to": 3.3,
            "t_ms": 3.15,
            "foot_strike_angle": 20.0,
            "strike_type": "rearfoot",
        },
    ]
    s = score_foot(rows, ref, sensor_id="f", min_ref_flat_after_ic_s=0.05)
    assert s.n_fsa == 2 and s.n_fsa_unusable == 1
    assert s.fsa_mae_deg == pytest.approx(1.0) and s.strike_agree == 1.0
    assert s.fsa_mae_all_deg == pytest.approx(23.0 / 3.0)
    s_all = score_foot(rows, ref, sensor_id="f")
    assert s_all.n_fsa == 3 and s_all.n_fsa_unusable == 0
    assert s_all.strike_agree == pytest.approx(2.0 / 3.0)


def test_real_running_aligns_within_ten_strides():
    """The first 7 s (about 9 strides) of every real running foot sensor give a confident
    alignment without a still phase (issue 16: within the first ~10 strides)."""
    import json

    from dsp.alignment import estimate_alignment
    from recordings import open_recording

    n = 0
    for p in rdc.recordings_in(FOLDER):
        ref = json.loads(p.with_suffix(".json").read_text())
        if "running" not in ref.get("activity", ""):
            continue
        with open_recording(p) as rec:
            for s in rec.sensors:
                if s.side is None:
                    continue
                b = rec.read(s.sensor_id)
                m = b.t < b.t[0] + 7.0
                res = estimate_alignment(
                    [(b.t[m], b.acc[m], b.gyr[m])], sampling_rate_hz=s.sample_rate_hz
                )
                assert res.ok and res.confidence >= 0.5, (p.stem, s.sensor_id, res.as_dict())
                n += 1
    if n == 0:
        pytest.skip("no real running recording")


def test_pelvis_walks_find_steps_and_sides(results):
    """Real lower-back walks against their instrumented reference (issue 17). The short lab
    walks meet the issue's targets; the daily-life course (turns, sitting down and getting up,
    hesitant steps) is held to today's figures with a small margin."""
    walks = [(r["recording"], s) for r in results.values() for s in r["pelvis"]]
    if not walks:
        pytest.skip("no real pelvis recording with a step reference")
    for name, s in walks:
        found = s["found"] / s["n_ref"]
        precision = (s["n_rows"] - s["false"]) / max(1, s["n_rows"])
        short = s["n_ref"] < 20
        assert found >= (0.95 if short else 0.88), (name, s)
        assert precision >= 0.95, (name, s)
        assert s["side_agree"] >= (0.95 if short else 0.9), (name, s)
        assert s["ic_median_ms"] <= (40.0 if short else 25.0), (name, s)


def test_a_sensor_turned_on_its_clip_measures_the_same(tmp_path):
    """The mounting is found from the data: every sensor of a real running and a real walking
    recording turned by a random rotation gives the same scores (``scripts/robustness_check.py``
    checks every recording and mounting: no difference on these, the PyShoe and Voisard ones)."""
    import h5py
    import numpy as np

    mc = load_script("robustness_check")
    paths = [p for p in rdc.recordings_in(FOLDER) if "rbds" in p.stem or "test5_trial1" in p.stem]
    if not paths:
        pytest.skip("no running or lower-back recording with a reference")
    turn = mc.random_rotation(np.random.default_rng(7))
    for path in paths:
        got = {}
        for name, rot in (("as-mounted", np.eye(3)), ("turned", turn)):
            dst = tmp_path / name / path.name
            dst.parent.mkdir(exist_ok=True)
            mc.turned_copy(path, dst, rot)
            got[name] = mc.scores(rdc.check_recording(dst))
        with h5py.File(path) as a, h5py.File(dst) as b:  # the turned copy reads differently
            sid = next(iter(a["sensors"]))
            acc = a["sensors"][sid]["acc"][:100]
            assert not np.allclose(b["sensors"][sid]["acc"][:100], acc, atol=0.1)
        assert got["as-mounted"], path.stem
        assert got["turned"] == got["as-mounted"], path.stem


def test_real_running_read_by_a_2_g_sensor_at_59_hz(tmp_path):
    """The real runner as a ±2 g device at ~59 Hz would have read it (issue 16: such a sensor
    gave no contacts in half its trials): every contact found, none false, strike type right;
    the strides clip for long, so no stride length is reported."""
    mc = load_script("robustness_check")
    paths = [p for p in rdc.recordings_in(FOLDER) if "rbds" in p.stem]
    if not paths:
        pytest.skip("no real running recording with a reference")
    for path in paths:
        slow = tmp_path / "slow" / path.name
        dst = tmp_path / "clipped" / path.name
        slow.parent.mkdir()
        dst.parent.mkdir()
        mc.resampled_copy(path, slow, 59.0)
        mc.clipped_copy(slow, dst, 2.0)
        res = rdc.check_recording(dst)
        assert res["foot"], path.stem
        for s in res["foot"]:
            assert s["found"] >= 0.99 * s["n_ref"] and s["false"] == 0, s
            assert s["low_alignment"] == 0, s
            assert s["strike_agree"] >= 0.9, s
            assert s["n_stride_length"] == 0, s


def test_an_uncalibrated_sensor_measures_nearly_the_same(tmp_path):
    """A gyroscope bias of 3 deg/s and an accelerometer offset of 0.05 g on every sensor (an
    uncalibrated device) leave the real runner's contacts, strike type and stride length as
    they were and its strike angle within 1 deg (``scripts/robustness_check.py --check bias``:
    the same on the PyShoe trials, stride length 2.8 -> 3.2 % per trial; lower-back walks the
    same steps)."""
    mc = load_script("robustness_check")
    paths = [p for p in rdc.recordings_in(FOLDER) if "rbds" in p.stem]
    if not paths:
        pytest.skip("no real running recording with a reference")
    for path in paths:
        base = {s["sensor_id"]: s for s in rdc.check_recording(path)["foot"]}
        dst = tmp_path / path.name
        mc.biased_copy(path, dst, 3.0, 0.05)
        for s in rdc.check_recording(dst)["foot"]:
            b = base[s["sensor_id"]]
            assert (s["found"], s["false"], s["low_alignment"]) == (b["found"], 0, 0), s
            assert s["strike_agree"] >= b["strike_agree"] - 0.03, s
            assert abs(s["fsa_mae_deg"] - b["fsa_mae_deg"]) <= 1.0, s
            assert abs(s["stride_length_err_pct"] - b["stride_length_err_pct"]) <= 0.5, s
            assert abs(s["ic_median_ms"] - b["ic_median_ms"]) <= 2.0, s


def test_real_running_measured_from_its_first_strides(tmp_path):
    """The alignment needs no still phase and no long run: the real runner's first 6 s (7
    contacts per foot) give every contact its strike angle (MAE <= 3 deg against the markers),
    strike type and stride length, none flagged ``low_alignment`` (issue 16: within the first
    ~10 strides)."""
    import shutil

    import h5py
    import numpy as np

    paths = [p for p in rdc.recordings_in(FOLDER) if "rbds" in p.stem]
    if not paths:
        pytest.skip("no real running recording with a reference")
    for path in paths:
        dst = tmp_path / path.name
        shutil.copyfile(path, dst)
        shutil.copyfile(path.with_suffix(".json"), dst.with_suffix(".json"))
        with h5py.File(dst, "r+") as f:
            for sid in f["sensors"]:
                g = f["sensors"][sid]
                t = g["t"][()]
                k = int(np.searchsorted(t, t[0] + 6.0))
                for name in ("t", "acc", "gyr", "seq"):
                    if name in g:
                        g[name].resize(k, axis=0)
        for s in rdc.check_recording(dst)["foot"]:
            assert s["found"] >= 6 and s["false"] == 0 and s["low_alignment"] == 0, s
            assert s["n_fsa"] >= 5 and s["fsa_mae_deg"] <= 3.0, s
            assert s["strike_agree"] >= 0.9, s
            assert s["stride_length_err_pct"] <= 3.0, s
