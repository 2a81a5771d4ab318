"""Fixtures shared by the test packages (tests/dsp, tests/recordings, tests/runform, ...).

Simulated sessions are deterministic (seeded) and cost seconds to make: the ones several test
modules use are made once per test session here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.simulator import simulate_session


@pytest.fixture(scope="session")
def chirunning_lossy():
    """45 s of the chirunning scenario at 208 Hz (both feet and the pelvis), 1 % packet loss,
    without truth: dropouts and a strike-type transition make the segment and event logic of
    the analyzers work hard."""
    return simulate_session(
        "chirunning", duration_s=45, rate_hz=208, seed=3, truth=False, packet_loss=0.01
    )


@pytest.fixture(scope="session")
def recording_of(tmp_path_factory) -> Callable[..., Path]:
    """``recording_of(scenario, **simulate_session_kwargs) -> Path``: a simulated session
    written to an HDF5 recording, made once per distinct set of arguments."""
    made: dict[tuple, Path] = {}

    def make(scenario: str, **kw: Any) -> Path:
        key = (scenario, *sorted(kw.items()))
        if key not in made:
            path = tmp_path_factory.mktemp("rec") / f"{scenario}.h5"
            simulate_session(scenario, **kw).write(path)
            made[key] = path
        return made[key]

    return make


@pytest.fixture
def figure_titles(monkeypatch) -> list[str]:
    """The titles every matplotlib axes is given while the test runs (the units a figure
    shows are in them)."""
    import matplotlib.axes

    titles: list[str] = []
    real = matplotlib.axes.Axes.set_title

    def set_title(self, label, *args, **kwargs):
        titles.append(str(label))
        return real(self, label, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "set_title", set_title)
    return titles
