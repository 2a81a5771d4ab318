"""runform's signal processing: pure numpy/scipy, no I/O, Qt, asyncio or h5py.

Functions over arrays (``fn(x, *, sampling_rate_hz, ...)``) and small streaming stages that are
fed :class:`~dsp.block.SampleBlock` objects and return what they finished.
"""

from dsp.block import PLACEMENTS, STANDARD_GRAVITY, SampleBlock, SensorInfo
from dsp.contact import STRIDE_COLUMNS, ContactRow, strike_type_from_angle
from dsp.errors import AnalysisError

__all__ = [
    "PLACEMENTS",
    "STANDARD_GRAVITY",
    "STRIDE_COLUMNS",
    "AnalysisError",
    "ContactRow",
    "SampleBlock",
    "SensorInfo",
    "strike_type_from_angle",
]
