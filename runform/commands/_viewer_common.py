"""Options shared by ``runform live`` and ``runform replay`` (not a subcommand itself)."""

from __future__ import annotations

import argparse
import sys

from runform.errors import UsageError

__all__ = [
    "MAX_EXIT_AFTER_S",
    "MAX_WINDOW_S",
    "add_viewer_arguments",
    "check_show",
    "viewer_config",
]

#: Longest ``--window`` of raw signal, s (the plot keeps 1.6 windows of every sensor in memory:
#: 600 s of a 416 Hz sensor are about 22 MB).
MAX_WINDOW_S = 600.0

#: Longest ``--exit-after``, s: a week, as ``record --duration`` (Qt's timer counts ms in a
#: 32-bit int, about 24.8 days at most).
MAX_EXIT_AFTER_S = 7 * 24 * 3600.0


def add_viewer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--profile",
        default=None,
        metavar="FILE",
        help="alert profile: a TOML file or a built-in name (default, chirunning; default: default)",
    )
    parser.add_argument("--mute", action="store_true", help="no alert sounds (= --cues off)")
    parser.add_argument(
        "--cues",
        choices=("tone", "speech", "off"),
        default="tone",
        help="how alerts sound: tone (each rule's tone), speech (a short spoken phrase per rule, "
        "offline through espeak-ng) or off (default tone)",
    )
    parser.add_argument(
        "--signal",
        choices=("gyr", "acc"),
        default="gyr",
        help="raw signal to plot: gyr (deg/s) or acc (m/s²) (default gyr)",
    )
    parser.add_argument(
        "--axes", default="xyz", help="axes to plot: any of x, y, z and n (norm) (default xyz)"
    )
    parser.add_argument(
        "--show",
        default=None,
        metavar="IDS",
        help="comma-separated sensor ids to plot (default all)",
    )
    parser.add_argument(
        "--window",
        type=float,
        default=8.0,
        help=f"seconds of raw signal shown, at most {MAX_WINDOW_S:g} (default 8)",
    )
    parser.add_argument(
        "--screenshot",
        metavar="FILE.png",
        help="save a PNG of the window before exiting (works without a display)",
    )
    parser.add_argument(
        "--exit-after", type=float, default=None, metavar="SECONDS", help="close after SECONDS"
    )


def check_show(
    show: str | None, ids: list[str], where: str, footpods: tuple[str, ...] = ()
) -> None:
    """``--show``: every id one of the session's sensors ``ids`` (else the window plots nothing
    for it, without a word); ``where`` names the session (``in run.h5``); ``footpods`` are ids
    of the session's footpods, which have no raw signal to plot."""
    if show is None:
        return
    wanted = [x.strip() for x in show.split(",") if x.strip()]
    if not wanted:
        raise UsageError(f"--show {show!r}: expected sensor ids separated by commas")
    pods = [x for x in wanted if x in footpods and x not in ids]
    if pods:
        with_signal = f"sensors with one: {', '.join(ids)}" if ids else "no sensor has one"
        names = ", ".join(repr(x) for x in pods)
        raise UsageError(
            f"--show {show}: the footpod {names} gives speed and cadence only, no raw signal "
            f"to plot ({with_signal})"
        )
    unknown = [x for x in wanted if x not in ids]
    if unknown:
        raise UsageError(
            f"--show {show}: no sensor {', '.join(unknown)} {where} (sensors: {', '.join(ids)})"
        )


def viewer_config(args: argparse.Namespace, *, mode: str, title: str):
    """A :class:`viewer.app.ViewerConfig` from the parsed options (one-line UsageError if bad)."""
    from viewer.app import ViewerConfig

    if not set(args.axes) <= set("xyzn") or not args.axes:
        raise UsageError(f"--axes {args.axes!r}: expected letters of x, y, z, n")
    if not (0 < args.window <= MAX_WINDOW_S):
        raise UsageError(
            f"--window {args.window:g}: expected more than 0 and at most {MAX_WINDOW_S:g} s"
        )
    if args.exit_after is not None and not 0 < args.exit_after <= MAX_EXIT_AFTER_S:
        raise UsageError(
            f"--exit-after {args.exit_after:g}: expected more than 0 and at most "
            f"{MAX_EXIT_AFTER_S:g} s (a week)"
        )
    if args.screenshot and not args.screenshot.lower().endswith(".png"):
        raise UsageError(f"--screenshot {args.screenshot}: expected a .png file name")
    if args.screenshot and args.exit_after is None:
        raise UsageError("--screenshot needs --exit-after SECONDS (when to take it)")
    cues = "off" if args.mute else args.cues
    if cues == "speech":
        from viewer.speech import ESPEAK, find_espeak

        if find_espeak() is None:
            print(
                f"runform: {ESPEAK} not found (install the espeak-ng package for spoken cues): "
                "alerts play their tones",
                file=sys.stderr,
            )
            cues = "tone"
    return ViewerConfig(
        mode=mode,
        title=title,
        quantity=args.signal,
        axes="".join(dict.fromkeys(args.axes)),
        sensors=[s.strip() for s in args.show.split(",") if s.strip()] if args.show else None,
        window_s=args.window,
        muted=args.mute,
        cues=cues,
        screenshot=args.screenshot,
        exit_after_s=args.exit_after,
        speed=getattr(args, "speed", 1.0),
    )
