"""FIT encoder and watch reader fed arbitrary input: the encoder's values come back from
Garmin's decoder within their resolution (or as missing when the type cannot hold them); the
watch reader answers garbage with one UsageError, never a traceback."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runform.errors import UsageError
from runform.fit import profile as P
from runform.fit.encoder import FitEncoder
from runform.fit.watch import read_watch_fit

garmin = pytest.importorskip(
    "garmin_fit_sdk", reason="garmin-fit-sdk (dev dependency) not installed"
)

# record fields and the physical range their type holds
_FIELDS = {
    name: P.MESSAGES["record"].fields[name]
    for name in (
        "heart_rate",
        "cadence",
        "distance",
        "speed",
        "vertical_oscillation",
        "stance_time",
        "fractional_cadence",
        "enhanced_altitude",
        "vertical_ratio",
        "stance_time_balance",
        "step_length",
    )
}
_MAX_RAW = {"uint8": 254, "uint16": 65534, "uint32": 4294967294}

values = st.one_of(
    st.none(),
    st.just(math.nan),
    st.floats(min_value=-1e6, max_value=1e7, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.fixed_dictionaries({k: values for k in _FIELDS}), min_size=1, max_size=5))
def test_encoder_values_round_trip_through_garmins_decoder(rows):
    enc = FitEncoder()
    enc.write("file_id", {"type": P.FILE_ACTIVITY, "manufacturer": 255, "product": 0})
    for i, row in enumerate(rows):
        enc.write("record", {"timestamp": 1_000_000_000 + i, **row})
    dec = garmin.Decoder(garmin.Stream.from_byte_array(bytearray(enc.getvalue())))
    assert dec.check_integrity()
    dec = garmin.Decoder(garmin.Stream.from_byte_array(bytearray(enc.getvalue())))
    msgs, errors = dec.read(expand_components=False, merge_heart_rates=False)
    assert errors == []
    recs = msgs["record_mesgs"]
    assert len(recs) == len(rows)
    for row, rec in zip(rows, recs, strict=True):
        for name, v in row.items():
            fs = _FIELDS[name]
            raw = None if v is None or math.isnan(v) else round((v + fs.offset) * fs.scale)
            if raw is None or not 0 <= raw <= _MAX_RAW[fs.base]:
                assert name not in rec or rec[name] is None, (name, v, rec.get(name))
            else:
                got = rec[name]
                assert got == pytest.approx(v, abs=0.5 / fs.scale + 1e-9 * abs(v) + 1e-12), name


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=400))
def test_watch_reader_answers_garbage_with_one_line(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("fuzz") / "w.fit"
    p.write_bytes(data)
    with pytest.raises(UsageError) as ei:
        read_watch_fit(p)
    assert "\n" not in str(ei.value) and "--watch" in str(ei.value)


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0, max_value=2000), flip=st.integers(min_value=0, max_value=2000))
def test_watch_reader_on_damaged_real_files(tmp_path_factory, cut, flip):
    enc = FitEncoder()
    enc.write("file_id", {"type": P.FILE_ACTIVITY, "manufacturer": 1, "product": 1})
    for i in range(60):
        enc.write("record", {"timestamp": 1_000_000_000 + i, "cadence": 85, "heart_rate": 150})
    data = bytearray(enc.getvalue())
    data = data[: max(0, len(data) - cut)]
    if data and flip < len(data):
        data[flip] ^= 0x5A
    p = tmp_path_factory.mktemp("dmg") / "w.fit"
    p.write_bytes(bytes(data))
    try:
        w = read_watch_fit(p)
    except UsageError as exc:
        assert "\n" not in str(exc)
    else:
        if cut == 0 and flip >= len(data):  # intact
            assert len(w) == 60 and w.note == ""
        else:  # damaged after its first records: those are used, and it says so
            assert 30 <= len(w) <= 60 and "damaged or cut short" in w.note
