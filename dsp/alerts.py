"""Alert rules over finished contacts: a pure, deterministic rule engine.

A *profile* is a list of rules; each rule watches one stride metric (a STRIDES.csv column such as
``cadence`` or ``pelvic_drop``, or a derived one such as ``rearfoot_share``, the share of
rearfoot strikes over the last ``window`` strides) and raises an :class:`Alert` when the metric
crosses its limit. Hysteresis keeps alerts from flickering: a rule goes *on* only after
``min_strides`` consecutive evaluations beyond the ``above``/``below`` limit, and *off* only after
``clear_strides`` consecutive evaluations back past the ``clear_below``/``clear_above`` limit
(which lies on the safe side of the on-limit).

The engine is fed the rows the streaming analysis releases (:class:`dsp.contact.ContactRow`),
so the live viewer, replay and ``runform analyze`` (SUMMARY.json ``alerts``) share it::

    profile = load_profile(profile_dict, source="default.toml")
    engine = AlertEngine(profile, sensors=session_sensors)
    for block in blocks:
        for alert in engine.feed(session.feed(block)):
            ...                       # alert.t is the initial contact that raised it

Reading TOML files is not done here (``dsp`` does no I/O): ``runform.profiles`` parses the file
and hands the dict to :func:`load_profile`.

Profile dict layout (one table per rule, in an array called ``rule``)::

    name = "default"                      # optional
    description = "..."                   # optional
    [[rule]]
    name = "heel_strike"                  # [a-z0-9_]+, unique
    metric = "rearfoot_share"             # see METRICS
    above = 50.0                          # or below = ...; in `unit`
    unit = "%"                            # optional; the metric's unit by default
    clear_below = 40.0                    # optional hysteresis band (default: the on-limit)
    window = 20                           # strides the metric is aggregated over (default 1)
    statistic = "median"                  # median | mean | max | min (window > 1; not shares)
    side = "all"                          # all | left | right | each
    activity = "run"                      # run | walk | any: strides of that activity only
    min_strides = 1                       # consecutive evaluations beyond the limit to raise
    clear_strides = 3                     # consecutive evaluations past the clear limit to clear
    level = "warning"                     # info | warning | critical
    sound = "low"                         # a tone name (see TONES), or "none"
    message = "Heel strike on {value:.0f}% of the last {window} strides"
"""

from __future__ import annotations

import heapq
import math
import re
import string
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dsp.block import SensorInfo
from dsp.contact import CONTACT_KEYS, ContactRow
from dsp.errors import AnalysisError
from dsp.metrics import METRIC_LIST, Metric

__all__ = [
    "LEVELS",
    "METRICS",
    "PELVIS_EARLY_KEYS",
    "RULE_ACTIVITIES",
    "SIDES",
    "STRIDE_EARLY_KEYS",
    "TONES",
    "Alert",
    "AlertEngine",
    "AlertError",
    "MetricSpec",
    "Profile",
    "Rule",
    "alerts_for_rows",
    "load_profile",
]


#: The metrics the pelvis analyzer's early rows carry (``dsp.pelvis_analyzer.EARLY_KEYS``):
#: released once the stance has ended and its side is known, the row carrying the same value.
PELVIS_EARLY_KEYS = ("pelvic_drop",)
#: Metrics of the foot sensors' stride early rows (released when the next contact is detected)
STRIDE_EARLY_KEYS = ("stride_time", "cadence")


class AlertError(AnalysisError):
    """A profile cannot be used; the message names the profile, the rule and the field."""


@dataclass(frozen=True)
class MetricSpec:
    """A metric a rule can watch.

    Attributes
    ----------
    unit : str
        Canonical unit of the metric (the STRIDES.csv unit).
    source : str
        ``feet``, ``pelvis`` or ``auto`` (feet if the session has a foot sensor, else pelvis):
        which sensors' rows carry the metric.
    share_of : str or None
        For a share metric, the ``strike_type`` it counts; ``None`` for a column.
    units : dict
        Accepted units and the factor that converts a value in that unit to the canonical one.
    """

    unit: str
    source: str
    share_of: str | None = None
    units: Mapping[str, float] = field(default_factory=dict)

    def factor(self, unit: str) -> float | None:
        if unit == self.unit:
            return 1.0
        return self.units.get(unit)


_SHARE_UNITS = {"fraction": 100.0}

#: Other units a rule's thresholds may be written in: unit -> factor to the metric's own unit.
_RULE_UNITS: dict[str, dict[str, float]] = {
    "s": {"ms": 1e-3},
    "steps/min": {"spm": 1.0},
    "m": {"cm": 1e-2},
    "m/s": {"km/h": 1 / 3.6},
    "cm": {"mm": 0.1},
}


def _spec(m: Metric) -> MetricSpec:
    source = "auto" if m.feet and m.pelvis else ("feet" if m.feet else "pelvis")
    return MetricSpec(m.unit, source, units=_RULE_UNITS.get(m.unit, {}))


#: Metrics a rule may watch: the STRIDES.csv columns of :mod:`dsp.metrics` (unit, which
#: sensors carry them) and derived strike-type shares.
METRICS: dict[str, MetricSpec] = {
    **{m.column: _spec(m) for m in METRIC_LIST if m.column not in ("t_ic", "t_to")},
    "rearfoot_share": MetricSpec("%", "feet", share_of="rearfoot", units=_SHARE_UNITS),
    "midfoot_share": MetricSpec("%", "feet", share_of="midfoot", units=_SHARE_UNITS),
    "forefoot_share": MetricSpec("%", "feet", share_of="forefoot", units=_SHARE_UNITS),
}

#: Activities a rule applies to (the ``activity`` column of the rows; ``any`` = every row).
#: A row without an activity (an older stride table) counts as running.
RULE_ACTIVITIES = ("run", "walk", "any")
#: Side selectors: pool both sides, one side only, or each side on its own.
SIDES = ("all", "left", "right", "each")
#: Alert levels, mildest first.
LEVELS = ("info", "warning", "critical")
#: Tone names a rule may ask for (the viewer maps them to distinct short sounds).
TONES = ("beep", "low", "high", "double", "rising", "falling", "chirp", "none")
_STATISTICS = ("median", "mean", "max", "min")
_NAME = re.compile(r"^[a-z0-9_]{1,40}$")
_RULE_KEYS = {
    "name",
    "metric",
    "above",
    "below",
    "clear_above",
    "clear_below",
    "unit",
    "window",
    "statistic",
    "side",
    "activity",
    "min_strides",
    "clear_strides",
    "level",
    "sound",
    "message",
}
_PROFILE_KEYS = {"name", "description", "rule"}


@dataclass(frozen=True)
class Rule:
    """One validated alert rule; thresholds are in the metric's canonical unit.

    Attributes
    ----------
    name, metric : str
    direction : str
        ``above`` (alert when the value exceeds ``on``) or ``below``.
    on, off : float
        On-limit and clear limit in the metric's canonical unit (``off`` on the safe side).
    unit : str
        Unit the rule was written in (used for messages).
    factor : float
        Canonical value = value in ``unit`` x ``factor``.
    window : int
        Strides aggregated per evaluation.
    statistic : str
    side : str
    activity : str
        ``run``, ``walk`` or ``any``: the strides (by their ``activity``) the rule watches.
    min_strides, clear_strides : int
    level, sound, message : str
    """

    name: str
    metric: str
    direction: str
    on: float
    off: float
    unit: str
    factor: float
    window: int = 1
    statistic: str = "median"
    side: str = "all"
    activity: str = "run"
    min_strides: int = 1
    clear_strides: int = 1
    level: str = "warning"
    sound: str = "beep"
    message: str = ""

    def in_unit(self, canonical: float) -> float:
        """A canonical value expressed in the rule's unit."""
        return canonical / self.factor

    def format_message(self, value: float, side: str | None) -> str:
        """The alert text, with ``{value}``, ``{limit}``, ``{window}``, ``{side}``, ``{unit}``."""
        shown, limit = self.in_unit(value), self.in_unit(self.on)
        fields_ = {
            "value": shown,
            "limit": limit,
            "window": self.window,
            "side": side or "both",
            "unit": self.unit,
            "metric": self.metric,
            "rule": self.name,
        }
        if self.message:
            try:
                return _distinct_value(self.message, shown, limit).format(**fields_)
            except (KeyError, IndexError, ValueError):
                pass  # validated at load time; keep going with the generic text
        where = f" ({side})" if side else ""
        op = ">" if self.direction == "above" else "<"
        return (
            f"{self.metric}{where} {fields_['value']:.3g} {self.unit} {op} "
            f"{fields_['limit']:.3g} {self.unit}"
        )


def _distinct_value(message: str, value: float, limit: float) -> str:
    """``message`` with more decimals for ``{value}`` where its own would print it as the
    limit: a cadence of 154.8 against 155 read "Cadence 155 steps/min, below 155"."""
    parts = list(string.Formatter().parse(message))
    spec_of = {name: spec for _, name, spec, _ in parts if name in ("value", "limit")}
    spec_v, spec_l = spec_of.get("value"), spec_of.get("limit")
    m = re.fullmatch(r"(.*\.)(\d+)f", spec_v or "")
    if m is None or spec_l is None or value == limit:
        return message

    def same(digits: int) -> bool:
        shown = float(format(value, f"{m[1]}{digits}f"))
        return shown == float(format(limit, spec_l or "g"))

    digits = int(m[2])
    try:
        if not same(digits):
            return message
        while digits < 6 and same(digits):
            digits += 1
    except ValueError:
        return message
    out = []
    for literal, name, spec, conv in parts:
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is not None:
            spec = f"{m[1]}{digits}f" if name == "value" else spec
            out.append(
                "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            )
    return "".join(out)


@dataclass(frozen=True)
class Profile:
    """A named, validated set of rules."""

    name: str
    rules: tuple[Rule, ...]
    description: str = ""
    source: str = ""

    def watches(self, rule: str, activity: str | None) -> bool:
        """Whether rule ``rule`` watches strides of ``activity`` (``run``/``walk``): a rule
        is evaluated only on its activity's strides, so outside it its last state says
        nothing. True for an activity that is neither (standing, unknown) and for a rule the
        profile does not have."""
        if activity not in ("run", "walk"):
            return True
        r = next((x for x in self.rules if x.name == rule), None)
        return r is None or r.activity in ("any", activity)


@dataclass(frozen=True)
class Alert:
    """An alert raised by a rule.

    Attributes
    ----------
    t : float
        Initial contact (s, recording time base) of the stride whose evaluation raised it.
    rule : str
    message : str
    level : str
    sound : str
        Tone name the rule asks for (``"none"`` for a silent rule).
    side : str or None
        ``left``/``right`` for a per-side evaluation, else ``None``.
    value : float
        The metric value that raised it, in the rule's unit.
    sensor_id : str
        The sensor of the row that raised it.
    """

    t: float
    rule: str
    message: str
    level: str
    sound: str
    side: str | None = None
    value: float = math.nan
    sensor_id: str = ""

    def as_summary(self) -> dict[str, Any]:
        """The SUMMARY.json ``alerts`` entry (``t``, ``rule``, ``message``, then extras)."""
        d: dict[str, Any] = {"t": round(self.t, 6), "rule": self.rule, "message": self.message}
        d["level"] = self.level
        if self.side:
            d["side"] = self.side
        if math.isfinite(self.value):
            d["value"] = round(self.value, 6)
        return d


# --------------------------------------------------------------------------- loading
def _fail(source: str, rule: str | None, fieldname: str, what: str) -> AlertError:
    where = f"profile {source}"
    if rule is not None:
        where += f": rule {rule!r}"
    return AlertError(f"{where}: field {fieldname!r}: {what}")


def _number(src: str, rule: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(src, rule, key, f"{value!r} is not a number")
    v = float(value)
    if not math.isfinite(v):
        raise _fail(src, rule, key, f"{value!r}, expected a finite number")
    return v


def _count(src: str, rule: str, key: str, value: object, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(src, rule, key, f"{value!r}, expected a whole number >= 1")
    return int(value)


def _choice(src: str, rule: str, key: str, value: object, allowed: Sequence[str], default: str):
    if value is None:
        return default
    if not isinstance(value, str) or value not in allowed:
        raise _fail(src, rule, key, f"{value!r}, expected one of {', '.join(allowed)}")
    return value


def _load_rule(src: str, index: int, d: object) -> Rule:
    if not isinstance(d, Mapping):
        raise _fail(src, f"#{index + 1}", "rule", "expected a table ([[rule]])")
    name = d.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(
            src, f"#{index + 1}", "name", f"{name!r}, expected 1-40 characters of [a-z0-9_]"
        )
    unknown = sorted(set(d) - _RULE_KEYS)
    if unknown:
        raise _fail(
            src, name, unknown[0], f"unknown field, expected one of {', '.join(sorted(_RULE_KEYS))}"
        )
    metric = d.get("metric")
    if not isinstance(metric, str) or metric not in METRICS:
        raise _fail(
            src, name, "metric", f"unknown metric {metric!r}, expected one of {', '.join(METRICS)}"
        )
    spec = METRICS[metric]
    unit = d.get("unit", spec.unit)
    factor = spec.factor(unit) if isinstance(unit, str) else None
    if factor is None:
        allowed = ", ".join([spec.unit, *spec.units])
        raise _fail(src, name, "unit", f"{unit!r} is not a unit of {metric}, expected {allowed}")
    has_above, has_below = "above" in d, "below" in d
    if has_above == has_below:
        raise _fail(src, name, "above", "give exactly one threshold: 'above' or 'below'")
    direction = "above" if has_above else "below"
    on_u = _number(src, name, direction, d[direction])
    clear_key = "clear_below" if direction == "above" else "clear_above"
    wrong_clear = "clear_above" if direction == "above" else "clear_below"
    if wrong_clear in d:
        raise _fail(src, name, wrong_clear, f"a rule with '{direction}' clears with '{clear_key}'")
    off_u = _number(src, name, clear_key, d[clear_key]) if clear_key in d else on_u
    if (direction == "above" and off_u > on_u) or (direction == "below" and off_u < on_u):
        side_word = "at or below" if direction == "above" else "at or above"
        raise _fail(src, name, clear_key, f"{off_u:g} must be {side_word} {direction} = {on_u:g}")
    if spec.share_of is not None:
        pct = 100.0 if unit == "%" else 1.0
        for key, v in ((direction, on_u), (clear_key, off_u)):
            if not (0.0 <= v <= pct):
                raise _fail(src, name, key, f"{v:g} {unit}, expected 0 to {pct:g} for a share")
    window = _count(src, name, "window", d.get("window"), 1)
    if spec.share_of is not None and "window" not in d:
        raise _fail(src, name, "window", "a share metric needs a window of strides (e.g. 20)")
    statistic = _choice(src, name, "statistic", d.get("statistic"), _STATISTICS, "median")
    if spec.share_of is not None and "statistic" in d:
        raise _fail(src, name, "statistic", "a share metric has no statistic")
    side = _choice(src, name, "side", d.get("side"), SIDES, "all")
    activity = _choice(src, name, "activity", d.get("activity"), RULE_ACTIVITIES, "run")
    level = _choice(src, name, "level", d.get("level"), LEVELS, "warning")
    sound = _choice(src, name, "sound", d.get("sound"), TONES, "beep")
    message = d.get("message", "")
    if not isinstance(message, str):
        raise _fail(src, name, "message", f"{message!r}, expected text")
    rule = Rule(
        name=name,
        metric=metric,
        direction=direction,
        on=on_u * factor,
        off=off_u * factor,
        unit=unit,
        factor=factor,
        window=window,
        statistic=statistic,
        side=side,
        activity=activity,
        min_strides=_count(src, name, "min_strides", d.get("min_strides"), 1),
        clear_strides=_count(src, name, "clear_strides", d.get("clear_strides"), 1),
        level=level,
        sound=sound,
        message=message,
    )
    if message:
        _check_placeholders(src, name, message)
        try:
            message.format(value=1.0, limit=1.0, window=1, side="left", unit="", metric="", rule="")
        except (KeyError, IndexError, ValueError) as exc:
            raise _fail(
                src,
                name,
                "message",
                f"bad placeholder ({exc}); use {{value}}, {{limit}}, {{window}}, {{side}}, {{unit}}",
            ) from None
    return rule


#: The names a rule's message may show (``{value:.1f}``, ``{side}``, ...).
MESSAGE_FIELDS = ("value", "limit", "window", "side", "unit", "metric", "rule")
#: The widest field and the most decimals a message may ask for (an alert is one line).
_MAX_FIELD_DIGITS = 40


def _check_placeholders(src: str, name: str, message: str) -> None:
    """A message's placeholders are plain names of :data:`MESSAGE_FIELDS` with a modest format:
    a profile is a file runners share, and ``{value.__class__.__mro__}`` would show Python's
    internals, ``{value:>99999999}`` write 100 MB per alert."""
    try:
        parts = list(string.Formatter().parse(message))
    except ValueError as exc:
        raise _fail(src, name, "message", f"bad placeholder ({exc})") from None
    for _text, fld, spec, conv in parts:
        if fld is None:
            continue
        if fld not in MESSAGE_FIELDS or conv is not None or "{" in (spec or ""):
            shown = "{" + fld + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            raise _fail(
                src,
                name,
                "message",
                f"placeholder {shown}: expected one of "
                + ", ".join("{" + f + "}" for f in MESSAGE_FIELDS)
                + ", with a format such as {value:.1f}",
            )
        if any(int(num) > _MAX_FIELD_DIGITS for num in re.findall(r"\d+", spec or "")):
            raise _fail(
                src,
                name,
                "message",
                f"placeholder {{{fld}:{spec}}}: width and decimals at most {_MAX_FIELD_DIGITS}",
            )


def load_profile(d: Mapping[str, Any], *, source: str = "<profile>") -> Profile:
    """Validate a profile dict (as parsed from TOML) into a :class:`Profile`.

    Parameters
    ----------
    d : mapping
        ``{"name": ..., "description": ..., "rule": [{...}, ...]}`` (see the module docstring).
    source : str
        Where it came from (a file name), for error messages.

    Raises
    ------
    AlertError
        One line naming the profile, the rule and the field that is wrong.
    """
    if not isinstance(d, Mapping):
        raise _fail(source, None, "rule", "expected a table of rules")
    unknown = sorted(set(d) - _PROFILE_KEYS)
    if unknown:
        raise _fail(
            source, None, unknown[0], "unknown top-level field, expected name, description, rule"
        )
    rules_in = d.get("rule", [])
    if not isinstance(rules_in, list):
        raise _fail(source, None, "rule", "expected an array of tables ([[rule]])")
    rules = [_load_rule(source, i, r) for i, r in enumerate(rules_in)]
    seen: set[str] = set()
    for r in rules:
        if r.name in seen:
            raise _fail(source, r.name, "name", "used by two rules, expected unique names")
        seen.add(r.name)
    name = d.get("name", "")
    desc = d.get("description", "")
    if not isinstance(name, str) or not isinstance(desc, str):
        raise _fail(source, None, "name", "expected text")
    return Profile(name=name or source, rules=tuple(rules), description=desc, source=source)


# --------------------------------------------------------------------------- engine
@dataclass
class _State:
    values: deque
    active: bool = False
    beyond: int = 0
    back: int = 0


class AlertEngine:
    """Evaluate a profile's rules stride by stride, in time order.

    Parameters
    ----------
    profile : Profile
    sensors : list of SensorInfo, optional
        The session's sensors: tells foot rows from pelvis rows, and lets each rule wait for
        the rows of every sensor it draws from, so that it sees them in initial-contact order
        (the streaming analysis releases each sensor's rows in bursts, e.g. after the alignment).
        Without it, rows are evaluated in the order given, and a row counts as a pelvis row when
        its sensor id contains ``pelvis``.
    hold_s : float
        Longest time (s, on the recording's time base) a rule waits for a sensor whose rows lag
        behind its other sensors (a sensor that dropped out or cannot be aligned).
    early : bool
        Evaluate rules on contact-only metrics (:data:`dsp.contact.CONTACT_KEYS` and the
        strike-type shares) from the foot sensors' *early rows*, and rules on the pelvic drop
        (:data:`PELVIS_EARLY_KEYS`) from the pelvis sensor's early rows (``early=`` of
        :meth:`feed`, :attr:`dsp.session.SessionUpdate.early_rows`), about a stride before
        the rows themselves are final; those sensors' rows are then not used again for those
        rules. Rules on the stride time and cadence (:data:`STRIDE_EARLY_KEYS`) take a foot's
        values from its *stride early rows* (early rows with a stride time, released when the
        next contact is detected, half a stride before the row). The early rows carry the very values (and, for the pelvis, side and initial
        contact) of the final rows, and every row has one (a pelvis step whose side or drop is
        not known early gets its early row with its row, in order), so the same alerts are
        raised at the same strides, only sooner. The live viewer, replay and ``runform
        analyze`` all use it.

    Attributes
    ----------
    active_ : dict
        ``(rule, side) -> Alert`` of the rules currently on (``side`` ``None`` when pooled).
    cleared_ : list of (float, str, str or None)
        ``(t, rule, side)`` of the rules that went off during the last :meth:`feed`.
    raised_ : list of Alert
        Every alert raised so far, in order.

    Notes
    -----
    Deterministic: rows are evaluated in initial-contact order per rule, whatever the order and
    grouping in which the analysis released them (as long as no sensor lags by more than
    ``hold_s``), so the live viewer, replay and ``runform analyze`` raise the same alerts at the
    same strides. Each rule (and each side, for ``side = "each"``) keeps the last ``window``
    values of its metric; rejected rows and empty cells are skipped. An evaluation happens on
    each row that adds a value, once the window is full. Call :meth:`finish` at the end of the
    data to evaluate rows still waiting.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        sensors: Iterable[SensorInfo] | None = None,
        hold_s: float = 30.0,
        early: bool = False,
    ) -> None:
        self.profile = profile
        self.hold_s = float(hold_s)
        self.early = bool(early)
        self._sensors = None if sensors is None else list(sensors)
        self._placements: dict[str, str] | None = (
            None if sensors is None else {s.sensor_id: s.placement for s in sensors}
        )
        self._has_feet = self._placements is None or any(
            p.endswith("_foot") for p in self._placements.values()
        )
        self._states: dict[tuple[str, str | None], _State] = {}
        for rule in profile.rules:
            keys = ["left", "right"] if rule.side == "each" else [None]
            for k in keys:
                self._states[(rule.name, k)] = _State(values=deque(maxlen=rule.window))
        self._pending: dict[tuple[str, str | None], list[tuple[float, int, ContactRow]]] = {
            k: [] for k in self._states
        }
        self._expected: dict[tuple[str, str | None], list[str]] = {}
        for rule in profile.rules:
            for key in self._states:
                if key[0] == rule.name:
                    self._expected[key] = self._expected_sensors(rule, key[1])
        self._latest: dict[str, float] = {}
        self._latest_early: dict[str, float] = {}
        self._latest_stride: dict[str, float] = {}
        self._route_cache: dict[str, tuple[list[Rule], list[Rule], list[Rule]]] = {}
        self._seq = 0
        self.active_: dict[tuple[str, str | None], Alert] = {}
        self.cleared_: list[tuple[float, str, str | None]] = []
        self.raised_: list[Alert] = []

    def reset(self) -> AlertEngine:
        """Forget every stride (e.g. when a replay jumps back)."""
        self.__init__(  # type: ignore[misc]
            self.profile, sensors=self._sensors, hold_s=self.hold_s, early=self.early
        )
        return self

    def _expected_sensors(self, rule: Rule, side: str | None) -> list[str]:
        """Sensors whose rows feed the rule's state for ``side``; a state fed by one sensor
        needs no waiting (a sensor's rows come in initial-contact order)."""
        if self._placements is None:
            return []
        out = []
        for sid, placement in self._placements.items():
            sides = {"left_foot": ["left"], "right_foot": ["right"], "pelvis": ["left", "right"]}
            for s in sides.get(placement, []):
                if side is not None and s != side:
                    continue
                if self._applies(rule, ContactRow(sensor_id=sid, side=s, t_ic=0.0)):
                    out.append(sid)
                    break
        return out if len(out) > 1 else []

    def _uses_early(self, rule: Rule, sensor_id: str) -> bool:
        """Does ``rule`` take ``sensor_id``'s values from its early rows?"""
        if not self.early:
            return False
        if self._is_pelvis(sensor_id):
            return rule.metric in PELVIS_EARLY_KEYS
        return rule.metric in CONTACT_KEYS or METRICS[rule.metric].share_of is not None

    def _uses_stride(self, rule: Rule, sensor_id: str) -> bool:
        """Does ``rule`` take ``sensor_id``'s values from its stride early rows (a foot's
        stride time and cadence, known when its next contact is detected)?"""
        return self.early and rule.metric in STRIDE_EARLY_KEYS and not self._is_pelvis(sensor_id)

    def _latest_for(self, rule: Rule, sensor_id: str) -> dict[str, float]:
        if self._uses_stride(rule, sensor_id):
            return self._latest_stride
        return self._latest_early if self._uses_early(rule, sensor_id) else self._latest

    def _is_pelvis(self, sensor_id: str) -> bool:
        if self._placements is not None and sensor_id in self._placements:
            return self._placements[sensor_id] == "pelvis"
        return "pelvis" in sensor_id

    def _applies(self, rule: Rule, row: ContactRow) -> bool:
        src = METRICS[rule.metric].source
        pelvis = self._is_pelvis(row.sensor_id)
        if src == "auto":
            src = "feet" if self._has_feet else "pelvis"
        if src == "feet" and pelvis:
            return False
        if src == "pelvis" and not pelvis:
            return False
        if rule.side in ("left", "right") and row.side != rule.side:
            return False
        return "rejected" not in row.flags

    @staticmethod
    def _value(rule: Rule, row: ContactRow) -> float | None:
        share = METRICS[rule.metric].share_of
        if share is not None:
            if not row.strike_type:
                return None
            return 100.0 if row.strike_type == share else 0.0
        v = getattr(row, rule.metric)
        if v is None:
            return None
        v = float(v)
        return v if math.isfinite(v) else None

    @staticmethod
    def _aggregate(rule: Rule, values: deque) -> float:
        arr = sorted(values)
        if METRICS[rule.metric].share_of is not None or rule.statistic == "mean":
            return math.fsum(arr) / len(arr)
        if rule.statistic == "max":
            return arr[-1]
        if rule.statistic == "min":
            return arr[0]
        n = len(arr)
        return arr[n // 2] if n % 2 else 0.5 * (arr[n // 2 - 1] + arr[n // 2])

    def feed(
        self,
        rows: Iterable[ContactRow],
        *,
        early: Iterable[ContactRow] = (),
        watermarks: Mapping[str, float] | None = None,
        stride_watermarks: Mapping[str, float] | None = None,
    ) -> list[Alert]:
        """Take newly finished rows (any sensor, release order); returns the alerts raised.

        A rule evaluates a row once every sensor it draws from has delivered rows up to that
        row's initial contact (or lags by more than ``hold_s``).

        Parameters
        ----------
        rows : iterable of ContactRow
            Final rows.
        early : iterable of ContactRow
            Early rows (used when the engine was built with ``early=True``).
        watermarks : dict, optional
            Sensor id -> time (s) before which that sensor has released all its early rows
            (:attr:`dsp.session.SessionUpdate.early_watermarks`); lets a rule pooling both
            feet evaluate a contact without waiting for the other foot's next one.
        stride_watermarks : dict, optional
            The same for the feet's *stride* early rows (early rows with a stride time:
            :attr:`dsp.session.SessionUpdate.stride_watermarks`).
        """
        self.cleared_ = []
        latest = self._latest
        for row in rows:
            sid = row.sensor_id
            latest[sid] = max(latest.get(sid, -math.inf), row.t_ic)
            self._queue(self._routes(sid)[0], row)
        if self.early:
            latest = self._latest_early
            for sid, wm in (watermarks or {}).items():
                latest[sid] = max(latest.get(sid, -math.inf), wm)
            strides = self._latest_stride
            for sid, wm in (stride_watermarks or {}).items():
                strides[sid] = max(strides.get(sid, -math.inf), wm)
            for row in early:
                sid = row.sensor_id
                if row.stride_time is not None and not self._is_pelvis(sid):
                    # a foot's stride early row: only for the stride-time rules
                    strides[sid] = max(strides.get(sid, -math.inf), row.t_ic)
                    self._queue(self._routes(sid)[2], row)
                    continue
                latest[sid] = max(latest.get(sid, -math.inf), row.t_ic)
                self._queue(self._routes(sid)[1], row)
        return self._release(final=False)

    def _routes(self, sensor_id: str) -> tuple[list[Rule], list[Rule], list[Rule]]:
        """The rules that take this sensor's rows: from its final rows, from its early rows,
        from its stride early rows (before the per-row side and ``rejected`` checks of
        :meth:`_applies`)."""
        got = self._route_cache.get(sensor_id)
        if got is None:
            probe = {
                s: ContactRow(sensor_id=sensor_id, side=s, t_ic=0.0) for s in ("left", "right")
            }
            final: list[Rule] = []
            early: list[Rule] = []
            stride: list[Rule] = []
            for rule in self.profile.rules:
                if not any(self._applies(rule, r) for r in probe.values()):
                    continue  # the rule's metric does not come from this kind of sensor
                if self._uses_stride(rule, sensor_id):
                    stride.append(rule)
                else:
                    (early if self._uses_early(rule, sensor_id) else final).append(rule)
            got = self._route_cache[sensor_id] = (final, early, stride)
        return got

    def _queue(self, rules: list[Rule], row: ContactRow) -> None:
        if not rules or "rejected" in row.flags:
            return
        for rule in rules:
            if rule.side in ("left", "right") and row.side != rule.side:
                continue
            if rule.activity != "any" and (row.activity or "run") != rule.activity:
                continue
            key = (rule.name, row.side if rule.side == "each" else None)
            heap = self._pending.get(key)
            if heap is not None:  # a side that is neither left nor right: skipped
                self._seq += 1
                heapq.heappush(heap, (row.t_ic, self._seq, row))

    def finish(self) -> list[Alert]:
        """End of the data: evaluate every row still waiting; returns the alerts raised."""
        self.cleared_ = []
        return self._release(final=True)

    def _watermark(self, key: tuple[str, str | None]) -> float:
        expected = self._expected[key]
        if not expected:
            return math.inf
        rule = next(r for r in self.profile.rules if r.name == key[0])
        latest = [self._latest_for(rule, s).get(s, -math.inf) for s in expected]
        newest = max(latest)
        if newest == math.inf or self.hold_s == math.inf:
            return min(latest)
        live = [t for t in latest if t >= newest - self.hold_s]
        return min(live)

    def _release(self, *, final: bool) -> list[Alert]:
        found: list[tuple[float, int, Alert]] = []
        rank = {r.name: i for i, r in enumerate(self.profile.rules)}
        rules = {r.name: r for r in self.profile.rules}
        for key, heap in self._pending.items():
            wm = math.inf if final else self._watermark(key)
            while heap and heap[0][0] <= wm:
                _, _, row = heapq.heappop(heap)
                alert = self._evaluate(rules[key[0]], row, key)
                if alert is not None:
                    found.append((alert.t, rank[key[0]], alert))
        found.sort(key=lambda x: (x[0], x[1]))
        out = [a for _, _, a in found]
        self.cleared_.sort(key=lambda c: c[0])
        self.raised_.extend(out)
        return out

    def _evaluate(self, rule: Rule, row: ContactRow, key: tuple[str, str | None]) -> Alert | None:
        value = self._value(rule, row)
        if value is None:
            return None
        st = self._states[key]
        st.values.append(value)
        if len(st.values) < rule.window:
            return None
        return self._step(rule, st, self._aggregate(rule, st.values), row, key[1])

    def _step(
        self, rule: Rule, st: _State, agg: float, row: ContactRow, side: str | None
    ) -> Alert | None:
        if rule.direction == "above":
            beyond, back = agg > rule.on, agg <= rule.off
        else:
            beyond, back = agg < rule.on, agg >= rule.off
        st.beyond = st.beyond + 1 if beyond else 0
        st.back = st.back + 1 if back else 0
        if not st.active and st.beyond >= rule.min_strides:
            st.active = True
            st.back = 0
            alert = Alert(
                t=float(row.t_ic),
                rule=rule.name,
                message=rule.format_message(agg, side),
                level=rule.level,
                sound=rule.sound,
                side=side,
                value=rule.in_unit(agg),
                sensor_id=row.sensor_id,
            )
            self.active_[(rule.name, side)] = alert
            return alert
        if st.active and st.back >= rule.clear_strides:
            st.active = False
            st.beyond = 0
            self.active_.pop((rule.name, side), None)
            self.cleared_.append((float(row.t_ic), rule.name, side))
        return None


def alerts_for_rows(
    profile: Profile, rows: Iterable[ContactRow], *, sensors: Iterable[SensorInfo] | None = None
) -> list[Alert]:
    """Every alert a profile raises over a finished list of rows."""
    engine = AlertEngine(profile, sensors=sensors)
    return engine.feed(rows) + engine.finish()
