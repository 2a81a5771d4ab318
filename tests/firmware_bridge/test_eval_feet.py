"""The simulator's foot evaluator: which rows count as false ones."""

from __future__ import annotations

from dsp.contact import ContactRow
from firmware_bridge.simulator.eval_feet import evaluate

TRUTH = {
    "duration_s": 10.0,
    "sensors": {"left_foot": {"gaps": []}},
    "contacts": [
        {"sensor_id": "left_foot", "t_ic": 7.9, "t_to": 8.15},
        {"sensor_id": "left_foot", "t_ic": 8.9, "t_to": 9.15},
    ],
}


def _row(t_ic: float, t_to: float | None) -> ContactRow:
    return ContactRow(sensor_id="left_foot", side="left", t_ic=t_ic, t_to=t_to)


def test_a_landing_cut_by_the_end_of_the_data_is_not_false() -> None:
    # the truth lists no contact whose toe-off falls after the end of the data
    rows = [_row(7.9, 8.15), _row(8.9, 9.15), _row(9.9, None)]
    e = evaluate(rows, TRUTH, "left_foot")
    assert e["false"] == 0 and e["found"] == 2


def test_a_row_without_truth_is_false_elsewhere() -> None:
    rows = [_row(7.9, 8.15), _row(8.4, None), _row(8.9, 9.15), _row(9.9, 10.05)]
    e = evaluate(rows, TRUTH, "left_foot")
    assert e["false"] == 2 and e["found"] == 2


def test_a_stopped_walks_last_contact_without_toe_off_is_expected() -> None:
    # a stopped walk (Scenario.walk_stop_s): the foot stays down, the truth has no toe-off;
    # its contact is expected when the data go on for a second after it
    truth = dict(
        TRUTH,
        contacts=[
            {"sensor_id": "left_foot", "t_ic": 6.9, "t_to": 7.15},
            {"sensor_id": "left_foot", "t_ic": 7.9, "t_to": None},
        ],
    )
    e = evaluate([_row(6.9, 7.15), _row(7.91, None)], truth, "left_foot")
    assert e["expected"] == 2 and e["found"] == 2 and e["false"] == 0
    e = evaluate([_row(6.9, 7.15)], truth, "left_foot")
    assert e["expected"] == 2 and e["found"] == 1
