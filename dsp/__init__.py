"""runform's signal processing: pure numpy/scipy, no I/O, Qt, asyncio or h5py.

Functions over arrays (``fn(x, *, sampling_rate_hz, ...)``) and small streaming stages that are
fed :class:`~dsp.block.SampleBlock` objects and return what they finished.
"""

from dsp.alignment import AlignmentResult, estimate_alignment
from dsp.block import PLACEMENTS, STANDARD_GRAVITY, SampleBlock, SensorInfo
from dsp.contact import STRIDE_COLUMNS, ContactRow, strike_type_from_angle
from dsp.errors import AnalysisError
from dsp.foot_analyzer import FootAnalyzer, FootSettings
from dsp.foot_events import EventSettings
from dsp.foot_metrics import MetricSettings
from dsp.orientation import StrideKinematics
from dsp.session import ANALYZERS, AnalysisConfig, SessionAnalyzer
from dsp.summary import build_summary

__all__ = [
    "ANALYZERS",
    "PLACEMENTS",
    "STANDARD_GRAVITY",
    "STRIDE_COLUMNS",
    "AlignmentResult",
    "AnalysisConfig",
    "AnalysisError",
    "ContactRow",
    "EventSettings",
    "FootAnalyzer",
    "FootSettings",
    "MetricSettings",
    "SampleBlock",
    "SensorInfo",
    "SessionAnalyzer",
    "StrideKinematics",
    "build_summary",
    "estimate_alignment",
    "strike_type_from_angle",
]
