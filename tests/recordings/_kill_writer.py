"""Child process for the SIGKILL test: records simulated-looking data in real time forever.

Prints ``START <monotonic>`` once the file exists; sample times are seconds since that moment.
"""

import sys
import time

import numpy as np

from dsp.block import SampleBlock, SensorInfo
from recordings import RecordingWriter

path, rate = sys.argv[1], float(sys.argv[2])
sensors = [
    SensorInfo(s, s, "simulated", rate, 16.0, 2000.0) for s in ("left_foot", "right_foot", "pelvis")
]
rng = np.random.default_rng(0)
w = RecordingWriter(path, sensors, notes="kill test")
start = time.monotonic()
print(f"START {start!r}", flush=True)
n_done = 0
while True:
    now = time.monotonic() - start
    n_due = int(now * rate)
    if n_due > n_done:
        t = np.arange(n_done, n_due) / rate
        for s in sensors:
            w.append(
                SampleBlock(
                    s.sensor_id,
                    t,
                    rng.normal(size=(t.size, 3)),
                    rng.normal(size=(t.size, 3)),
                    seq=np.arange(n_done, n_due, dtype=np.uint32),
                )
            )
        n_done = n_due
    time.sleep(0.01)
