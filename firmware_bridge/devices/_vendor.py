"""Small helpers shared by the vendor drivers (Movesense, MetaWear, WitMotion, Polar, RSC).

* :class:`PairQueue` joins accelerometer and gyroscope samples that a device sends in separate
  notifications (MetaWear, Polar) into the (acc, gyr) rows of a :class:`DecodedSamples`.
* :func:`empty_samples` is the "nothing to deliver yet" result of a decoder (a command response, the
  first half of a split frame, ...).
* :func:`await_notification` sends a command and waits for the matching notification on a
  characteristic the driver subscribes to itself (vendor control points).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from firmware_bridge.devices.base import DecodedSamples
from firmware_bridge.errors import DeviceError

if TYPE_CHECKING:
    from bleak import BleakClient

__all__ = ["PairQueue", "await_notification", "empty_samples"]

log = logging.getLogger(__name__)


def empty_samples(sample_period_s: float) -> DecodedSamples:
    """A :class:`DecodedSamples` with no samples (N = 0)."""
    z = np.empty((0, 3), dtype=np.float64)
    return DecodedSamples(acc=z, gyr=z.copy(), sample_period_s=sample_period_s)


class PairQueue:
    """FIFO that pairs acc rows and gyr rows arriving in separate packets.

    Both sensors run at the same output data rate and start together, so the k-th acc sample and
    the k-th gyr sample belong to the same instant. Rows wait here until their partner arrives.
    If one side runs ahead by more than ``max_lag`` rows (the other side's packets are missing),
    the oldest unmatched rows are dropped and counted in :attr:`dropped`, so that a lost packet
    cannot shift the pairing for the rest of the session.

    When both sides carry device times (Polar), the first pair is aligned by time: rows of the
    side that started earlier (its stream was started first) are dropped until the two first
    rows are within ``align_tol_s``; they are counted in :attr:`unpaired_at_start`.

    Without times (MetaWear, ``order_align=True``) the start is aligned by arrival order: the
    device queues packets in the order they complete, so when the first packet of the late side
    arrives, the early side has sent its rows up to about the same instant; the rows in excess of
    that packet's length are dropped (residual misalignment at most one packet length).

    Parameters
    ----------
    max_lag : int
        Largest number of unmatched rows kept on one side.
    align_tol_s : float or None
        Time tolerance of the start alignment, s (None: pair by order only).
    order_align : bool
        Align the start by arrival order (for devices without times).
    """

    def __init__(
        self, max_lag: int = 64, align_tol_s: float | None = None, order_align: bool = False
    ) -> None:
        self.max_lag = int(max_lag)
        self.align_tol_s = align_tol_s
        self.order_align = order_align and align_tol_s is None
        self._acc = np.empty((0, 3))
        self._gyr = np.empty((0, 3))
        self._acc_time = np.empty(0)
        self._gyr_time = np.empty(0)
        self._aligned = align_tol_s is None and not self.order_align
        #: Rows dropped by the start alignment.
        self.unpaired_at_start = 0
        #: Index (since start) of the next pair to be emitted.
        self.emitted = 0
        #: Rows dropped because their partner never came.
        self.dropped = 0

    def push_acc(self, acc: np.ndarray, times: np.ndarray | None = None) -> None:
        """Queue acc rows (m/s², shape (N, 3)) and optionally their device times in s."""
        self._acc = np.concatenate([self._acc, acc])
        t = np.full(len(acc), np.nan) if times is None else np.asarray(times, dtype=np.float64)
        self._acc_time = np.concatenate([self._acc_time, t])
        if self.order_align and not self._aligned and len(self._gyr):
            self._order_start(first_of="acc", n_new=len(acc))
        self._trim()

    def _order_start(self, first_of: str, n_new: int) -> None:
        """The late side (``first_of``) just delivered its first ``n_new`` rows."""
        if first_of == "gyr":
            k = max(0, len(self._acc) - n_new)
            self._acc, self._acc_time = self._acc[k:], self._acc_time[k:]
        else:
            k = max(0, len(self._gyr) - n_new)
            self._gyr, self._gyr_time = self._gyr[k:], self._gyr_time[k:]
        self.unpaired_at_start += k
        self._aligned = True

    def push_gyr(self, gyr: np.ndarray, times: np.ndarray | None = None) -> None:
        """Queue gyr rows (deg/s, shape (N, 3)) and optionally their device times in s."""
        self._gyr = np.concatenate([self._gyr, gyr])
        t = np.full(len(gyr), np.nan) if times is None else np.asarray(times, dtype=np.float64)
        self._gyr_time = np.concatenate([self._gyr_time, t])
        if self.order_align and not self._aligned and len(self._acc):
            self._order_start(first_of="gyr", n_new=len(gyr))
        self._trim()

    def _align(self) -> None:
        if not (len(self._acc) and len(self._gyr)):
            return
        tol = float(self.align_tol_s or 0.0)
        ta, tg = self._acc_time[0], self._gyr_time[0]
        if not (np.isfinite(ta) and np.isfinite(tg)):
            self._aligned = True
            return
        if ta < tg - tol:
            k = int(np.searchsorted(self._acc_time, tg - tol))
            self._acc, self._acc_time = self._acc[k:], self._acc_time[k:]
            self.unpaired_at_start += k
        elif tg < ta - tol:
            k = int(np.searchsorted(self._gyr_time, ta - tol))
            self._gyr, self._gyr_time = self._gyr[k:], self._gyr_time[k:]
            self.unpaired_at_start += k
        if len(self._acc) and len(self._gyr):
            self._aligned = True

    def _trim(self) -> None:
        if not self._aligned:
            return
        lag = len(self._acc) - len(self._gyr)
        if lag > self.max_lag:
            k = lag - self.max_lag
            self._acc, self._acc_time = self._acc[k:], self._acc_time[k:]
            self.dropped += k
        elif -lag > self.max_lag:
            k = -lag - self.max_lag
            self._gyr, self._gyr_time = self._gyr[k:], self._gyr_time[k:]
            self.dropped += k

    def pop(self) -> tuple[np.ndarray, np.ndarray, float | None, int]:
        """Remove and return every complete pair.

        Returns
        -------
        acc : ndarray, shape (K, 3)
        gyr : ndarray, shape (K, 3)
        first_time : float or None
            Device time of the first returned row in s (None if unknown or K = 0).
        first_index : int
            Running index of the first returned pair.
        """
        if not self._aligned and not self.order_align:
            self._align()
        if not self._aligned:
            return np.empty((0, 3)), np.empty((0, 3)), None, self.emitted
        k = min(len(self._acc), len(self._gyr))
        acc, gyr, t = self._acc[:k], self._gyr[:k], self._acc_time[:k]
        self._acc, self._gyr, self._acc_time = self._acc[k:], self._gyr[k:], self._acc_time[k:]
        self._gyr_time = self._gyr_time[k:]
        first = self.emitted
        self.emitted += k
        t0 = float(t[0]) if k and np.isfinite(t[0]) else None
        return acc, gyr, t0, first


async def await_notification(
    client: BleakClient,
    write_uuid: str,
    payload: bytes,
    notify_uuid: str,
    accept: Callable[[bytes], bool],
    *,
    device: str,
    what: str,
    timeout_s: float = 5.0,
    response: bool = True,
) -> bytes:
    """Write ``payload`` and wait for the first notification ``accept`` says answers it.

    Used for vendor control points that are not data characteristics (the session does not
    subscribe them): this function subscribes ``notify_uuid`` for the duration of the request.

    Raises
    ------
    DeviceError
        No answer within ``timeout_s`` (the message names the device and the request).
    """
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[bytes] = loop.create_future()

    def handler(_char: object, data: bytearray) -> None:
        b = bytes(data)
        if not fut.done() and accept(b):
            fut.set_result(b)

    await client.start_notify(notify_uuid, handler)
    try:
        await client.write_gatt_char(write_uuid, payload, response=response)
        return await asyncio.wait_for(fut, timeout_s)
    except TimeoutError as exc:
        raise DeviceError(f"{device}: no answer to {what} within {timeout_s:g} s") from exc
    finally:
        try:
            await client.stop_notify(notify_uuid)
        except Exception as exc:  # the link may be gone already
            log.debug("stop_notify %s failed: %s", notify_uuid, exc)
