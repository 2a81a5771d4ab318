"""The pure alert engine (dsp.alerts) and the profile files (runform.profiles)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from dsp.alerts import AlertEngine, AlertError, alerts_for_rows, load_profile
from dsp.block import SensorInfo
from dsp.contact import ContactRow, strike_type_from_angle
from runform.profiles import BUILTIN_PROFILES, load_profile_file, resolve_profile

SENSORS = [
    SensorInfo("lf", "left_foot", "simulated", 400.0),
    SensorInfo("rf", "right_foot", "simulated", 400.0),
    SensorInfo("pel", "pelvis", "simulated", 400.0),
]


def foot_rows(n: int, angles, *, stride: float = 0.72, cadence: float = 166.0):
    """Alternating left/right foot rows; ``angles(i)`` gives the strike angle of contact i."""
    rows = []
    for i in range(n):
        side = "left" if i % 2 == 0 else "right"
        a = angles(i)
        rows.append(
            ContactRow(
                sensor_id="lf" if side == "left" else "rf",
                side=side,
                t_ic=10.0 + i * stride / 2,
                stride_time=stride,
                cadence=cadence,
                contact_time=0.25,
                foot_strike_angle=a,
                strike_type=strike_type_from_angle(a),
                max_pronation_velocity=400.0,
            )
        )
    return rows


def pelvis_rows(drops_left, drops_right, *, t0: float = 10.0, step: float = 0.36):
    rows = []
    for i, (dl, dr) in enumerate(zip(drops_left, drops_right, strict=True)):
        rows.append(ContactRow("pel", "left", t0 + 2 * i * step, pelvic_drop=dl, cadence=166.0))
        rows.append(ContactRow("pel", "right", t0 + (2 * i + 1) * step, pelvic_drop=dr))
    return rows


HEEL = {
    "rule": [
        {
            "name": "heel_strike",
            "metric": "rearfoot_share",
            "window": 20,
            "above": 50,
            "clear_below": 30,
            "unit": "%",
            "sound": "low",
        }
    ]
}


def test_heel_strike_share_raises_at_the_stride_that_crosses_the_limit():
    # midfoot for 30 contacts, then heel strike: the share of the last 20 passes 50 % when
    # 11 of the last 20 are rearfoot, i.e. at contact index 30 + 10 = 40.
    rows = foot_rows(80, lambda i: 2.0 if i < 30 else 15.0)
    alerts = alerts_for_rows(load_profile(HEEL), rows, sensors=SENSORS)
    assert len(alerts) == 1
    a = alerts[0]
    assert a.t == rows[40].t_ic
    assert a.rule == "heel_strike" and a.sound == "low" and a.level == "warning"
    assert a.value == pytest.approx(55.0)
    assert a.side is None


def test_hysteresis_no_flicker_around_the_limit():
    # share alternating just above / just below the on-limit: one alert, no re-raise, because
    # it only clears below 30 %.
    pattern = [15.0] * 11 + [2.0] * 9 + [15.0] * 9 + [2.0] * 11
    rows = foot_rows(200, lambda i: pattern[i % len(pattern)])
    engine = AlertEngine(load_profile(HEEL), sensors=SENSORS)
    raised = engine.feed(rows) + engine.finish()
    assert len(raised) == 1
    # without the band (clear at the on-limit) the same data flicker
    flicker = json.loads(json.dumps(HEEL))
    del flicker["rule"][0]["clear_below"]
    assert len(alerts_for_rows(load_profile(flicker), rows, sensors=SENSORS)) > 3


def test_min_strides_and_clear_strides():
    prof = load_profile(
        {
            "rule": [
                {
                    "name": "cad",
                    "metric": "cadence",
                    "below": 160,
                    "clear_above": 160,
                    "min_strides": 3,
                    "clear_strides": 2,
                }
            ]
        }
    )
    cad = [170, 150, 150, 170, 150, 150, 150, 150, 170, 150, 170, 170, 150, 150, 150]
    rows = [
        ContactRow("lf", "left", float(i), cadence=float(c), stride_time=0.7)
        for i, c in enumerate(cad)
    ]
    eng = AlertEngine(prof, sensors=SENSORS)
    raised = []
    cleared = []
    for r in rows:  # one row at a time, as in live mode
        raised += eng.feed([r])
        cleared += eng.cleared_
    assert [a.t for a in raised] == [6.0, 14.0]  # third low value in a row
    assert [c[0] for c in cleared] == [11.0]  # second high value in a row


def test_pelvic_drop_each_side_separately():
    prof = load_profile(
        {
            "rule": [
                {
                    "name": "drop",
                    "metric": "pelvic_drop",
                    "side": "each",
                    "window": 3,
                    "above": 7.0,
                    "clear_below": 5.5,
                    "unit": "deg",
                    "message": "drop on {side}: {value:.1f} {unit}",
                }
            ]
        }
    )
    rows = pelvis_rows([4, 4, 8, 8, 8, 8], [4, 4, 4, 4, 4, 4])
    alerts = alerts_for_rows(prof, rows, sensors=SENSORS)
    # medians of the last 3 left drops: 4, 8 (at the 4th left step, row 6)
    assert [(a.side, a.t) for a in alerts] == [("left", rows[6].t_ic)]
    assert alerts[0].message == "drop on left: 8.0 deg"
    # foot rows never feed a pelvis rule
    assert alerts_for_rows(prof, foot_rows(40, lambda i: 20.0), sensors=SENSORS) == []


def test_rows_in_bursts_give_the_same_alerts_as_rows_in_time_order():
    """The analysis releases each sensor's rows in bursts; alerts must not depend on it."""
    rows = foot_rows(120, lambda i: 2.0 if i < 50 else 15.0) + pelvis_rows(
        [4] * 30 + [9] * 30, [4] * 60
    )
    prof = resolve_profile("default")
    in_order = alerts_for_rows(prof, sorted(rows, key=lambda r: r.t_ic), sensors=SENSORS)
    assert {a.rule for a in in_order} == {"heel_strike", "pelvic_drop"}
    rng = random.Random(3)
    for _ in range(5):
        by_sensor = {sid: [r for r in rows if r.sensor_id == sid] for sid in ("lf", "rf", "pel")}
        eng = AlertEngine(prof, sensors=SENSORS)
        got = []
        while any(by_sensor.values()):
            sid = rng.choice([s for s, v in by_sensor.items() if v])
            k = rng.randint(1, 25)
            got += eng.feed(by_sensor[sid][:k])
            del by_sensor[sid][:k]
        got += eng.finish()
        key = [(a.t, a.rule, a.side) for a in in_order]
        assert sorted((a.t, a.rule, a.side) for a in got) == sorted(key)


def test_rejected_rows_and_empty_cells_are_skipped():
    prof = load_profile(
        {"rule": [{"name": "ct", "metric": "contact_time", "above": 300, "unit": "ms"}]}
    )
    rows = [
        ContactRow("lf", "left", 1.0, contact_time=0.4, flags=["rejected"]),
        ContactRow("lf", "left", 2.0, contact_time=None),
        ContactRow("lf", "left", 3.0, contact_time=0.31),
    ]
    alerts = alerts_for_rows(prof, rows, sensors=SENSORS)
    assert [a.t for a in alerts] == [3.0]
    assert alerts[0].value == pytest.approx(310.0)  # in the rule's unit


@pytest.mark.parametrize(
    ("rule", "field", "needle"),
    [
        ({"metric": "heel_angle", "above": 1}, "metric", "unknown metric 'heel_angle'"),
        ({"metric": "cadence", "above": "fast"}, "above", "not a number"),
        ({"metric": "cadence", "above": float("nan")}, "above", "finite"),
        ({"metric": "cadence"}, "above", "exactly one threshold"),
        ({"metric": "cadence", "above": 1, "below": 2}, "above", "exactly one threshold"),
        ({"metric": "cadence", "above": 180, "clear_below": 190}, "clear_below", "at or below"),
        ({"metric": "cadence", "below": 160, "clear_below": 150}, "clear_below", "clears with"),
        ({"metric": "contact_time", "above": 1, "unit": "furlong"}, "unit", "furlong"),
        ({"metric": "rearfoot_share", "above": 150, "window": 20}, "above", "0 to 100"),
        ({"metric": "rearfoot_share", "above": 50}, "window", "needs a window"),
        ({"metric": "cadence", "above": 1, "window": 0}, "window", ">= 1"),
        ({"metric": "cadence", "above": 1, "side": "middle"}, "side", "middle"),
        ({"metric": "cadence", "above": 1, "sound": "klaxon"}, "sound", "klaxon"),
        ({"metric": "cadence", "above": 1, "level": "panic"}, "level", "panic"),
        ({"metric": "cadence", "above": 1, "threshold": 3}, "threshold", "unknown field"),
        ({"metric": "cadence", "above": 1, "message": "{speed}"}, "message", "placeholder"),
    ],
)
def test_bad_rules_give_one_line_naming_rule_and_field(rule, field, needle):
    with pytest.raises(AlertError) as ei:
        load_profile({"rule": [{"name": "r1", **rule}]}, source="mine.toml")
    msg = str(ei.value)
    assert "\n" not in msg
    assert "mine.toml" in msg and "'r1'" in msg and f"'{field}'" in msg
    assert needle in msg


def test_duplicate_rule_names_rejected():
    r = {"name": "a", "metric": "cadence", "below": 150}
    with pytest.raises(AlertError, match="unique"):
        load_profile({"rule": [r, dict(r)]})


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_builtin_profiles_load(name):
    prof = resolve_profile(name)
    assert prof.rules
    metrics = {r.metric for r in prof.rules}
    assert {"rearfoot_share", "pelvic_drop", "cadence", "max_pronation_velocity"} <= metrics
    # every rule asks for a sound of its own
    assert len({r.sound for r in prof.rules}) == len(prof.rules)


def test_profile_files(tmp_path):
    good = tmp_path / "p.toml"
    good.write_text(
        'name = "mine"\n[[rule]]\nname = "slow"\nmetric = "cadence"\nbelow = 150\n',
        encoding="utf-8",
    )
    assert load_profile_file(good).rules[0].on == 150.0
    assert resolve_profile(str(good)).name == "mine"
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]\nname=", encoding="utf-8")
    with pytest.raises(AlertError, match="not valid TOML"):
        load_profile_file(bad)
    with pytest.raises(AlertError, match="no such file"):
        resolve_profile(str(tmp_path / "missing.toml"))
    with pytest.raises(AlertError, match="not a built-in profile"):
        resolve_profile("chirunnin")


EXAMPLE = Path(__file__).resolve().parents[2] / "recordings" / "examples" / "chirunning_example.h5"


@pytest.mark.skipif(not EXAMPLE.exists(), reason="example recording not generated")
def test_analyze_fills_summary_alerts(tmp_path, capsys):
    from runform.cli import main

    js = tmp_path / "s.json"
    assert main(["analyze", str(EXAMPLE), "--json", str(js), "--profile", "chirunning"]) == 0
    alerts = json.loads(js.read_text())["alerts"]
    rules = [a["rule"] for a in alerts]
    # the example: heel striking at 160 steps/min with a weak left hip, before the drill
    assert {"heel_strike", "low_cadence", "pelvic_drop"} <= set(rules)
    assert [a["t"] for a in alerts] == sorted(a["t"] for a in alerts)
    assert all(set(a) >= {"t", "rule", "message"} for a in alerts)
    assert next(a for a in alerts if a["rule"] == "pelvic_drop")["side"] == "left"
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "x"\nmetric = "cadence"\nabove = 1e999\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["analyze", str(EXAMPLE), "--json", str(js), "--profile", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rule 'x'" in err and "'above'" in err


def test_an_alert_never_prints_its_value_as_the_limit():
    # the message's own format rounded 154.8 steps/min to the limit: "Cadence 155, below 155"
    rules = {r.name: r for r in resolve_profile("default").rules}
    low, drop = rules["low_cadence"], rules["pelvic_drop"]
    assert low.format_message(154.8, None).startswith("Cadence 154.8 steps/min, below 155")
    assert low.format_message(150.2, None).startswith("Cadence 150 steps/min, below 155")
    assert "7.02 deg (limit 7 deg)" in drop.format_message(7.02, "left")
    assert "7.3 deg (limit 7 deg)" in drop.format_message(7.3, "left")
    # a hand-written message keeps its braces and other fields
    custom = load_profile(
        {
            "name": "t",
            "rule": [
                {"name": "c", "metric": "cadence", "window": 1, "below": 155.0,
                 "message": "{{cue}} {value:.0f} < {limit:.0f} over {window}"},
            ],
        }
    ).rules[0]  # fmt: skip
    assert custom.format_message(154.9, None) == "{cue} 154.9 < 155 over 1"


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ("{value.__class__.__mro__}", "placeholder {value.__class__.__mro__}: expected one of"),
        ("{value[0]}", "placeholder {value[0]}"),
        ("{value!r}", "placeholder {value!r}"),
        ("{value:>99999999}", "width and decimals at most 40"),
        ("{value:.{limit}f}", "placeholder {value:.{limit}f}"),
        ("{value", "bad placeholder"),
    ],
)
def test_a_message_shows_only_its_fields(message, said):
    """A profile is a file runners share: '{value.__class__.__mro__}' printed Python's
    internals in every alert, '{value:>99999999}' wrote 100 MB per alert into SUMMARY.json."""
    d = {
        "name": "x",
        "rule": [{"name": "a", "metric": "cadence", "above": 100.0, "message": message}],
    }
    with pytest.raises(AlertError, match=re.escape(said)):
        load_profile(d)
    d["rule"][0]["message"] = "Cadence {value:.0f} {unit}, {side} (limit {limit:>8.1f})"
    load_profile(d)
