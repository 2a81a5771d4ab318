"""The facts of the FIT profile that runform writes and reads (no code from any SDK).

Message numbers, field numbers, base types, scales and offsets are those of Garmin's FIT SDK
profile (Profile.xlsx, version 21.218); only the messages and fields runform uses are listed.
A field's raw value is ``round((value + offset) * scale)`` in its base type; the base type's
invalid value marks "no value".
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BASE_TYPES",
    "FIT_EPOCH_UNIX_S",
    "MESSAGES",
    "PROFILE_VERSION",
    "PROTOCOL_VERSION",
    "BaseType",
    "FieldSpec",
    "MessageSpec",
]

#: FIT date_time zero: 1989-12-31T00:00:00Z as a Unix time, s.
FIT_EPOCH_UNIX_S = 631065600
#: Protocol 2.0 (developer fields), encoded as major << 4 | minor.
PROTOCOL_VERSION = 0x20
#: Profile 21.218, encoded as major * 1000 + minor.
PROFILE_VERSION = 21218


@dataclass(frozen=True)
class BaseType:
    """A FIT base type: its number (with the endian bit), struct code, size and invalid value."""

    name: str
    number: int
    code: str  # struct format character ("s" for strings and byte arrays)
    size: int
    invalid: int | float | bytes


#: Base types by name (FIT protocol, "base types" table).
BASE_TYPES: dict[str, BaseType] = {
    b.name: b
    for b in (
        BaseType("enum", 0x00, "B", 1, 0xFF),
        BaseType("sint8", 0x01, "b", 1, 0x7F),
        BaseType("uint8", 0x02, "B", 1, 0xFF),
        BaseType("sint16", 0x83, "h", 2, 0x7FFF),
        BaseType("uint16", 0x84, "H", 2, 0xFFFF),
        BaseType("sint32", 0x85, "i", 4, 0x7FFFFFFF),
        BaseType("uint32", 0x86, "I", 4, 0xFFFFFFFF),
        BaseType("string", 0x07, "s", 1, b"\x00"),
        BaseType("float32", 0x88, "I", 4, 0xFFFFFFFF),  # written through its bit pattern
        BaseType("float64", 0x89, "Q", 8, 0xFFFFFFFFFFFFFFFF),
        BaseType("uint8z", 0x0A, "B", 1, 0x00),
        BaseType("uint16z", 0x8B, "H", 2, 0x0000),
        BaseType("uint32z", 0x8C, "I", 4, 0x00000000),
        BaseType("byte", 0x0D, "s", 1, b"\xff"),
    )
}


@dataclass(frozen=True)
class FieldSpec:
    """One field of a message: number, base type, scale and offset (physical = raw/scale - offset)."""

    number: int
    base: str
    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class MessageSpec:
    """A global message: its number and the fields runform uses, by name."""

    number: int
    fields: dict[str, FieldSpec]


def _f(number: int, base: str, scale: float = 1.0, offset: float = 0.0) -> FieldSpec:
    return FieldSpec(number, base, scale, offset)


#: The messages runform writes, with the fields it fills (names as in the profile).
MESSAGES: dict[str, MessageSpec] = {
    "file_id": MessageSpec(
        0,
        {
            "type": _f(0, "enum"),
            "manufacturer": _f(1, "uint16"),
            "product": _f(2, "uint16"),
            "serial_number": _f(3, "uint32z"),
            "time_created": _f(4, "uint32"),
            "product_name": _f(8, "string"),
        },
    ),
    "file_creator": MessageSpec(49, {"software_version": _f(0, "uint16")}),
    "device_info": MessageSpec(
        23,
        {
            "timestamp": _f(253, "uint32"),
            "device_index": _f(0, "uint8"),
            "manufacturer": _f(2, "uint16"),
            "serial_number": _f(3, "uint32z"),
            "product": _f(4, "uint16"),
            "software_version": _f(5, "uint16", 100),
            "source_type": _f(25, "enum"),
            "product_name": _f(27, "string"),
        },
    ),
    "developer_data_id": MessageSpec(
        207,
        {
            "application_id": _f(1, "byte"),
            "manufacturer_id": _f(2, "uint16"),
            "developer_data_index": _f(3, "uint8"),
            "application_version": _f(4, "uint32"),
        },
    ),
    "field_description": MessageSpec(
        206,
        {
            "developer_data_index": _f(0, "uint8"),
            "field_definition_number": _f(1, "uint8"),
            "fit_base_type_id": _f(2, "uint8"),
            "field_name": _f(3, "string"),
            "units": _f(8, "string"),
            "native_mesg_num": _f(14, "uint16"),
        },
    ),
    "event": MessageSpec(
        21,
        {
            "timestamp": _f(253, "uint32"),
            "event": _f(0, "enum"),
            "event_type": _f(1, "enum"),
            "event_group": _f(4, "uint8"),
        },
    ),
    "record": MessageSpec(
        20,
        {
            "timestamp": _f(253, "uint32"),
            "position_lat": _f(0, "sint32"),
            "position_long": _f(1, "sint32"),
            "heart_rate": _f(3, "uint8"),
            "cadence": _f(4, "uint8"),
            "distance": _f(5, "uint32", 100),
            "speed": _f(6, "uint16", 1000),
            "vertical_oscillation": _f(39, "uint16", 10),
            "stance_time": _f(41, "uint16", 10),
            "fractional_cadence": _f(53, "uint8", 128),
            "enhanced_speed": _f(73, "uint32", 1000),
            "enhanced_altitude": _f(78, "uint32", 5, 500),
            "vertical_ratio": _f(83, "uint16", 100),
            "stance_time_balance": _f(84, "uint16", 100),
            "step_length": _f(85, "uint16", 10),
        },
    ),
    "lap": MessageSpec(
        19,
        {
            "message_index": _f(254, "uint16"),
            "timestamp": _f(253, "uint32"),
            "event": _f(0, "enum"),
            "event_type": _f(1, "enum"),
            "start_time": _f(2, "uint32"),
            "total_elapsed_time": _f(7, "uint32", 1000),
            "total_timer_time": _f(8, "uint32", 1000),
            "total_distance": _f(9, "uint32", 100),
            "total_cycles": _f(10, "uint32"),
            "avg_speed": _f(13, "uint16", 1000),
            "max_speed": _f(14, "uint16", 1000),
            "avg_heart_rate": _f(15, "uint8"),
            "avg_cadence": _f(17, "uint8"),
            "lap_trigger": _f(24, "enum"),
            "sport": _f(25, "enum"),
            "sub_sport": _f(39, "enum"),
            "avg_vertical_oscillation": _f(77, "uint16", 10),
            "avg_stance_time": _f(79, "uint16", 10),
            "avg_fractional_cadence": _f(80, "uint8", 128),
            "enhanced_avg_speed": _f(110, "uint32", 1000),
            "enhanced_max_speed": _f(111, "uint32", 1000),
            "avg_vertical_ratio": _f(118, "uint16", 100),
            "avg_stance_time_balance": _f(119, "uint16", 100),
            "avg_step_length": _f(120, "uint16", 10),
        },
    ),
    "session": MessageSpec(
        18,
        {
            "message_index": _f(254, "uint16"),
            "timestamp": _f(253, "uint32"),
            "event": _f(0, "enum"),
            "event_type": _f(1, "enum"),
            "start_time": _f(2, "uint32"),
            "sport": _f(5, "enum"),
            "sub_sport": _f(6, "enum"),
            "total_elapsed_time": _f(7, "uint32", 1000),
            "total_timer_time": _f(8, "uint32", 1000),
            "total_distance": _f(9, "uint32", 100),
            "total_cycles": _f(10, "uint32"),
            "avg_speed": _f(14, "uint16", 1000),
            "max_speed": _f(15, "uint16", 1000),
            "avg_heart_rate": _f(16, "uint8"),
            "avg_cadence": _f(18, "uint8"),
            "first_lap_index": _f(25, "uint16"),
            "num_laps": _f(26, "uint16"),
            "trigger": _f(28, "enum"),
            "avg_vertical_oscillation": _f(89, "uint16", 10),
            "avg_stance_time": _f(91, "uint16", 10),
            "avg_fractional_cadence": _f(92, "uint8", 128),
            "enhanced_avg_speed": _f(124, "uint32", 1000),
            "enhanced_max_speed": _f(125, "uint32", 1000),
            "avg_vertical_ratio": _f(132, "uint16", 100),
            "avg_stance_time_balance": _f(133, "uint16", 100),
            "avg_step_length": _f(134, "uint16", 10),
        },
    ),
    "activity": MessageSpec(
        34,
        {
            "timestamp": _f(253, "uint32"),
            "total_timer_time": _f(0, "uint32", 1000),
            "num_sessions": _f(1, "uint16"),
            "type": _f(2, "enum"),
            "event": _f(3, "enum"),
            "event_type": _f(4, "enum"),
            "local_timestamp": _f(5, "uint32"),
        },
    ),
}

# enum values used (profile "types" sheet)
FILE_ACTIVITY = 4
MANUFACTURER_DEVELOPMENT = 255
EVENT_TIMER, EVENT_LAP, EVENT_SESSION, EVENT_ACTIVITY = 0, 9, 8, 26
EVENT_TYPE_START, EVENT_TYPE_STOP, EVENT_TYPE_STOP_ALL = 0, 1, 4
LAP_TRIGGER_MANUAL, LAP_TRIGGER_SESSION_END = 0, 7
SESSION_TRIGGER_ACTIVITY_END = 0
SPORT_GENERIC, SPORT_RUNNING, SPORT_WALKING = 0, 1, 11
SUB_SPORT_GENERIC = 0
ACTIVITY_MANUAL = 0
SOURCE_LOCAL, SOURCE_BLE = 5, 3
#: Semicircles per degree (position_lat/long are sint32 semicircles: 2^31 per 180 deg).
SEMICIRCLES_PER_DEG = 2**31 / 180.0
