"""``runform info REC.h5``: what is in a recording."""

from __future__ import annotations

import argparse

from runform.terminal_text import safe_markup as m

NAME = "info"
HELP = "Show the sensors, durations, gaps and markers of a recording."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recording", help="recording file (.h5, format v1)")
    p.add_argument(
        "--check",
        action="store_true",
        help="also read every sample of every dataset and list the damaged parts "
        "(exit status 1 if any)",
    )


def _fmt_duration(s: float) -> str:
    m, sec = divmod(s, 60.0)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{sec:06.3f}" if h else f"{m}:{sec:06.3f}"


def run(args: argparse.Namespace) -> int:
    # imported here: the CLI imports every command module to list them (start-up time counts)
    from rich.table import Table

    from recordings import RecordingError, open_recording
    from runform.console import make_console

    console = make_console()
    with open_recording(args.recording) as rec:
        console.print(f"[bold]{m(args.recording)}[/bold]")
        console.print(
            f"format v{rec.attrs.get('format_version')}, created {m(rec.created_utc or '?')}, "
            f"written by {m(rec.software or '?')}"
        )
        if rec.notes:
            console.print(f"notes: {m(rec.notes, keep_newlines=True)}")
        console.print(f"duration: {_fmt_duration(rec.duration_s)} ({rec.duration_s:.3f} s)")
        # cells are rich markup too: every text from the file is escaped
        table = Table(title="sensors", title_justify="left")
        for col in (
            "sensor",
            "placement",
            "model",
            "rate Hz",
            "duration s",
            "samples",
            "lost",
            "gaps",
            "gap s",
            "ranges",
        ):
            table.add_column(col, justify="right" if col[0].isdigit() or " " in col else "left")
        unreadable = False
        for s in rec.sensors:
            t0, t1 = rec.time_range(s.sensor_id)
            # a damaged counter or gap list leaves its cell unknown, not the whole table (and
            # --check below lists the part; it stopped here and sent the user to --check)
            lost_cell = gaps_cell = gap_s_cell = "damaged"
            try:
                lost = rec.lost_samples(s.sensor_id)
                lost_cell = "-" if lost is None else str(lost)
            except RecordingError:
                unreadable = True
            try:
                gaps = rec.gaps(s.sensor_id)
                gaps_cell = str(len(gaps))
                gap_s_cell = f"{float((gaps[:, 1] - gaps[:, 0]).sum()) if len(gaps) else 0.0:.3f}"
            except RecordingError:
                unreadable = True
            dur = (t1 - t0) if rec.n_samples(s.sensor_id) else 0.0
            ranges = "/".join(
                x
                for x in (
                    f"±{s.acc_range_g:g} g" if s.acc_range_g else "",
                    f"±{s.gyr_range_dps:g} dps" if s.gyr_range_dps else "",
                )
                if x
            )
            table.add_row(
                m(s.sensor_id),
                m(s.placement),
                m(s.device_model),
                f"{s.sample_rate_hz:g}",
                f"{dur:.3f}",
                str(rec.n_samples(s.sensor_id)),
                lost_cell,
                gaps_cell,
                gap_s_cell,
                ranges or "-",
            )
        if rec.sensors:
            console.print(table)
            if unreadable and not args.check:
                console.print(
                    "damaged: a cell could not be read (`runform info --check` lists every "
                    "damaged part)"
                )
        else:  # an empty table said nothing
            console.print("sensors: none (a recording without sensors: nothing to analyse)")
        streams = rec.streams()
        if streams:
            for st in streams:
                qty = ", ".join(sorted(st.values))
                console.print(
                    f"stream {m(st.stream_id)}: {m(st.device_model or '?')} "
                    f"({m(st.placement or '?')}), "
                    f"{st.t.size} samples of {m(qty)}{_stream_medians(st.values)}"
                )
        markers = rec.markers
        console.print(f"markers: {len(markers)}")
        for t, label, kind in markers:
            console.print(f"  {t:9.3f} s  {m(f'{kind:<5}')}  {m(label)}")
        if args.check:
            damaged = rec.check_readable()
            if damaged:
                for rng in damaged:
                    console.print(f"[red]damaged[/red]: {m(rng)}")
                console.print(
                    f"check: {len(damaged)} damaged part(s); analysis reads them as gaps (a "
                    "damaged part of a time axis: those samples of the sensor are left out)"
                )
                return 1
            console.print("check: every chunk of every dataset reads back without error")
    return 0


def _stream_medians(values: dict) -> str:
    """``; median while running: 3.02 m/s, 168/min`` for a footpod stream ("" otherwise)."""
    import numpy as np

    parts = []
    for key, fmt in (("speed_mps", "{:.2f} m/s"), ("cadence_spm", "{:.0f}/min")):
        v = values.get(key)
        if v is None:
            continue
        v = v[np.isfinite(v) & (v > 0)]  # a pod standing still reads 0
        if v.size:
            parts.append(fmt.format(float(np.median(v))))
    return f"; median while running: {', '.join(parts)}" if parts else ""
