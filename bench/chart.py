"""The PNG: throughput and p99 latency by concurrency, one line per server."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend

from bench.report import LABELS, LevelResult  # noqa: E402


def chart_draw(*, levels: list[LevelResult], title: str, path: Path) -> None:
    figure, (throughput, latency) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    concurrencies = sorted({level.connections for level in levels})
    for target, label in LABELS.items():
        points = sorted((lv for lv in levels if lv.target == target), key=lambda lv: lv.connections)
        if not points:
            continue
        x = [lv.connections for lv in points]
        throughput.plot(x, [lv.rps for lv in points], marker="o", label=label)
        latency.plot(x, [lv.p99_ms for lv in points], marker="o", label=label)
    for axis, ylabel in ((throughput, "requests/s"), (latency, "p99 latency (ms)")):
        axis.set_xscale("log", base=2)
        axis.set_xticks(concurrencies, [str(c) for c in concurrencies])
        axis.set_xlabel("concurrent connections")
        axis.set_ylabel(ylabel)
        axis.grid(True, alpha=0.3)
    # Log scales: the servers differ by orders of magnitude, and a ratio reads the same at any height.
    throughput.set_yscale("log")
    latency.set_yscale("log")
    throughput.legend(loc="best", fontsize="small")
    throughput.set_title("Throughput (higher is better)")
    latency.set_title("p99 latency (lower is better)")
    figure.suptitle(title)
    figure.savefig(path, dpi=110)
    plt.close(figure)
