"""runform batch on a real Dask LocalCluster: tables equal ``runform analyze`` of each file, a
corrupt file becomes one line of errors.csv, a re-run skips what is done (by content hash)."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pandas as pd
import pytest

from dsp.contact import STRIDE_COLUMNS
from firmware_bridge.simulator import simulate_session
from runform.analysis_run import TEXT_COLUMNS
from runform.batch import content_hash, expand_inputs, recording_id, run_batch
from runform.cli import main
from runform.errors import UsageError

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch_in")
    for i, sc in enumerate(("easy", "rearfoot", "forefoot")):
        simulate_session(sc, duration_s=22.0, seed=10 + i).write(d / f"run{i}.h5")
    (d / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n this is not really a recording")
    return d


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


TEXT = TEXT_COLUMNS  # the text columns of STRIDES.csv (one place: runform.analysis_run)


def _read_analyze_csv(path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={c: str for c in TEXT}, keep_default_na=False, na_values=[""])
    for c in TEXT:
        df[c] = df[c].fillna("")
    return df


def test_batch_matches_analyze_and_reruns_skip(inputs, client, tmp_path):
    out = tmp_path / "out"
    seen = []
    res = run_batch([str(inputs)], out, client=client, progress=lambda st: seen.append(st.finished))
    assert (res.total, res.analysed, res.failed, res.skipped) == (4, 3, 1, 0)
    assert seen == [1, 2, 3, 4]
    assert res.workers == 2

    # errors.csv: the corrupt file, with its one-line reason
    with open(out / "errors.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    assert rows[0]["recording"].endswith("broken.h5")
    assert "broken.h5" in rows[0]["error"] and "\n" not in rows[0]["error"]
    assert rows[0]["content_hash"] == content_hash(inputs / "broken.h5")

    strides = pd.read_parquet(out / "strides.parquet")
    recs = pd.read_parquet(out / "recordings.parquet")
    assert len(recs) == 3
    assert res.strides == len(strides)
    for f in sorted(inputs.glob("run*.h5")):
        rid = recording_id(content_hash(f))
        csv_path = tmp_path / f"{f.stem}.csv"
        assert main(["analyze", str(f), "--strides", str(csv_path)]) == 0
        want = _read_analyze_csv(csv_path)
        got = strides[strides["recording_id"] == rid].reset_index(drop=True)
        assert len(got) == len(want) > 20
        assert (got["recording"] == str(f)).all()
        assert got["notes"].iloc[0].startswith("simulated: scenario")
        assert "attr_created_utc" in got.columns
        for c in STRIDE_COLUMNS:
            if c in TEXT:
                assert (got[c].fillna("").astype(str) == want[c]).all(), c
            else:
                np.testing.assert_array_equal(got[c].to_numpy(float), want[c].to_numpy(float), c)
        row = recs[recs["recording_id"] == rid].iloc[0]
        assert row["contacts"] == len(want)
        left = want[want["sensor_id"] == "left_foot"]
        assert row["left_foot.contacts"] == len(left)
        assert row["left_foot.cadence_median"] == pytest.approx(left["cadence"].median(), abs=1e-3)

    # re-run: nothing analysed again, the broken file is retried and still fails
    again = run_batch([str(inputs / "*.h5")], out, client=client)
    assert (again.analysed, again.skipped, again.failed) == (0, 3, 1)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "strides.parquet"), strides)
    # a renamed copy has the same content: hashed on a worker, skipped too
    shutil.copy(inputs / "run0.h5", tmp_path / "copy.h5")
    third = run_batch([str(tmp_path / "copy.h5")], out, client=client)
    assert (third.analysed, third.skipped) == (0, 1)
    assert len(pd.read_parquet(out / "recordings.parquet")) == 3
    assert (out / "parts" / "paths.json").exists()
    # a file edited in place (new content) is analysed again
    edited = tmp_path / "edited.h5"
    shutil.copy(inputs / "run1.h5", edited)
    assert run_batch([str(edited)], out, client=client).skipped == 1
    simulate_session("midfoot", duration_s=21.0, seed=99).write(edited)
    fourth = run_batch([str(edited)], out, client=client)
    assert (fourth.analysed, fourth.skipped) == (1, 0)
    assert len(pd.read_parquet(out / "recordings.parquet")) == 4


def test_expand_inputs(inputs, tmp_path):
    files = expand_inputs([str(inputs), str(inputs / "run0.h5")])
    assert len(files) == 4  # folder + duplicate of a file in it
    assert expand_inputs([str(inputs / "run*.h5")]) == sorted(
        str(p) for p in inputs.glob("run*.h5")
    )
    with pytest.raises(UsageError, match="no such file"):
        expand_inputs([str(tmp_path / "missing.h5")])
    with pytest.raises(UsageError, match="matches no file"):
        expand_inputs([str(tmp_path / "*.h5")])


def test_analysis_warnings_name_their_recording(inputs, client, tmp_path, caplog):
    """A warning of one recording's analysis is said with the recording's path (printed by a
    worker it read 'sensor pelvis: no alignment (...)', of no file among the many)."""
    import logging

    short = tmp_path / "short.h5"
    simulate_session("easy", duration_s=3.0, seed=5).write(short)
    with caplog.at_level(logging.WARNING, logger="runform.batch"):
        res = run_batch([str(short), str(inputs / "run0.h5")], tmp_path / "out", client=client)
    assert (res.analysed, res.failed) == (2, 0)
    said = [r.getMessage() for r in caplog.records if r.name == "runform.batch"]
    assert said, "no warning of the short recording"
    assert all(m.startswith(f"{short}: sensor ") for m in said), said
    assert any("no alignment" in m for m in said), said


def test_a_bad_profile_is_one_line_before_any_recording(inputs, tmp_path, capsys):
    """``batch --profile nosuch``: one line and exit 2 before the cluster starts; it was the
    same profile error once per recording in errors.csv (exit 1)."""
    out = tmp_path / "out"
    code = main(["batch", str(inputs), "--out", str(out), "--profile", "nosuch", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and "profile nosuch" in err[0], err
    assert not out.exists()
    with pytest.raises(Exception, match="profile nosuch"):
        run_batch([str(inputs)], tmp_path / "out2", profile="nosuch")
    assert not (tmp_path / "out2").exists()


def test_two_copies_in_one_run_are_analysed_once(inputs, client, tmp_path):
    """A recording and its copy in one run (both under way at once): one analysed, the copy
    skipped as a re-run skips it. Both were counted ('2 analysed, 1206 strides') beside
    tables of 1 recording and 603 strides (parts are kept by content hash)."""
    copy = tmp_path / "copy_of_run0.h5"
    shutil.copy(inputs / "run0.h5", copy)
    out = tmp_path / "out"
    res = run_batch([str(inputs / "run0.h5"), str(copy)], out, client=client)
    assert (res.total, res.analysed, res.skipped, res.failed) == (2, 1, 1, 0)
    assert res.strides == len(pd.read_parquet(out / "strides.parquet")) > 20
    assert len(pd.read_parquet(out / "recordings.parquet")) == 1


def test_a_warning_that_names_its_file_is_not_prefixed_twice(client, tmp_path, caplog):
    """A damaged chunk of a recording: the reader's warning names the file, and batch said it
    with the file's path in front once more ('bad.h5: bad.h5: /sensors/left_foot/acc: ...')."""
    import logging

    import h5py

    rec = tmp_path / "bad.h5"
    simulate_session("easy", duration_s=30.0, seed=6, truth=False).write(rec)
    with h5py.File(rec, "r") as f:
        info = f["sensors/left_foot/acc"].id.get_chunk_info(0)
    data = bytearray(rec.read_bytes())
    for k in range(8):
        data[info.byte_offset + info.size // 3 + 7 * k] ^= 1 << k
    rec.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="runform.batch"):
        res = run_batch([str(rec)], tmp_path / "out", client=client)
    assert (res.analysed, res.failed) == (1, 0)
    said = [r.getMessage() for r in caplog.records if "/sensors/left_foot/acc" in r.getMessage()]
    assert said and all(m.count(str(rec)) == 1 for m in said), said
