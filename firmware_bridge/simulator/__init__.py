"""A kinematic running simulator with exact ground truth (see ``docs/simulator.md``).

``simulate_session`` generates a whole session (blocks, truth, markers); ``SimulatedSource``
streams one in real time as a :class:`~dsp.source.BlockSource`.
"""

from firmware_bridge.simulator.scenarios import SCENARIOS, Scenario, get_scenario, scenario_names
from firmware_bridge.simulator.session import (
    SignalGenerator,
    SimulatedSession,
    resolve_scenario,
    simulate_session,
    write_simulated_recording,
)
from firmware_bridge.simulator.source import SimulatedSource

__all__ = [
    "SCENARIOS",
    "Scenario",
    "SignalGenerator",
    "SimulatedSession",
    "SimulatedSource",
    "get_scenario",
    "resolve_scenario",
    "scenario_names",
    "simulate_session",
    "write_simulated_recording",
]
