"""runform.evaluation.score_pelvis_steps with reference bouts: reference steps outside them are
not counted (the reference is unchecked there and no row there counts either)."""

from __future__ import annotations

import pandas as pd

from runform.evaluation import score_pelvis_steps


def test_reference_steps_outside_the_bouts_are_not_counted() -> None:
    ref = [
        {"sensor_id": "pelvis", "side": "left" if k % 2 else "right", "t_ic": 1.0 + 0.5 * k}
        for k in range(10)
    ]  # 1.0 .. 5.5 s
    ref += [{"sensor_id": "pelvis", "side": "left", "t_ic": t} for t in (9.0, 11.2)]  # walking off
    rows = pd.DataFrame(
        {
            "sensor_id": ["pelvis"] * 11,
            "side": [r["side"] for r in ref[:10]] + ["left"],
            "t_ic": [r["t_ic"] + 0.02 for r in ref[:10]] + [11.2],
        }
    )
    sc = score_pelvis_steps(rows, ref, sensor_id="pelvis", bouts=[[1.0, 5.5]])
    assert (sc.n_ref, sc.found, sc.n_rows, sc.false) == (10, 10, 10, 0)
    assert sc.side_agree == 1.0
    # without bouts every step and row counts
    sc = score_pelvis_steps(rows, ref, sensor_id="pelvis")
    assert (sc.n_ref, sc.found, sc.n_rows) == (12, 11, 11)
