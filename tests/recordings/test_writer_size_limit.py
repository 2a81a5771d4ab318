"""A write refused in the writer's background flush is not lost on the caller: ``close``
raises it (before, a non-live writer that failed after its last append closed quietly, and
``runform simulate`` reported a file of 0 samples as written)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import h5py

SCRIPT = textwrap.dedent(
    """
    import resource, signal, sys, time
    import numpy as np
    from dsp.block import SampleBlock, SensorInfo
    from recordings.errors import RecordingWriteError
    from recordings.writer import RecordingWriter

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
    info = SensorInfo("left_foot", "left_foot", "test", 400.0)
    w = RecordingWriter(sys.argv[1], [info], live=False, flush_interval_s=0.05)
    n = 20_000  # 0.7 MB uncompressed: no flush of it fits under the limit
    t = np.arange(n) / 400.0
    w.append(SampleBlock("left_foot", t, np.ones((n, 3)), np.zeros((n, 3))))
    time.sleep(0.5)  # the background flush tries, and is refused
    try:
        w.close()
    except RecordingWriteError as exc:
        print("raised:", exc.reason)
    else:
        print("closed quietly")
    """
)


def test_close_raises_what_the_background_flush_could_not_write(tmp_path: Path) -> None:
    out = tmp_path / "r.h5"
    r = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "raised: file size limit reached", r.stdout + r.stderr
    with h5py.File(out, "r") as f:  # closed cleanly: valid, with what was flushed (nothing)
        assert f["sensors/left_foot/t"].shape[0] == 0
