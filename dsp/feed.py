"""What one call of a sensor analyzer returns: :class:`FeedResult`.

Every per-sensor analyzer (:class:`dsp.foot_analyzer.FootAnalyzer`,
:class:`dsp.pelvis_analyzer.PelvisAnalyzer`) answers each ``feed(block)`` and its
``finish()`` with one immutable :class:`FeedResult`: the rows the call finished, the early
rows it released, the contacts it detected, its watermarks, the per-stride traces and its
diagnostics. That object is the whole contract between the analyzers, the session
(:class:`dsp.session.SessionAnalyzer`) and the worker processes of ``runform analyze``
(:mod:`runform.parallel` ships it as it is): nobody reads or empties an analyzer's attributes.

The pelvis analyzer takes the feet's results as an argument
(``pelvis.feed(block, feet=[foot_result, ...])``); the session orders the calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp.contact import ContactRow

__all__ = ["FeedResult", "Trace"]

#: One stride's trace: ``(t_ic, values, side)``, ``values`` a 101-point curve from the
#: initial contact to the same foot's next one (foot pitch, or pelvic obliquity by stance
#: side), deg.
Trace = tuple[float, np.ndarray, str]


@dataclass(frozen=True)
class FeedResult:
    """The outcome of one ``feed``/``finish`` call of one sensor's analyzer.

    Attributes
    ----------
    sensor_id : str
    rows : tuple of ContactRow
        Rows finished by the call, in initial-contact order.
    early_rows : tuple of ContactRow
        Rows released ahead of their final row (contact-only metrics,
        :data:`dsp.contact.CONTACT_KEYS`; a foot contact's second early row adds its stride
        time and cadence; a pelvis early row holds a step's side, IC, TO and pelvic drop).
    detected_ics : tuple of float
        Initial contacts (s) detected by the call, before their rows are final (feet).
    watermark : float
        Every initial contact before it has been detected (and has its early row), s;
        ``inf`` once finished, ``-inf`` for analyzers without one.
    stride_watermark : float
        Every stride early row (an early row with ``stride_time``) before it is out, s.
    traces : tuple of Trace
        Per-stride traces of the rows of this call that have a full stride.
    problem : str or None
        Why the sensor's data cannot be analysed (None while they can).
    data_end : float
        Time of the last sample of the block fed (NaN for an empty block or ``finish``), s.
    motion : tuple of (epoch, max rotation rate, min and max specific-force magnitude)
        The block's motion per 1 s epoch of the time base (:func:`dsp.bouts.block_motion`,
        deg/s, m/s²): standing still or not, for the activity bouts.
    """

    sensor_id: str
    rows: tuple[ContactRow, ...] = ()
    early_rows: tuple[ContactRow, ...] = ()
    detected_ics: tuple[float, ...] = ()
    watermark: float = -math.inf
    stride_watermark: float = -math.inf
    traces: tuple[Trace, ...] = ()
    problem: str | None = None
    data_end: float = math.nan
    motion: tuple[tuple[int, float, float, float], ...] = ()
