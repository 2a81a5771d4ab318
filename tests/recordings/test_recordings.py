"""Recording format v1: round trip, validation of bad files, chunked reading, SIGKILL survival."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from dsp.block import SampleBlock, SensorInfo
from recordings import RecordingError, RecordingWriter, open_recording

HERE = Path(__file__).parent


def _sensors(rate: float = 200.0) -> list[SensorInfo]:
    return [
        SensorInfo("left_foot", "left_foot", "simulated", rate, 16.0, 2000.0, "1.2.3"),
        SensorInfo("pelvis", "pelvis", "simulated", rate / 2),
    ]


def _write(path: Path, seconds: float = 20.0, rate: float = 200.0) -> dict[str, SampleBlock]:
    rng = np.random.default_rng(1)
    full: dict[str, list[SampleBlock]] = {"left_foot": [], "pelvis": []}
    with RecordingWriter(path, _sensors(rate), notes="ChiRunning drills, week 2") as w:
        for sid, r in (("left_foot", rate), ("pelvis", rate / 2)):
            n = int(seconds * r)
            t = np.arange(n) / r + 0.5
            acc = rng.normal(size=(n, 3)).astype(np.float32)
            gyr = rng.normal(size=(n, 3)).astype(np.float32) * 100
            seq = np.arange(n, dtype=np.uint32)
            keep = np.ones(n, bool)
            if sid == "left_foot":
                keep[1000:1010] = False  # ten lost samples
            for k in range(0, n, 97):
                sl = slice(k, k + 97)
                b = SampleBlock(
                    sid,
                    t[sl][keep[sl]],
                    acc[sl][keep[sl]],
                    gyr[sl][keep[sl]],
                    seq=seq[sl][keep[sl]],
                )
                w.append(b)
                full[sid].append(b)
        w.add_gap("left_foot", 1000 / rate + 0.5, 1010 / rate + 0.5)
        w.add_marker(5.0, "started midfoot drill", "user")
        w.add_marker(2.0, "heel_strike", "alert")
        w.append_stream(
            "footpod",
            np.arange(10.0),
            {"speed_mps": np.full(10, 3.2)},
            device_model="stryd",
            placement="right_foot",
        )
    return {k: SampleBlock.concatenate(v) for k, v in full.items()}


def test_round_trip_exact(tmp_path: Path) -> None:
    path = tmp_path / "rec.h5"
    full = _write(path)
    with open_recording(path) as rec:
        assert [s.sensor_id for s in rec.sensors] == ["left_foot", "pelvis"]
        lf = rec.sensor("left_foot")
        assert (lf.placement, lf.device_model, lf.sample_rate_hz) == (
            "left_foot",
            "simulated",
            200.0,
        )
        assert (lf.acc_range_g, lf.gyr_range_dps, lf.firmware) == (16.0, 2000.0, "1.2.3")
        assert rec.notes == "ChiRunning drills, week 2"
        for sid, ref in full.items():
            got = rec.read(sid)
            np.testing.assert_array_equal(got.t, ref.t)
            np.testing.assert_array_equal(got.acc, ref.acc.astype(np.float32))
            np.testing.assert_array_equal(got.gyr, ref.gyr.astype(np.float32))
            np.testing.assert_array_equal(got.seq, ref.seq)
        assert rec.lost_samples("left_foot") == 10
        assert rec.lost_samples("pelvis") == 0
        np.testing.assert_allclose(rec.gaps("left_foot"), [[5.5, 5.55]])
        assert rec.markers == [
            (2.0, "heel_strike", "alert"),
            (5.0, "started midfoot drill", "user"),
        ]
        (stream,) = rec.streams()
        assert stream.stream_id == "footpod" and stream.device_model == "stryd"
        np.testing.assert_array_equal(stream.values["speed_mps"], np.full(10, 3.2))
        assert rec.duration_s == pytest.approx(full["left_foot"].t[-1] - 0.5)


def test_layout_matches_spec(tmp_path: Path) -> None:
    """Plain h5py sees exactly the v1 layout: attribute types, dtypes, chunking, compression."""
    path = tmp_path / "rec.h5"
    _write(path)
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "runform-recording"
        assert int(f.attrs["format_version"]) == 1
        assert isinstance(f.attrs["created_utc"], str) and f.attrs["created_utc"].endswith("Z")
        assert f.attrs["software"].startswith("runform")
        g = f["sensors/left_foot"]
        assert g.attrs["placement"] == "left_foot" and isinstance(g.attrs["placement"], str)
        assert g["t"].dtype == np.float64 and g["t"].ndim == 1
        assert g["acc"].dtype == np.float32 and g["acc"].shape[1] == 3
        assert g["gyr"].dtype == np.float32 and g["seq"].dtype == np.uint32
        assert g["gaps"].dtype == np.float64 and g["gaps"].shape[1] == 2
        for name in ("t", "acc", "gyr", "seq"):
            assert g[name].chunks is not None and g[name].maxshape[0] is None
            assert g[name].compression in ("gzip", "lzf")
        assert h5py.check_string_dtype(f["markers/label"].dtype).encoding == "utf-8"
        assert f["markers/kind"].asstr()[0] in ("user", "alert", "note")
        assert f["streams/footpod"].attrs["device_model"] == "stryd"


def test_iter_blocks_is_chunked_and_complete(tmp_path: Path) -> None:
    path = tmp_path / "rec.h5"
    full = _write(path, seconds=30)
    with open_recording(path) as rec:
        blocks = list(rec.iter_blocks(chunk_s=4.0))
        # time order by window: each block starts no earlier than any earlier block's window
        for sid, ref in full.items():
            got = [b for b in blocks if b.sensor_id == sid]
            assert max(len(b) for b in got) <= 4.0 * rec.sensor(sid).sample_rate_hz + 1
            np.testing.assert_array_equal(np.concatenate([b.t for b in got]), ref.t)
        gap_blocks = [b for b in blocks if len(b.gaps)]
        assert len(gap_blocks) == 1 and gap_blocks[0].sensor_id == "left_foot"
        part = rec.read("pelvis", 10.0, 12.0)
        assert part.t[0] >= 10.0 and part.t[-1] < 12.0 and len(part) == 200


def test_metadata_cache_is_bounded(tmp_path: Path) -> None:
    """HDF5 would keep every chunk-index node read (up to 32 MB): memory would grow with the
    length of the recording during a pass (about 1 MB per hour of data)."""
    from recordings.reader import CHUNK_CACHE_BYTES, METADATA_CACHE_BYTES

    path = tmp_path / "rec.h5"
    _write(path, seconds=30)
    with open_recording(path) as rec:
        assert rec._file.id.get_mdc_config().max_size == METADATA_CACHE_BYTES
        for _ in rec.iter_blocks(chunk_s=1.0):
            pass
        assert rec._file.id.get_mdc_size()[2] <= METADATA_CACHE_BYTES
        # the datasets stay open between reads: their chunk caches are small
        for ds in rec._sensor_datasets("left_foot").values():
            assert ds.id.get_access_plist().get_chunk_cache()[1] == CHUNK_CACHE_BYTES


def test_reopen_reuses_the_validation_of_an_unchanged_file(tmp_path: Path) -> None:
    """A parallel analysis opens a file in each process: the validation's findings are reused
    while the file is unchanged, and a changed file is validated again."""
    path = tmp_path / "rec.h5"
    _write(path, seconds=10)
    with open_recording(path) as rec:
        layout = rec.validated()
        blocks = list(rec.iter_blocks(chunk_s=3.0))
    with open_recording(path, validated=layout) as again:
        assert again.sensors == list(layout.sensors)
        assert [s.sensor_id for s in again.sensors] == ["left_foot", "pelvis"]
        again_blocks = list(again.iter_blocks(chunk_s=3.0))
        assert again.duration_s == rec.duration_s
    assert len(again_blocks) == len(blocks)
    for a, b in zip(blocks, again_blocks, strict=True):
        assert a.sensor_id == b.sensor_id
        assert np.array_equal(a.t, b.t) and np.array_equal(a.acc, b.acc)
    # the file changes after the validation (a time going backwards): validated again
    with h5py.File(path, "r+") as f:
        f["sensors/pelvis/t"][5] = 0.0
    with pytest.raises(RecordingError, match="not strictly increasing"):
        open_recording(path, validated=layout)


def test_index_near_equals_the_full_search(tmp_path: Path) -> None:
    """The windowed reading guesses each window's end from the nominal rate; wherever the guess
    misses (the lost samples, a sensor starting late), it must still give the exact index."""
    path = tmp_path / "rec.h5"
    _write(path, seconds=30)
    rng = np.random.default_rng(3)
    with open_recording(path) as rec:
        for sid in rec.sensor_ids:
            t_all = rec.read(sid).t
            for _ in range(300):
                lo = int(rng.integers(0, len(t_all)))
                t = float(t_all[lo] + rng.uniform(0.0, 12.0))
                t_lo = float(t_all[lo - 1]) if lo else float(rng.uniform(0.0, t_all[0]))
                assert rec._index_near(sid, t, lo, t_lo) == rec._index_of(sid, t)
        for chunk_s in (0.7, 4.0, 60.0):
            blocks = [b for b in rec.iter_blocks(chunk_s=chunk_s) if b.sensor_id == "left_foot"]
            ends = np.cumsum([len(b) for b in blocks])
            t_all = rec.read("left_foot").t
            w_end = rec.t_start + chunk_s * (np.arange(len(blocks)) + 1)
            for e, w in zip(ends[:-1], w_end[:-1], strict=True):
                assert e == int(np.searchsorted(t_all, w))


def _make_bad(path: Path, how: str) -> None:
    _write(path, seconds=5)
    with h5py.File(path, "r+") as f:
        g = f["sensors/left_foot"]
        if how == "missing_acc":
            del g["acc"]
        elif how == "wrong_shape":
            del g["gyr"]
            g.create_dataset("gyr", data=np.zeros((g["t"].shape[0], 4), np.float32))
        elif how == "non_increasing":
            t = g["t"][()]
            t[100] = t[99]
            g["t"][...] = t
        elif how == "nan_time":
            t = g["t"][()]
            t[50] = np.nan
            g["t"][...] = t
        elif how == "nan_acc":
            a = g["acc"][()]
            a[70, 1] = np.nan
            g["acc"][...] = a
        elif how == "newer_version":
            f.attrs["format_version"] = 2
        elif how == "bad_placement":
            g.attrs["placement"] = "wrist"
        elif how == "no_rate":
            del g.attrs["sample_rate_hz"]
    if how == "empty":  # was "not an HDF5 file (expected a runform recording .h5)"
        path.write_bytes(b"")
    if how == "truncated":  # an interrupted copy: was "HDF5 cannot open the file (Unable to
        # synchronously open file (truncated file: eof = 1000, sblock->base_addr = 0, ...))"
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("how", "expect"),
    [
        ("missing_acc", "/sensors/left_foot/acc: dataset is missing"),
        ("wrong_shape", "/sensors/left_foot/gyr: shape"),
        ("non_increasing", "/sensors/left_foot/t: not strictly increasing at sample 100"),
        ("nan_time", "/sensors/left_foot/t: NaN or infinite time at sample 50"),
        ("newer_version", "format_version 2 is newer"),
        ("bad_placement", "placement"),
        ("no_rate", "sample_rate_hz"),
        ("truncated", "the file is cut short ("),
        ("empty", "the file is empty (0 bytes"),
    ],
)
def test_bad_files_give_one_clear_line(tmp_path: Path, how: str, expect: str) -> None:
    path = tmp_path / f"{how}.h5"
    _make_bad(path, how)
    with pytest.raises(RecordingError) as err:
        open_recording(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and expect in msg


def test_nan_samples_reported_when_read(tmp_path: Path) -> None:
    path = tmp_path / "nan.h5"
    _make_bad(path, "nan_acc")
    with open_recording(path) as rec, pytest.raises(RecordingError, match=r"acc: NaN .* sample 70"):
        list(rec.iter_blocks(2.0))


def test_foreign_and_missing_files(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("x", data=[1, 2, 3])
    with pytest.raises(RecordingError, match="not a runform recording"):
        open_recording(foreign)
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    with pytest.raises(RecordingError, match="not an HDF5 file"):
        open_recording(text)
    with pytest.raises(RecordingError, match="no such file"):
        open_recording(tmp_path / "absent.h5")


def test_writer_rejects_bad_blocks(tmp_path: Path) -> None:
    with RecordingWriter(tmp_path / "w.h5", _sensors()) as w:
        w.append(SampleBlock("left_foot", np.array([0.0, 0.1]), np.zeros((2, 3)), np.zeros((2, 3))))
        with pytest.raises(RecordingError, match="not strictly increasing"):
            w.append(SampleBlock("left_foot", np.array([0.1]), np.zeros((1, 3)), np.zeros((1, 3))))
        with pytest.raises(RecordingError, match="unknown sensor 'wrist'"):
            w.append(SampleBlock("wrist", np.array([1.0]), np.zeros((1, 3)), np.zeros((1, 3))))
        with pytest.raises(RecordingError, match="NaN"):
            w.append(
                SampleBlock("pelvis", np.array([1.0]), np.full((1, 3), np.nan), np.zeros((1, 3)))
            )
    # what was appended before the errors is still there
    with open_recording(tmp_path / "w.h5") as rec:
        assert rec.n_samples("left_foot") == 2


def test_flush_thread_writes_without_new_data(tmp_path: Path) -> None:
    path = tmp_path / "idle.h5"
    w = RecordingWriter(path, _sensors(), flush_interval_s=0.2)
    try:
        w.append(SampleBlock("pelvis", np.array([0.0, 0.01]), np.zeros((2, 3)), np.zeros((2, 3))))
        time.sleep(0.8)
        with h5py.File(path, "r") as f:  # a second reader while the writer is open
            assert f["sensors/pelvis/t"].shape == (2,)
    finally:
        w.close()


def _kill_once(path: Path, rate: float, after_s: float) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(HERE.parents[1]))
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_kill_writer.py"), str(path), str(rate)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("START"), line
        start = float(line.split()[1])
        time.sleep(after_s)
        killed_at = time.monotonic() - start
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with h5py.File(path, "r") as f:  # plain open, no SWMR, no repair
        lasts = []
        for sid in ("left_foot", "right_foot", "pelvis"):
            t = f[f"sensors/{sid}/t"][()]
            n = min(t.shape[0], f[f"sensors/{sid}/acc"].shape[0], f[f"sensors/{sid}/gyr"].shape[0])
            t = t[:n][np.isfinite(t[:n])]
            expected = np.arange(t.size) / rate
            np.testing.assert_allclose(t, expected)  # every sample up to the last flush
            lasts.append(t[-1] if t.size else -1.0)
    return killed_at, min(lasts)


@pytest.mark.parametrize("round_", range(6))
def test_sigkill_loses_at_most_one_second(tmp_path: Path, round_: int) -> None:
    rng = np.random.default_rng(round_)
    killed_at, last = _kill_once(
        tmp_path / "k.h5", rate=833.0, after_s=float(rng.uniform(1.2, 2.5))
    )
    assert last >= killed_at - 1.0, (killed_at, last)
    with open_recording(tmp_path / "k.h5") as rec:  # and runform reads it too
        assert rec.n_samples("pelvis") >= int((killed_at - 1.0) * 833)


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(60))
def test_sigkill_many(tmp_path: Path, round_: int) -> None:
    rng = np.random.default_rng(1000 + round_)
    killed_at, last = _kill_once(
        tmp_path / "k.h5", rate=1666.0, after_s=float(rng.uniform(1.05, 4.0))
    )
    assert last >= killed_at - 1.0, (killed_at, last)


def test_a_file_that_cannot_be_read_gives_the_reason_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # before: "cannot read the file ([Errno 13] Unable to determine if file is accessible as
    # hdf5 (unable to open file: name = '...', errno = 13, error message = 'Permission
    # denied', flags = 0, o_flags = 0))" (h5py's words, as a user without read permission
    # gets them; root reads any file, so h5py's refusal is made here)
    import recordings.reader as reader

    path = tmp_path / "locked.h5"
    _write(path, seconds=1)

    def refuse(name: object) -> bool:
        raise OSError(
            13,
            "Unable to determine if file is accessible as hdf5 (unable to open file: name = "
            f"'{name}', errno = 13, error message = 'Permission denied', flags = 0, o_flags = 0)",
        )

    monkeypatch.setattr(reader.h5py, "is_hdf5", refuse)
    with pytest.raises(RecordingError) as err:
        open_recording(path)
    assert str(err.value) == f"{path}: cannot read the file (Permission denied)"


@pytest.mark.skipif(
    os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() == "FALSE", reason="HDF5 locking off"
)
def test_a_file_being_written_says_so(tmp_path: Path) -> None:
    """A recording still open for writing (``runform live`` or ``record`` running): it read
    'HDF5 cannot open the file ([Errno 11] Unable to synchronously open file (unable to lock
    file, errno = 11, ...))'."""
    path = tmp_path / "busy.h5"
    _write(path, seconds=2)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, h5py; f = h5py.File(sys.argv[1], 'a'); print('open', flush=True); "
         "sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(RecordingError) as err:
            open_recording(path)
    finally:
        holder.communicate("", timeout=30)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    assert "open for writing by another program (a recording still running?)" in msg, msg
    with open_recording(path) as rec:  # closed: readable again
        assert rec.n_samples("left_foot") > 0
