"""Real lower-back walks scored for the pelvis sensor alone, pooled over a folder (issue 17).

``scripts/real_data_check.py`` analyses every sensor of a recording together, so where foot
sensors are present the walking pelvis rows take their side and contact from the feet
(``docs/dsp_pelvis.md``, *With feet*). This script analyses the ``pelvis`` sensor of each
recording alone (:class:`dsp.pelvis_analyzer.PelvisAnalyzer`) and scores its rows against the
reference ``pelvis_steps`` as ``real_data_check.py`` does
(:func:`runform.evaluation.score_pelvis_steps`: one to one within 0.25 s, rows inside the
reference bouts), then pools: steps found, false rows, precision, side (over the found steps),
and the median over recordings of the IC median error.

    .venv/bin/python scripts/walk_pelvis_check.py [FOLDER]   # default: /work/shared/realdata
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runform.evaluation import analyse_pelvis_alone, score_pelvis_steps  # noqa: E402  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default="/work/shared/realdata")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per recording")
    args = ap.parse_args()
    n_ref = found = false = 0
    side_ok = 0.0
    ics: list[float] = []
    n_rec = 0
    for h5 in sorted(Path(args.folder).glob("*.h5")):
        ref_path = h5.with_suffix(".json")
        if not ref_path.exists():
            continue
        ref = json.loads(ref_path.read_text())
        steps = [s for s in ref.get("pelvis_steps") or [] if s["sensor_id"] == "pelvis"]
        if not steps:
            continue
        _, _, rows = analyse_pelvis_alone(h5)
        df = pd.DataFrame(
            {
                "sensor_id": pd.Series([r.sensor_id for r in rows], dtype=object),
                "t_ic": pd.Series([r.t_ic for r in rows], dtype=float),
                "side": pd.Series([r.side for r in rows], dtype=object),
            }
        )
        sc = score_pelvis_steps(df, steps, sensor_id="pelvis", bouts=ref.get("bouts"))
        n_rec += 1
        n_ref += sc.n_ref
        found += sc.found
        false += sc.false
        if sc.found:
            side_ok += sc.side_agree * sc.found
            ics.append(sc.ic_median_ms)
        if args.verbose:
            print(
                f"{h5.stem}: found {sc.found}/{sc.n_ref}, false {sc.false}, "
                f"side {sc.side_agree:.1%}, IC {sc.ic_median_ms:.1f} ms"
            )
    if not n_rec:
        print(f"no recordings with pelvis reference steps in {args.folder}")
        return
    print(
        f"{n_rec} recordings, pelvis alone: found {found}/{n_ref} ({found / n_ref:.1%}), "
        f"false {false} (precision {found / max(1, found + false):.1%}), "
        f"side {side_ok / max(1, found):.1%}, IC median per recording {np.median(ics):.1f} ms"
    )


if __name__ == "__main__":
    main()
