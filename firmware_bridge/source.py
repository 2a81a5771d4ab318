"""Moved to :mod:`dsp.source` (beside :class:`dsp.block.SampleBlock`); kept so that
``from firmware_bridge.source import BlockSource, SensorStatus`` still works."""

from dsp.source import BlockSource, SensorStatus

__all__ = ["BlockSource", "SensorStatus"]
