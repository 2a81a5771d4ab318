"""Shared pieces of the emulated vendor sensors (Movesense, MetaWear, WitMotion, Polar, RSC).

:class:`VendorPeripheral` keeps its own per-sample ground truth: the base class records the truth
of a chunk once per notification payload, which double-counts chunks that become several
notifications (MetaWear acc + gyro, a split Movesense payload) and misses chunks whose bytes are
carried over to a later notification (WitMotion frames cut across notifications). Vendor
emulators call :meth:`VendorPeripheral.record_truth` once per chunk instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from firmware_bridge.emulator.base import EmulatedPeripheral, SampleChunk

__all__ = ["VendorPeripheral", "char", "notify_now"]


class VendorPeripheral(EmulatedPeripheral):
    """An :class:`EmulatedPeripheral` with per-chunk truth bookkeeping."""

    def __init__(self, link: Any, **kwargs: Any) -> None:
        super().__init__(link, **kwargs)
        self._vt: list[np.ndarray] = []
        self._vtau: list[np.ndarray] = []
        self._vgen: list[np.ndarray] = []
        #: Commands written by the central, in order (for tests).
        self.commands: list[bytes] = []

    def record_truth(self, chunk: SampleChunk) -> None:
        """Remember the true and device times of the samples of ``chunk`` (once per chunk)."""
        self._vt.append(np.asarray(chunk.t_true, dtype=np.float64))
        self._vtau.append(np.asarray(chunk.device_time_s, dtype=np.float64))
        self._vgen.append(np.full(len(chunk.t_true), self.link.now()))

    def truth(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """True session times, device times and 'was sent' flags of every sample taken.

        The radio of the vendor emulators is run without loss in the tests; a sample counts as
        sent when it was taken while a central was connected.
        """
        if not self._vt:
            e = np.empty(0)
            return e, e, np.empty(0, dtype=bool)
        t = np.concatenate(self._vt)
        return t, np.concatenate(self._vtau), np.ones(len(t), dtype=bool)

    def generated_at(self) -> np.ndarray:
        """Session time at which each truth sample was packed for sending (≥ its true time;
        later when the emulator runs behind a fast link clock), s."""
        return np.concatenate(self._vgen) if self._vgen else np.empty(0)

    def reset_truth(self) -> None:
        """Forget the truth recorded so far (e.g. before a measured interval)."""
        self._vt.clear()
        self._vtau.clear()
        self._vgen.clear()

    def att_payload(self) -> int:
        """Largest notification value on the current connection (ATT MTU − 3), bytes."""
        mtu = int(getattr(self.connection, "att_mtu", 23)) if self.connection is not None else 23
        return mtu - 3


def char(
    uuid: str, props: Any, value: Any = b"", *, readable: bool = True, writeable: bool = False
):
    """A bumble characteristic with the usual permissions."""
    from bumble.gatt import Characteristic

    perms = Characteristic.READABLE if readable else Characteristic.Permissions(0)
    if writeable:
        perms |= Characteristic.WRITEABLE
    return Characteristic(uuid, props, perms, value)


def notify_now(per: EmulatedPeripheral, characteristic: Any, payload: bytes) -> None:
    """Queue a protocol answer (not sample data) for the next connection event."""
    per.send(characteristic, payload)
