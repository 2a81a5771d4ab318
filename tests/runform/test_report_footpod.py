"""``runform report`` with a footpod stream: its speed and cadence over time next to the
IMU-derived per-stride values, medians side by side in the summary, and a pod that reports
strides/min recognised (and said so) rather than silently doubled."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from firmware_bridge.footpod import cadence_factor
from firmware_bridge.simulator import simulate_session
from recordings import RecordingWriter, open_recording
from runform.analysis_run import analyse_recording
from runform.cli import main
from runform.report import session_report


def _summary_table(page: str) -> list[list[str]]:
    i = page.index("<h2>Summary</h2>")
    table = page[i : page.index("</table>", i)]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", table):
        rows.append([html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr)])
    return rows


def _cell(rows: list[list[str]], label: str, column: str) -> str:
    header = rows[0]
    row = next(r for r in rows if r[0] == label)
    return row[header.index(column)]


@pytest.fixture(scope="module")
def recorded_with_pod(tmp_path_factory):
    """A run recorded by the real path: emulated clips and footpod over the virtual BLE link."""
    out = tmp_path_factory.mktemp("pod") / "pod.h5"
    code = main(
        [
            "record", "--simulate", "--footpod", "--rate", "208", "--speed", "3",
            "--duration", "22", "--quiet", "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    return out


def test_report_shows_recorded_footpod_next_to_imu(recorded_with_pod, tmp_path):
    res = analyse_recording(str(recorded_with_pod), collect_traces=False)
    rep = session_report(res)
    page = rep.html()
    with open_recording(recorded_with_pod) as rec:
        (pod,) = rec.streams()
    running = pod.values["cadence_spm"] > 0
    pod_speed = float(np.median(pod.values["speed_mps"][running]))
    pod_cad = float(np.median(pod.values["cadence_spm"][running]))
    assert running.sum() >= 10
    # the emulated pod reads the simulated runner: steps/min like the IMU, no unit note
    assert "footpod-check" not in page
    rows = _summary_table(page)
    assert rows[0][-1] == "footpod (rsc-footpod)"
    # medians while running (the pod reads 0 while the runner stands at the start)
    assert _cell(rows, "cadence", "footpod (rsc-footpod)") == f"{pod_cad:.0f} steps/min"
    assert _cell(rows, "speed", "footpod (rsc-footpod)") == f"{pod_speed:.2f} m/s"
    imu_cad = float(_cell(rows, "cadence", "left_foot").split()[0])
    imu_speed = float(_cell(rows, "speed", "left_foot").split()[0])
    assert imu_cad == pytest.approx(pod_cad, rel=0.04)
    assert imu_speed == pytest.approx(pod_speed, rel=0.15)
    assert "<h2>Footpod vs IMU: speed and cadence</h2>" in page
    assert "footpod" in rep.figures and rep.figures["footpod"][:4] == b"\x89PNG"
    # written as a PNG by --png
    paths = rep.write_pngs(tmp_path / "png")
    assert tmp_path / "png" / "report_footpod.png" in paths
    assert (tmp_path / "png" / "report_footpod.png").stat().st_size > 10_000


@pytest.fixture(scope="module")
def strides_pod(tmp_path_factory):
    """A simulated run next to a pod stream that reports strides/min (half the steps)."""
    path = tmp_path_factory.mktemp("pod2") / "strides.h5"
    sim = simulate_session("easy", duration_s=40.0, rate_hz=208.0, seed=5, truth=False)
    sc = sim.scenario
    t = np.arange(sc.standing_s + 1.0, 40.0, 1.0)
    with RecordingWriter(path, sim.sensors) as w:
        for b in sim.blocks.values():
            w.append(b)
        w.append_stream(
            "zwift_pod",
            t,
            {
                "speed_mps": sc.schedule(sc.speed_mps, t),
                "cadence_spm": sc.schedule(sc.cadence_spm, t) / 2.0,
            },
            device_model="rsc-footpod",
            placement="left_foot",
        )
    return path, float(sc.schedule(sc.cadence_spm, 20.0))


def test_strides_per_minute_pod_is_detected_and_said(strides_pod):
    path, steps = strides_pod
    res = analyse_recording(str(path), collect_traces=False)
    page = session_report(res).html()
    note = re.search(r'<p class="note footpod-check">(.*?)</p>', page)
    assert note is not None
    text = html.unescape(note.group(1))
    assert "zwift_pod cadence is half the IMU cadence" in text and "strides/min" in text
    rows = _summary_table(page)
    col = "zwift_pod (rsc-footpod)"
    assert rows[0][-1] == col
    # shown in steps/min with the pod's own value and the factor, never silently doubled
    assert _cell(rows, "cadence", col) == (
        f"{steps:.0f} steps/min (pod sends {steps / 2:.0f}/min, ×2)"
    )


def test_cadence_factor_cases():
    imu = np.full(50, 170.0)
    assert cadence_factor(np.full(10, 171.0), imu).factor == 1.0
    assert cadence_factor(np.full(10, 171.0), imu).note == ""
    half = cadence_factor(np.full(10, 85.0), imu, name="pod")
    assert half.factor == 2.0 and "strides/min" in half.note
    assert cadence_factor(np.full(10, 340.0), imu).factor == 0.5
    off = cadence_factor(np.full(10, 120.0), imu)  # neither the same nor a factor of 2
    assert off.factor == 1.0 and "-29 %" in off.note
    assert cadence_factor(np.zeros(5), imu).note.endswith("no cadence values")
    assert cadence_factor(np.full(5, 85.0), []).factor == 1.0  # no IMU cadence: unknown


def test_info_lists_footpod_medians(recorded_with_pod, capsys):
    assert main(["info", str(recorded_with_pod)]) == 0
    out = capsys.readouterr().out
    with open_recording(recorded_with_pod) as rec:
        (pod,) = rec.streams()
    running = pod.values["speed_mps"] > 0
    speed = float(np.median(pod.values["speed_mps"][running]))
    line = next(x for x in out.splitlines() if x.startswith("stream footpod"))
    assert f"median while running: {speed:.2f} m/s, " in line and "/min" in line


def test_footpod_speed_follows_units(recorded_with_pod, figure_titles):
    # before: with --units imperial the IMU columns said mph and the footpod's column and
    # figure m/s ('3.01 m/s' beside '6.7 mph', 'speed (m/s)')
    titles = figure_titles
    res = analyse_recording(str(recorded_with_pod), collect_traces=False)
    page = session_report(res, units="imperial").html()
    rows = _summary_table(page)
    pod = _cell(rows, "speed", "footpod (rsc-footpod)")
    assert pod.endswith(" mph"), pod
    imu = float(_cell(rows, "speed", "left_foot").split()[0])
    assert float(pod.split()[0]) == pytest.approx(imu, rel=0.15)
    assert "speed (m/s)" not in titles and titles.count("speed (mph)") >= 3, titles
