"""Polar file transfer (PFTP / PS-FTP) over BLE: pure encoders and decoders.

Facts from the Polar BLE SDK (polarofficial/polar-ble-sdk: ``BlePsFtpUtils.kt``,
``BlePsFtpClient.kt``, ``pftp_request.proto``, ``pftp_response.proto``, ``pftp_error.proto``,
``types.proto``; see ``docs/devices.md``):

* GATT service ``FEEE`` (16-bit); characteristics ``FB005C51-…`` ("MTU": requests are written
  here, responses are notified here), ``FB005C52-…`` (device → host notifications) and
  ``FB005C53-…`` (host → device notifications).
* **RFC60 message**: a *request* is ``uint16 LE header length`` (bit 15 clear) + a protobuf
  ``PbPFtpOperation`` (command GET 0 / PUT 1 / MERGE 2 / REMOVE 3, path) [+ data for PUT];
  a *query* is ``uint16 LE id | 0x8000`` + protobuf parameters (SET_SYSTEM_TIME 1,
  SET_LOCAL_TIME 3, GET_LOCAL_TIME 4, GET_DISK_SPACE 5, ...).
* **RFC76 air frames** carry a message in pieces of at most the ATT payload: one header byte
  ``next (bit 0) | status << 1 (bits 1-2) | sequence << 4 (bits 4-7)``, then data. ``next`` is 0
  on the first frame of a message and 1 after; status 3 = MORE (more frames follow), 1 = LAST,
  0 = a response without data whose two following bytes are a ``PbPFtpError`` code (0 = success).
  The 4-bit sequence number counts frames from 0 and wraps after 15; a gap means a lost frame
  (the SDK then cancels with ``00 00 00`` and fails with error 303).
* Protobuf messages used: ``PbPFtpDirectory`` (repeated entry: name 1, size 2), directories
  end with ``/``; ``PbPFtpDiskSpaceResult`` (fragment_size 1, total_fragments 2,
  free_fragments 3); ``PbPFtpSetLocalTimeParams`` (date 1 {year, month, day}, time 2 {hour,
  minute, seconds, millis}, tz_offset 3 in minutes); ``PbPFtpSetSystemTimeParams`` (date 1,
  time 2, trusted 3).

Why a small wire codec instead of the ``protobuf`` package: the five messages above use only
varint and length-delimited fields, and generating Python classes would need ``protoc`` at
build time (or hand-built descriptors) for about forty lines of encoding. The codec below
implements the protobuf wire format (varint, 64-bit, length-delimited, 32-bit fields; unknown
fields skipped) and is fuzzed like every other decoder here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from firmware_bridge.devices.base import DecodeError

__all__ = [
    "PFTP_D2H_UUID",
    "PFTP_H2D_UUID",
    "PFTP_MTU_UUID",
    "PFTP_SERVICE_UUID",
    "Frame",
    "PftpError",
    "ResponseReader",
    "decode_directory",
    "decode_disk_space",
    "decode_local_time",
    "decode_operation",
    "encode_directory",
    "encode_disk_space",
    "encode_local_time",
    "encode_operation",
    "encode_system_time",
    "error_frame",
    "parse_frame",
    "parse_host_message",
    "query_message",
    "request_message",
    "split_frames",
]

PFTP_SERVICE_UUID = "0000feee-0000-1000-8000-00805f9b34fb"
PFTP_MTU_UUID = "fb005c51-02e7-f387-1cad-8acd2d8df0c8"
PFTP_D2H_UUID = "fb005c52-02e7-f387-1cad-8acd2d8df0c8"
PFTP_H2D_UUID = "fb005c53-02e7-f387-1cad-8acd2d8df0c8"

GET, PUT, MERGE, REMOVE = 0, 1, 2, 3
Q_SET_SYSTEM_TIME, Q_SET_LOCAL_TIME, Q_GET_LOCAL_TIME, Q_GET_DISK_SPACE = 1, 3, 4, 5
STATUS_RESPONSE, STATUS_LAST, STATUS_MORE = 0, 1, 3
#: The host's cancel of a stream (written to the MTU characteristic).
CANCEL = b"\x00\x00\x00"
#: ``PbPFtpError`` names of the codes runform reports.
ERRORS = {
    0: "OPERATION_SUCCEEDED",
    1: "REBOOTING",
    2: "TRY_AGAIN",
    100: "UNIDENTIFIED_HOST_ERROR",
    101: "INVALID_COMMAND",
    102: "INVALID_PARAMETER",
    103: "NO_SUCH_FILE_OR_DIRECTORY",
    104: "DIRECTORY_EXISTS",
    105: "FILE_EXISTS",
    106: "OPERATION_NOT_PERMITTED",
    107: "NO_SUCH_USER",
    108: "TIMEOUT",
    200: "UNIDENTIFIED_DEVICE_ERROR",
    201: "NOT_IMPLEMENTED",
    202: "SYSTEM_BUSY",
    203: "INVALID_CONTENT",
    204: "CHECKSUM_FAILURE",
    205: "DISK_FULL",
    206: "PREREQUISITE_NOT_MET",
    207: "INSUFFICIENT_BUFFER",
    208: "WAIT_FOR_IDLING",
    209: "BATTERY_TOO_LOW",
    303: "AIR_PACKET_LOST",
}
NO_SUCH_FILE = 103
SYSTEM_BUSY = 202
DISK_FULL = 205


class PftpError(DecodeError):
    """A PFTP operation failed: the device's error code, or a broken frame sequence."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(f"{message}: PFTP error {code} ({ERRORS.get(code, 'unknown')})")
        self.code = code


# --- protobuf wire format ---------------------------------------------------------------------
def _varint(value: int) -> bytes:
    if value < 0:
        value &= (1 << 64) - 1  # int32/int64 negatives: ten-byte two's complement
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(data: bytes, i: int, what: str) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data):
            raise DecodeError(f"{what}: varint truncated at byte {i}")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise DecodeError(f"{what}: varint longer than 10 bytes at byte {i}")


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def pb_fields(data: bytes, what: str) -> list[tuple[int, int | bytes]]:
    """(field number, value) of every field of a protobuf message: varints as int,
    length-delimited as bytes, fixed 32/64-bit fields as int.

    Raises
    ------
    DecodeError
        Truncated field or unknown wire type (naming ``what``).
    """
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i, what)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise DecodeError(f"{what}: field number 0 at byte {i}")
        if wire == 0:
            v, i = _read_varint(data, i, what)
            out.append((number, v))
        elif wire == 2:
            n, i = _read_varint(data, i, what)
            if i + n > len(data):
                raise DecodeError(f"{what}: field {number} of {n} bytes, {len(data) - i} left")
            out.append((number, bytes(data[i : i + n])))
            i += n
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            if i + n > len(data):
                raise DecodeError(f"{what}: fixed field {number} truncated")
            out.append((number, int.from_bytes(data[i : i + n], "little")))
            i += n
        else:
            raise DecodeError(f"{what}: wire type {wire} of field {number}: expected 0, 1, 2, 5")
    return out


def _one(fields: list[tuple[int, int | bytes]], number: int, kind: type, what: str, default=None):
    vals = [v for n, v in fields if n == number]
    if not vals:
        if default is not None:
            return default
        raise DecodeError(f"{what}: required field {number} missing")
    v = vals[-1]  # protobuf: the last occurrence wins
    if not isinstance(v, kind):
        raise DecodeError(f"{what}: field {number} has the wrong wire type")
    return v


# --- messages ---------------------------------------------------------------------------------
def encode_operation(command: int, path: str) -> bytes:
    """``PbPFtpOperation``."""
    return _field(1, command) + _field(2, path.encode("utf-8"))


def decode_operation(data: bytes) -> tuple[int, str]:
    f = pb_fields(data, "PFTP operation")
    cmd = _one(f, 1, int, "PFTP operation")
    path = _one(f, 2, bytes, "PFTP operation")
    try:
        return cmd, path.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError("PFTP operation: path is not UTF-8") from None


def encode_directory(entries: list[tuple[str, int]]) -> bytes:
    """``PbPFtpDirectory`` of (name, size) entries (directories end with ``/``)."""
    return b"".join(
        _field(1, _field(1, name.encode("utf-8")) + _field(2, size)) for name, size in entries
    )


def decode_directory(data: bytes, path: str = "?") -> list[tuple[str, int]]:
    """(name, size) of every entry of a ``PbPFtpDirectory`` (names ending ``/`` are folders)."""
    what = f"PFTP directory {path}"
    out = []
    for number, value in pb_fields(data, what):
        if number != 1:
            continue
        if not isinstance(value, bytes):
            raise DecodeError(f"{what}: entry has the wrong wire type")
        ef = pb_fields(value, what)
        name = _one(ef, 1, bytes, what)
        size = _one(ef, 2, int, what)
        try:
            text = name.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{what}: entry name is not UTF-8") from None
        if not text or "/" in text.rstrip("/") or text in ("./", "../"):
            raise DecodeError(f"{what}: entry name {text!r}: expected a file or folder name")
        out.append((text, int(size)))
    return out


def encode_disk_space(fragment_size: int, total: int, free: int) -> bytes:
    return _field(1, fragment_size) + _field(2, total) + _field(3, free)


def decode_disk_space(data: bytes) -> tuple[int, int]:
    """(total bytes, free bytes) of a ``PbPFtpDiskSpaceResult``."""
    f = pb_fields(data, "PFTP disk space")
    size = _one(f, 1, int, "PFTP disk space")
    total = _one(f, 2, int, "PFTP disk space")
    free = _one(f, 3, int, "PFTP disk space")
    if free > total:
        raise DecodeError(f"PFTP disk space: {free} free of {total} fragments")
    return size * total, size * free


_EPOCH_2000 = datetime(2000, 1, 1)


def _date_time(t_s: float) -> tuple[bytes, bytes]:
    """PbDate, PbTime of ``t_s`` seconds since 2000-01-01 (millisecond resolution)."""
    ms = round(t_s * 1000.0)
    dt = _EPOCH_2000 + timedelta(milliseconds=ms)
    date = _field(1, dt.year) + _field(2, dt.month) + _field(3, dt.day)
    time = (
        _field(1, dt.hour)
        + _field(2, dt.minute)
        + _field(3, dt.second)
        + _field(4, dt.microsecond // 1000)
    )
    return date, time


def encode_local_time(t_s: float, tz_offset_min: int = 0) -> bytes:
    """``PbPFtpSetLocalTimeParams`` for ``t_s`` seconds since 2000-01-01 (the PMD epoch)."""
    date, time = _date_time(t_s)
    return _field(1, date) + _field(2, time) + _field(3, tz_offset_min)


def encode_system_time(t_s: float) -> bytes:
    """``PbPFtpSetSystemTimeParams`` (UTC, trusted) for ``t_s`` seconds since 2000-01-01."""
    date, time = _date_time(t_s)
    return _field(1, date) + _field(2, time) + _field(3, 1)


def decode_local_time(data: bytes) -> float:
    """Seconds since 2000-01-01 of a ``PbPFtpSetLocalTimeParams`` (the GET_LOCAL_TIME answer),
    on the device's own (local) clock, millisecond resolution."""
    what = "PFTP local time"
    f = pb_fields(data, what)
    d = pb_fields(_one(f, 1, bytes, what), what)
    t = pb_fields(_one(f, 2, bytes, what), what)
    try:
        dt = datetime(
            _one(d, 1, int, what),
            _one(d, 2, int, what),
            _one(d, 3, int, what),
            _one(t, 1, int, what),
            _one(t, 2, int, what),
            _one(t, 3, int, what),
        )
        millis = _one(t, 4, int, what, default=0)
    except (ValueError, OverflowError) as exc:
        raise DecodeError(f"{what}: not a date and time ({exc})") from None
    if millis > 999:
        raise DecodeError(f"{what}: millis {millis}: expected 0..999")
    return (dt - _EPOCH_2000).total_seconds() + millis / 1000.0


# --- RFC60 messages and RFC76 frames ----------------------------------------------------------
def request_message(header: bytes, data: bytes = b"") -> bytes:
    """An RFC60 request: header length, protobuf header, data."""
    if len(header) > 0x7FFF:
        raise ValueError(f"PFTP request header of {len(header)} bytes: at most 32767")
    return len(header).to_bytes(2, "little") + header + data


def query_message(query_id: int, params: bytes = b"") -> bytes:
    """An RFC60 query: ``id | 0x8000`` and protobuf parameters."""
    if not 0 <= query_id <= 0x7FFF:
        raise ValueError(f"PFTP query id {query_id}: expected 0..32767")
    return (query_id | 0x8000).to_bytes(2, "little") + params


def parse_host_message(message: bytes) -> tuple[str, int, bytes, bytes]:
    """What a host sent: ("request", header length, header, data) or ("query", id, params, b"").

    Raises
    ------
    DecodeError
        Shorter than its two-byte RFC60 header, or a request header longer than the message.
    """
    if len(message) < 2:
        raise DecodeError(f"PFTP message of {len(message)} bytes: expected an RFC60 header")
    word = int.from_bytes(message[:2], "little")
    if word & 0x8000:
        return "query", word & 0x7FFF, bytes(message[2:]), b""
    if 2 + word > len(message):
        raise DecodeError(f"PFTP request header of {word} bytes, {len(message) - 2} sent")
    return "request", word, bytes(message[2 : 2 + word]), bytes(message[2 + word :])


def split_frames(message: bytes, payload_size: int, *, first_seq: int = 0) -> list[bytes]:
    """RFC76 frames of at most ``payload_size`` bytes (header included) carrying ``message``."""
    if payload_size < 2:
        raise ValueError(f"RFC76 frame size {payload_size}: expected at least 2")
    room = payload_size - 1
    out: list[bytes] = []
    seq = first_seq & 0x0F
    i = 0
    while True:
        chunk = message[i : i + room]
        i += len(chunk)
        more = i < len(message)
        status = STATUS_MORE if more else STATUS_LAST
        nxt = 0 if not out else 1
        out.append(bytes([nxt | status << 1 | seq << 4]) + chunk)
        seq = (seq + 1) & 0x0F
        if not more:
            return out


def error_frame(code: int) -> bytes:
    """A response frame without data: status 0 and the ``PbPFtpError`` code (0 = success)."""
    return bytes([0]) + int(code).to_bytes(2, "little")


@dataclass(frozen=True)
class Frame:
    """One RFC76 frame: ``next`` bit, status, sequence number, payload (or error code)."""

    next: int
    status: int
    seq: int
    payload: bytes
    error: int = 0


def parse_frame(packet: bytes) -> Frame:
    """Parse one RFC76 frame.

    Raises
    ------
    DecodeError
        Empty, status 2 (undefined), or a status-0 frame without its two-byte error code.
    """
    if not packet:
        raise DecodeError("PFTP frame of 0 bytes: expected an RFC76 header byte")
    h = packet[0]
    nxt, status, seq = h & 1, (h >> 1) & 3, (h >> 4) & 0x0F
    if status == STATUS_RESPONSE:
        if len(packet) < 3:
            raise DecodeError(f"PFTP response frame of {len(packet)} bytes: expected an error code")
        return Frame(nxt, status, seq, b"", int.from_bytes(packet[1:3], "little"))
    if status not in (STATUS_LAST, STATUS_MORE):
        raise DecodeError(f"PFTP frame status {status}: expected 0, 1 or 3")
    return Frame(nxt, status, seq, bytes(packet[1:]))


class ResponseReader:
    """Reassembles one RFC76 message from its frames (state passed explicitly, one per
    message). :meth:`feed` returns True when the message is complete (:attr:`data`).

    Raises (from :meth:`feed`)
    --------------------------
    PftpError
        The device answered with an error code, a frame was lost (sequence gap: code 303) or
        the stream is out of sync (a first frame in the middle: code 200).
    """

    def __init__(self, what: str = "PFTP response") -> None:
        self.what = what
        self.seq = 0
        self.parts: list[bytes] = []
        self.done = False
        self.received = 0

    @property
    def data(self) -> bytes:
        return b"".join(self.parts)

    def feed(self, packet: bytes) -> bool:
        if self.done:
            raise PftpError(f"{self.what}: frame after the last one", 200)
        try:
            f = parse_frame(packet)
        except DecodeError as exc:
            raise PftpError(f"{self.what}: {exc}", 200) from None
        if f.seq != self.seq:
            raise PftpError(f"{self.what}: frame {f.seq} where {self.seq} was expected", 303)
        if f.next != (1 if self.received else 0):
            raise PftpError(f"{self.what}: stream out of sync", 200)
        self.seq = (self.seq + 1) & 0x0F
        self.received += 1
        if f.status == STATUS_RESPONSE:
            if f.error:
                raise PftpError(self.what, f.error)
            self.done = True
            return True
        self.parts.append(f.payload)
        if f.status == STATUS_LAST:
            self.done = True
        return self.done
