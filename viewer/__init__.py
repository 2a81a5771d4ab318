"""runform's live and replay viewer (the only package that imports Qt/pyqtgraph)."""

from viewer.errors import ViewerError

__all__ = ["ViewerError"]
