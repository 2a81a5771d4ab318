"""Real walking with shoe IMUs: a few trials of the Voisard et al. data set (Xsens MTw at 100 Hz
on both feet, healthy adults: stand, walk 10 m, U-turn, walk back, stop), converted by
``scripts/realdata_voisard.py`` and scored by ``scripts/real_data_check.py`` against the data
set's checked swing segmentation (issue 16, point 6: walking IC without outliers).

The data set is not part of the repository (AGPL-3.0 repository; never committed here): the
test reads the data set's ``GaitData`` folder from ``$RUNFORM_VOISARD_SRC`` or
``../extra_realdata/src/GaitData`` and is skipped when it is absent. The trials are of subjects
1-10 (the subjects the event rules were developed on; 11-19 were held out). Thresholds are
today's measured figures with a small margin.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from .script_module import load_script

ROOT = Path(__file__).resolve().parents[2]
SRC = Path(
    os.environ.get("RUNFORM_VOISARD_SRC", ROOT.parent / "extra_realdata" / "src" / "GaitData")
)
# 7-2: ~15 % of the packets lost in bursts; 1-1: short trial, U-turn, a noisy left sensor
TRIALS = ("1-1", "2-1", "4-5", "5-3", "7-2", "9-2", "10-5")

pytestmark = pytest.mark.skipif(
    not (SRC / "1-1_lf.txt").exists(), reason=f"no Voisard GaitData folder at {SRC}"
)


@pytest.fixture(scope="module")
def scores(tmp_path_factory):
    conv = load_script("realdata_voisard")
    rdc = load_script("real_data_check")
    out = tmp_path_factory.mktemp("voisard")
    res = {}
    for code in TRIALS:
        h5 = conv.convert_trial(SRC, code, out)
        res[code] = rdc.check_recording(h5)
    return res


def test_packet_losses_do_not_shift_the_time_base(scores):
    # timed by row, the contacts after the first packet losses of 7-2 drifted from their
    # reference by up to several hundred ms (found 12/19 on the left foot); then 17/19 and
    # 17/20 (contacts with a loss of 3+ packets between IC and foot-flat were not reported);
    # today 18/19 and 20/20 (such a contact is dropped only when its IC lies on the swing)
    for s in scores["7-2"]["foot"]:
        assert s["found"] >= s["n_ref"] - 1, s


def test_walking_contacts_found_and_ics_without_outliers(scores):
    feet = [s for r in scores.values() for s in r["foot"]]
    n_ref = sum(s["n_ref"] for s in feet)
    found = sum(s["found"] for s in feet)
    false = sum(s["false"] for s in feet)
    # today: found 231/239, 4 false; IC median per sensor 10.6 ms, largest error 78 ms (1-1
    # right, a gentle last step into standing whose impact stays below 1.5 g)
    # (before contacts with a loss between IC and foot-flat were kept: 227/239)
    # (session 7 before: 225/239, 7 false, 13.6 ms, largest 65 ms; the event rules before
    # that: found 192/240, 33 false, 20.0 ms (bias +17.5), largest 97 ms)
    assert found >= 0.955 * n_ref, (found, n_ref)
    assert false <= 0.025 * n_ref, (false, n_ref)
    med = np.median([s["ic_median_ms"] for s in feet])
    assert med <= 12.5, med
    assert max(s["ic_max_ms"] for s in feet) <= 85.0


def test_u_turn_does_not_lower_the_alignment(scores):
    # the U-turn's yaw is not counted against the medio-lateral axis (1-1 left: 0.40 before)
    for r in scores.values():
        for s in r["foot"]:
            assert s["low_alignment"] == 0, (r["recording"], s)
