"""Traffic lights for a runner's metrics: the alert profile's limits first, published ranges
where the profile has no rule. Pure functions, no I/O (the reports show what they return).

A metric's typical value over a segment (its median, or the share of rearfoot strikes) is
rated:

* against the **alert profile** when a rule watches that metric: ``red`` beyond the rule's
  on-limit, ``amber`` between its clear limit and its on-limit (the hysteresis band, where the
  alert may flicker on), ``green`` on the safe side of the clear limit;
* else against a **published range** (:data:`REFERENCES`), each with its source;
* else it is ``info``: shown, not judged (no threshold is known that a reading of this sensor
  could be judged by, e.g. the shoe's peak impact in g).

The references (full citations in ``docs/compare_report.md``):

* contact time: most runners 160-300 ms, elite under 200 ms (Garmin running dynamics help);
  above 300 ms amber.
* vertical ratio (vertical oscillation / step length): lower is more economical; Garmin's
  population zones put above about 10 % in the poorest group: amber above 10 %.
* contact-time balance: 49-51 % even; 48-52 % amber; beyond 2 points red (coaching use of
  Garmin/Stryd balance; asymmetry often follows injury).
* pelvic drop: injured runners show more contralateral pelvic drop, about 80 % higher odds of
  being injured per degree (Bramah et al. 2018, Am J Sports Med 46(12)); the default profile's
  7 deg limit stands where its rule exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["LEVELS", "REFERENCES", "Light", "Reference", "rate", "rule_for"]

#: Light levels, best first; ``info`` = shown without a judgement.
LEVELS = ("green", "amber", "red", "info")


@dataclass(frozen=True)
class Reference:
    """A published range: amber and red limits in the metric's unit (``None`` = none).

    ``direction`` ``above``: high values are worse; ``below``: low values are; ``both``:
    distance from ``centre`` is (limits are then distances from it).
    """

    metric: str
    direction: str
    amber: float | None
    red: float | None
    source: str
    centre: float = 0.0


REFERENCES: dict[str, Reference] = {
    r.metric: r
    for r in (
        Reference("contact_time", "above", 0.300, None, "Garmin running dynamics: 160-300 ms"),
        Reference("vertical_ratio", "above", 10.0, None, "Garmin running dynamics zones"),
        Reference(
            "contact_time_balance",
            "both",
            1.0,
            2.0,
            "even 49-51 %, poor symmetry beyond 2 points",
            centre=50.0,
        ),
    )
}


@dataclass(frozen=True)
class Light:
    """One rated value.

    Attributes
    ----------
    level : str
        ``green``, ``amber``, ``red`` or ``info``.
    limit : float or None
        The limit it was judged against (on-limit of the rule, or the reference's first limit),
        in the metric's unit.
    direction : str
        ``above`` or ``below`` (``both`` for balance).
    source : str
        ``profile <name>: rule <rule>`` or the reference's source; ``""`` for ``info``.
    """

    level: str
    limit: float | None = None
    direction: str = ""
    source: str = ""


def rule_for(profile: Any, metric: str, side: str | None = None) -> Any:
    """The profile's rule watching ``metric`` (for that side if it judges sides), or None."""
    if profile is None:
        return None
    for rule in getattr(profile, "rules", ()):
        if rule.metric != metric:
            continue
        if rule.side in ("left", "right") and side is not None and rule.side != side:
            continue
        return rule
    return None


def rate(
    metric: str, value: float | None, *, profile: Any = None, side: str | None = None
) -> Light:
    """Rate a typical value of a metric (canonical unit; shares of strikes in %).

    Parameters
    ----------
    metric : str
        A STRIDES column, ``rearfoot_share`` (%), ``vertical_ratio`` (%) or
        ``contact_time_balance`` (%, left share).
    value : float or None
    profile : dsp.alerts.Profile, optional
    side : str, optional
        ``left``/``right`` for rules that judge one side.
    """
    if value is None or not math.isfinite(value):
        return Light("info")
    rule = rule_for(profile, metric, side)
    if rule is not None:
        src = f"profile {profile.name}: rule {rule.name}"
        if rule.direction == "above":
            level = "red" if value > rule.on else ("amber" if value > rule.off else "green")
        else:
            level = "red" if value < rule.on else ("amber" if value < rule.off else "green")
        return Light(level, rule.on, rule.direction, src)
    ref = REFERENCES.get(metric)
    if ref is None:
        return Light("info")
    x = abs(value - ref.centre) if ref.direction == "both" else value
    worse = (lambda lim: x < lim) if ref.direction == "below" else (lambda lim: x > lim)
    if ref.red is not None and worse(ref.red):
        level = "red"
    elif ref.amber is not None and worse(ref.amber):
        level = "amber"
    else:
        level = "green"
    limit = ref.amber if ref.amber is not None else ref.red
    if ref.direction == "both" and limit is not None:
        limit = ref.centre + limit if value >= ref.centre else ref.centre - limit
    return Light(level, limit, ref.direction, ref.source)
