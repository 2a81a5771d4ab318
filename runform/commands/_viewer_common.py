"""Options shared by ``runform live`` and ``runform replay`` (not a subcommand itself)."""

from __future__ import annotations

import argparse
import math
import sys

from runform.errors import UsageError

__all__ = ["add_viewer_arguments", "viewer_config"]


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
        "--window", type=float, default=8.0, help="seconds of raw signal shown (default 8)"
    )
    parser.add_argument(
        "--screenshot",
        metavar="FILE.png",
        help="save a PNG of the window before exiting (works without a display)",
    )
    parser.add_argument(
        "--exit-after", type=float, default=None, metavar="SECONDS", help="close after SECONDS"
    )


def viewer_config(args: argparse.Namespace, *, mode: str, title: str):
    """A :class:`viewer.app.ViewerConfig` from the parsed options (one-line UsageError if bad)."""
    from viewer.app import ViewerConfig

    if not set(args.axes) <= set("xyzn") or not args.axes:
        raise UsageError(f"--axes {args.axes!r}: expected letters of x, y, z, n")
    if not (args.window > 0 and math.isfinite(args.window)):
        raise UsageError(f"--window {args.window}: expected a positive number of seconds")
    if args.exit_after is not None and not args.exit_after > 0:
        raise UsageError(f"--exit-after {args.exit_after}: expected a positive number of seconds")
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
        sensors=[s.strip() for s in args.show.split(",")] if args.show else None,
        window_s=args.window,
        muted=args.mute,
        cues=cues,
        screenshot=args.screenshot,
        exit_after_s=args.exit_after,
        speed=getattr(args, "speed", 1.0),
    )
