"""On-sensor logging: arm sensors, let them log a run without a host, download into one recording.

* :mod:`~firmware_bridge.sensorlog.base`: the :class:`LogDriver` shape;
* :mod:`~firmware_bridge.sensorlog.diy`, :mod:`~firmware_bridge.sensorlog.metawear`,
  :mod:`~firmware_bridge.sensorlog.polar` (with :mod:`~firmware_bridge.sensorlog.pftp`, Polar's
  file transfer): the families whose firmware logs (see ``docs/devices.md`` for Movesense);
* :mod:`~firmware_bridge.sensorlog.timebase`: device clocks → host clock from the arm-time and
  download-time clock reads (pure);
* :mod:`~firmware_bridge.sensorlog.journal`: raw download packets on disk (resumable);
* :mod:`~firmware_bridge.sensorlog.session`: ``arm``, ``status``, ``download`` over bleak.
"""

from __future__ import annotations

from firmware_bridge.errors import DeviceError
from firmware_bridge.sensorlog.base import LogConfig, LogDriver, LoggedSamples, LogStatus

__all__ = [
    "NOT_LOGGING",
    "STOP_RESERVE_BYTES",
    "LogConfig",
    "LogDriver",
    "LogStatus",
    "LoggedSamples",
    "capacity_bytes_per_second",
    "log_driver",
]

#: Families runform reads but cannot make log, and why (one line each; docs/devices.md).
NOT_LOGGING = {
    "movesense": "the standard gatt_sensordata_app firmware exposes no DataLogger/Logbook "
    "commands over GATT (docs/devices.md, 'On-sensor logging')",
    "witmotion": "the BWT901BLE has no log memory",
    "rsc-footpod": "a footpod gives no IMU samples to log",
}


#: Polar's documented offline accelerometer file growth at 50 Hz (3 channels, 16 bit) for its
#: most active example ("cycling", 968 kB/h; SdkOfflineRecordingExplained.md), bytes per hour.
POLAR_ACC_BYTES_PER_HOUR_50HZ = 968_000.0

#: Free memory a family keeps back: a Verity Sense stops recording below 300 KB free ("memory
#: limit 2", SdkOfflineRecordingExplained.md), bytes.
STOP_RESERVE_BYTES = {"polar-verity-sense": 300 * 1024}

#: Modules with a ``LOG_DRIVER``.
_LOG_MODULES = ("diy", "metawear", "polar")


def log_driver(device_model: str) -> LogDriver:
    """The logging driver of a family.

    Raises
    ------
    DeviceError
        The family cannot log (the message says why).
    """
    import importlib

    drivers: dict[str, LogDriver] = {}
    for mod in _LOG_MODULES:
        d = importlib.import_module(f"firmware_bridge.sensorlog.{mod}").LOG_DRIVER
        drivers[d.name] = d
    if device_model in drivers:
        return drivers[device_model]
    why = NOT_LOGGING.get(device_model, "no logging driver for this family")
    raise DeviceError(f"{device_model}: cannot log on the sensor: {why}")


def capacity_bytes_per_second(device_model: str, rate_hz: float) -> float:
    """Log memory a family fills per second of acc + gyro at ``rate_hz`` (bytes/s).

    DIY clip: one 256-byte flash page per record of 19 samples. MetaWear: four 9-byte log
    entries per sample (acc and gyro, 6 bytes each, split into 4 + 2 byte entries). Polar
    Verity Sense: delta-compressed, so it depends on the motion; the estimate is Polar's largest
    documented accelerometer file growth (968 kB per hour at 50 Hz, 3 × 16 bit, "cycling",
    SdkOfflineRecordingExplained.md) for each of ACC and GYRO, scaled to ``rate_hz``.
    """
    if device_model == "runform-diy":
        from firmware_bridge.sensorlog.diy import RECORD_SAMPLES

        return 256.0 / RECORD_SAMPLES * rate_hz
    if device_model == "metawear":
        return 4 * 9.0 * rate_hz
    if device_model == "polar-verity-sense":
        return 2 * POLAR_ACC_BYTES_PER_HOUR_50HZ / 3600.0 * rate_hz / 50.0
    raise DeviceError(f"{device_model}: cannot log on the sensor")
