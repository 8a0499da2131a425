"""Tables, target verdicts and the chart from a results.json.

    python report.py out/results.json [--readme README.md]

--readme replaces the part of that file between the `<!-- bench:results -->` markers with the table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SUBJECT, SUBJECT_W2 = "switchpoint", "switchpoint-w2"
PEERS = ["direct", "relay", "litellm", "tensorzero", "portkey"]

# (what, case, measure, system compared with, required ratio). The ratio is Switchpoint's figure over
# the other's for throughput, and the other's p50 over Switchpoint's for latency: above 1 is better.
TARGETS = [
    ("non-streaming req/s >= 1.0x TensorZero", SUBJECT, "chat", "rps", "tensorzero", 1.0),
    ("streams/s >= 3x TensorZero", SUBJECT, "stream", "rps", "tensorzero", 3.0),
    ("p50 at 4 conns no worse than TensorZero", SUBJECT, "latency", "p50", "tensorzero", 1.0),
    ("non-streaming req/s >= 40x LiteLLM", SUBJECT, "chat", "rps", "litellm", 40.0),
    ("streams/s >= 40x LiteLLM", SUBJECT, "stream", "rps", "litellm", 40.0),
    ("--workers 2 req/s >= 1.7x one worker", SUBJECT_W2, "chat", "rps", SUBJECT, 1.7),
]

MARK_START, MARK_END = "<!-- bench:results -->", "<!-- /bench:results -->"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def one_line(run: dict) -> str:
    text = (f"{run['req_per_s']:,.0f} req/s  p50 {run['p50_us'] / 1000:.2f} ms  p99 {run['p99_us'] / 1000:.2f} ms"
            f"  {run['requests']:,} responses")
    if run.get("cores"):
        text += f"  cores busy {'+'.join(str(c) for c in run['cores'])}"
    if run["errors"]:
        text += f"  ERRORS {run['errors']:,}: {run['sample'][:160]}"
    return text


def value(data: dict, system: str, case: str, measure: str) -> float | None:
    cell = data["results"].get(system, {}).get(case, {})
    if cell.get("status") != "ok":
        return None
    return cell["req_per_s"] if measure == "rps" else cell["p50_ms"]


def ratio(data: dict, system: str, other: str, case: str, measure: str) -> float | None:
    mine, theirs = value(data, system, case, measure), value(data, other, case, measure)
    if mine is None or theirs is None or not mine or not theirs:
        return None
    return mine / theirs if measure == "rps" else theirs / mine


def targets(data: dict) -> list[dict]:
    verdicts = []
    for what, system, case, measure, other, required in TARGETS:
        got = ratio(data, system, other, case, measure)
        if got is None:
            missing = [f"{name} {describe(data, name, case)}" for name in (system, other)
                       if value(data, name, case, measure) is None]
            verdicts.append({"target": what, "verdict": "n/a", "why": "; ".join(missing)})
        else:
            verdicts.append({"target": what, "verdict": "pass" if got >= required else "FAIL",
                             "ratio": round(got, 2), "required": required})
    return verdicts


def describe(data: dict, system: str, case: str) -> str:
    cell = data["results"].get(system, {}).get(case)
    if cell is None:
        return "not run"
    return cell["status"]


def brief(text: str) -> str:
    """First line of a multi-line message, and the last line naming an error (else the last line)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        return lines[0] if lines else ""
    cause = next((line for line in reversed(lines) if "Error" in line), lines[-1])
    return f"{lines[0]} ... {cause}"


def cell_text(cell: dict | None, measure: str) -> str:
    if cell is None:
        return "not run"
    status = cell["status"]
    if status == "ok":
        if measure == "rps":
            return f"{cell['req_per_s']:,.0f}"
        return f"{cell['p50_ms']:.2f} / {cell['p99_ms']:.2f}"
    if status == "errors":
        return f"**errors** {cell['errors']:,}/{cell['requests']:,}"
    return {"failed": "**failed**", "n/a": "n/a", "unavailable": "unavailable"}.get(status, status)


def markdown(data: dict) -> str:
    cases = data["cases"]
    meta = data["meta"]
    head = ["system"] + [("p50 / p99 ms, 4 conns" if c["metric"] == "latency" else c["title"]) for c in cases]
    head.append("RSS MB")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for name, info in data["systems"].items():
        row = [info["label"]]
        rss = []
        for case in cases:
            cell = data["results"][name].get(case["name"])
            row.append(cell_text(cell, "latency" if case["metric"] == "latency" else "rps"))
            if cell and cell.get("runs"):
                rss += [r["rss_mb"] for r in cell["runs"] if r.get("rss_mb")]
            cores = [r.get("cores", []) for r in (cell or {}).get("runs", [])]
            if any(len(c) > 1 for c in cores):
                split = ", ".join("+".join(str(x) for x in c) for c in cores)
                notes.append(f"- {name} / {case['name']}: cores busy per process {split}")
            if cell and cell.get("sample"):
                notes.append(f"- {name} / {case['name']}: {brief(cell['sample'])[:300]}")
        row.append(f"{max(rss):.0f}" if rss else "-")
        if info["status"] != "ok":
            notes.append(f"- {name}: {brief(info['status'])}")
        lines.append("| " + " | ".join(row) + " |")

    workers = meta.get("workers_cpus") or f"{meta['gateway_cpus']},{meta['load_cpus']}"
    out = [f"Measured {meta['started']} on {meta['cpu']}: gateway on core {meta['gateway_cpus']}, nginx and wrk "
           f"on core {meta['load_cpus']}, Switchpoint --workers 2 on cores {workers}; "
           f"{meta['duration_s']:g} s per cell after {meta['warmup_s']:g} s warm-up, "
           f"{meta['rounds']} round(s); load average {' '.join(meta['loadavg_start'])} at start.", ""]
    out += lines
    if notes:
        out += ["", "Notes (errors, unavailable systems, how multi-process systems shared the load):", ""] + [n.replace("\n", " ").replace("|", "\\|") for n in notes]
    out += ["", "Cores the system kept busy during each cell (all its processes; the median round). A gateway "
            "below 1 under load either waits on something or lost its core to other work on the machine.", ""]
    out += ["| system | " + " | ".join(c["name"] for c in cases) + " |", "|" + "---|" * (len(cases) + 1)]
    for name in data["systems"]:
        cells = []
        for case in cases:
            runs = (data["results"][name].get(case["name"]) or {}).get("runs") or []
            busy = sorted(sum(r["cores"]) for r in runs if r.get("cores"))
            cells.append(f"{busy[len(busy) // 2]:.2f}" if busy else "-")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", "Switchpoint (1 worker) against each system: throughput ratio, and p50 ratio (theirs / ours); "
            "above 1 means Switchpoint is better.", ""]
    ratio_head = ["vs"] + [c["name"] for c in cases]
    out += ["| " + " | ".join(ratio_head) + " |", "|" + "---|" * len(ratio_head)]
    for other in PEERS:
        if other not in data["systems"] or SUBJECT not in data["systems"]:
            continue
        cells = []
        for case in cases:
            measure = "p50" if case["metric"] == "latency" else "rps"
            got = ratio(data, SUBJECT, other, case["name"], measure)
            cells.append(f"{got:.2f}x" if got is not None else "-")
        out.append("| " + " | ".join([other] + cells) + " |")
    out += ["", "| target | verdict |", "|---|---|"]
    for t in data["targets"]:
        detail = f"{t['ratio']}x (need {t['required']}x)" if "ratio" in t else t["why"]
        out.append(f"| {t['target']} | {t['verdict']}: {detail} |")
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    out += ["", f"Versions: {versions}."]
    return "\n".join(out) + "\n"


def chart(data: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = list(data["systems"])
    panels = [("requests/s, 64 connections", [("chat", "rps", "OpenAI upstream"), ("cross", "rps", "Anthropic upstream")]),
              ("latency ms, 4 connections", [("latency", "p50", "p50"), ("latency", "p99", "p99")]),
              ("streams/s, 16 connections", [("stream", "rps", "OpenAI upstream"),
                                             ("cross-stream", "rps", "Anthropic upstream")])]
    fig, axes = plt.subplots(1, 3, figsize=(18, 6))
    width = 0.38
    for ax, (title, series) in zip(axes, panels, strict=True):
        for i, (case, measure, label) in enumerate(series):
            xs, heights, marks = [], [], []
            for x, name in enumerate(names):
                cell = data["results"][name].get(case)
                ok = cell is not None and cell.get("status") == "ok"
                height = (cell["req_per_s"] if measure == "rps" else cell[f"{measure}_ms"]) if ok else 0
                xs.append(x + (i - 0.5) * width)
                heights.append(height)
                marks.append("" if ok else ("n/a" if cell is None else cell["status"]))
            bars = ax.bar(xs, heights, width, label=label)
            for bar, height, mark in zip(bars, heights, marks, strict=True):
                x = bar.get_x() + bar.get_width() / 2
                if mark:  # no bar: say why at the foot of the axis
                    ax.annotate(mark, (x, 0.02), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                                fontsize=7, rotation=90, color="red" if mark in ("errors", "failed") else "grey")
                else:
                    text = f"{height:,.0f}" if measure == "rps" else f"{height:.2f}"
                    ax.annotate(text, (x, height), ha="center", va="bottom", fontsize=7, rotation=90)
        if any(patch.get_height() > 0 for patch in ax.patches):
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right")
        ax.legend(fontsize=8)
    fig.suptitle(f"Gateway benchmark, {data['meta']['started']} (log scale; errors are never plotted as numbers)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def update_readme(readme: Path, table: str) -> None:
    text = readme.read_text()
    start, end = text.index(MARK_START) + len(MARK_START), text.index(MARK_END)
    readme.write_text(text[:start] + "\n" + table + text[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--readme", type=Path, help="file whose bench:results section gets the table")
    args = parser.parse_args()
    data = json.loads(args.results.read_text())
    data["targets"] = targets(data)
    table = markdown(data)
    print(table)
    chart(data, args.results.with_name("chart.png"))
    if args.readme:
        update_readme(args.readme, table)


if __name__ == "__main__":
    main()
