"""Tables on stdout, ``results/latest.json`` and one PNG bar chart per workload.

Ratios compare each system with ours on the same kind of storage (in memory with in memory,
SQLite with SQLite, PostgreSQL with PostgreSQL): the one comparison that is fair.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks import w3

RESULTS = Path(__file__).resolve().parent / "results"

TITLES = {
    "w1": "W1: 3 machine steps, workflows/s",
    "latency": "Latency: one W1 workflow at a time, ms per workflow (lower is better)",
    "w2": "W2: step, approval, step; workflows/s",
    "w3": "W3: HTTP on loopback, one uvicorn worker, requests/s",
    "w4": "W4: SIGKILL halfway through W1 on disk, then restart",
    "memory": "Memory: instances parked on a human task, KB resident per instance",
}


def add_ratios(key: str, rows: list[dict[str, Any]]) -> None:
    """``ratio``: value / ours on the same storage (None when either is missing); W3 also against its ceiling."""
    if key == "w3":
        w3.add_ratios(rows)
        return
    ours = {row["storage"]: row["value"] for row in rows if row["family"] == "ours"}
    for row in rows:
        base = ours.get(row["storage"])
        row["ratio"] = row["value"] / base if row["value"] is not None and base else None


def row_name(row: dict[str, Any]) -> str:
    """The system's label; for W3 also the scenario and the server stack."""
    if "scenario" not in row:
        return str(row["label"])
    return f"{row['scenario_label']}: {row['label']} [{row['server_label']}]"


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}"


def _table(headers: list[str], lines: list[list[str]], left: int = 1) -> str:
    """Plain-text columns: the first ``left`` left-aligned, the others right-aligned."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *lines, strict=True)]

    def layout(cells: list[str]) -> str:
        columns = list(zip(cells, widths, strict=True))
        aligned = [cell.ljust(width) for cell, width in columns[:left]]
        return "  ".join(aligned + [cell.rjust(width) for cell, width in columns[left:]])

    return "\n".join([layout(headers), "  ".join("-" * width for width in widths), *map(layout, lines)])


def throughput_table(key: str, rows: list[dict[str, Any]]) -> str:
    headers = ["system", "median", "vs ours (same storage)", "runs"]
    lines = []
    digits = 2 if key == "latency" else 0
    for row in rows:
        line = [
            row["label"],
            _number(row["value"], digits),
            _ratio(row["ratio"]),
            ", ".join(_number(v, digits) for v in row["runs"]),
        ]
        lines.append(line)
    return _table(headers, lines)


def http_table(rows: list[dict[str, Any]]) -> str:
    """W3: one block of rows per server stack, each row with its ratio to the bare POST of that stack."""
    headers = ["workload", "system", "req/s", "vs bare", "vs ours", "runs"]
    headers += ["p50 ms", "p90 ms", "p99 ms", "max ms", "client CPU", "server CPU"]
    blocks = []
    for stack in w3.STACKS:
        lines = []
        for row in (row for row in rows if row["server"] == stack.key):
            latency = row.get("latency_ms", {}).get(row.get("latency_kind", ""), {})
            line = [row["scenario_label"], row["label"], _number(row["value"])]
            line += [_ratio(row.get("ceiling_ratio")), _ratio(row.get("ratio"))]
            line.append(", ".join(_number(value) for value in row["runs"]))
            line += [_number(latency.get(name), 1) for name in ("p50", "p90", "p99", "max")]
            line += [_percent(row.get("client_cpu")), _percent(row.get("server_cpu"))]
            lines.append(line)
        if lines:
            blocks.append(f"server: uvicorn, {stack.label}\n" + _table(headers, lines, left=2))
    return "\n\n".join(blocks)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def memory_table(rows: list[dict[str, Any]]) -> str:
    headers = ["system", "KB per instance", "vs ours (same storage)", "RSS MB", "RSS MB before"]
    lines = [
        [
            row["label"],
            _number(row["value"], 1),
            _ratio(row["ratio"]),
            _number(row.get("rss_mb")),
            _number(row.get("baseline_mb")),
        ]
        for row in rows
    ]
    return _table(headers, lines)


def durability_table(rows: list[dict[str, Any]]) -> str:
    headers = ["system", "acknowledged", "done at kill", "lost", "unfinished", "steps run twice", "recorded twice"]
    lines = []
    for row in rows:
        if row["error"]:
            lines.append([row["label"], "-", "-", "-", "-", "-", "-"])
            continue
        lines.append(
            [
                row["label"],
                str(row["acknowledged"]),
                str(row["finished_before_kill"]),
                str(row["lost"]),
                str(row["unfinished"]),
                str(row["ran_twice"]),
                str(row["recorded_twice"]),
            ]
        )
    return _table(headers, lines)


def render(results: dict[str, Any]) -> str:
    """Every table, with notes and errors, as printed by ``make bench``."""
    parts = []
    for key, workload in results["workloads"].items():
        rows = workload["rows"]
        parts.append(f"\n{TITLES[key]}  ({workload['size']})")
        if key == "w4":
            parts.append(durability_table(rows))
        elif key == "w3":
            parts.append(http_table(rows))
        elif key == "memory":
            parts.append(memory_table(rows))
        else:
            parts.append(throughput_table(key, rows))
        parts += [f"  note: {note}" for note in workload.get("notes", [])]
        parts += [f"  FAILED {row_name(row)}: {row['error']}" for row in rows if row["error"]]
    return "\n".join(parts)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


def _durability_chart(axes: Any, rows: list[dict[str, Any]]) -> None:
    """Three bars per system: instances lost or unfinished, steps run twice, steps recorded twice."""
    kinds = [
        ("lost or unfinished instances", "#c53030"),
        ("steps run twice", "#d69e2e"),
        ("steps recorded twice", "#553c9a"),
    ]
    height = 0.26
    for index, (kind, colour) in enumerate(kinds):
        values = [(row["lost"] + row["unfinished"], row["ran_twice"], row["recorded_twice"])[index] for row in rows]
        positions = [position + (index - 1) * height for position in range(len(rows))]
        bars = axes.barh(positions, values, height=height, color=colour, label=kind)
        for bar, value in zip(bars, values, strict=True):
            axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value}", va="center", fontsize=7)
    axes.set_yticks(range(len(rows)), [row["label"] for row in rows])
    axes.set_xlabel(f"count (N={rows[0]['n']:,} instances started per system)")
    axes.legend(fontsize=8, loc="lower right")


def charts(results: dict[str, Any], folder: Path) -> list[Path]:
    """One horizontal bar chart per workload; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"ours": "#2b6cb0", "lsw033": "#dd6b20", "dbos": "#38a169", "bare": "#718096"}
    written = []
    for key, workload in results["workloads"].items():
        rows = [row for row in workload["rows"] if row["value"] is not None]
        if not rows:
            continue
        if key == "w3":
            written.append(_http_chart(plt, workload, rows, folder / "w3.png", colours))
            continue
        figure, axes = plt.subplots(figsize=(9, (1.0 if key == "w4" else 0.55) * len(rows) + 1.6))
        if key == "w4":
            _durability_chart(axes, rows)
        else:
            values = [row["value"] for row in rows]
            if key != "memory":
                axes.set_xscale("log")
            axes.set_xlabel(workload["unit"] + ("  (log scale)" if key != "memory" else ""))
            bars = axes.barh([row["label"] for row in rows], values, color=[colours[row["family"]] for row in rows])
            for bar, row, value in zip(bars, rows, values, strict=True):
                shown = row.get("ratio") is not None and row["family"] != "ours"
                ratio = f"  ({_ratio(row['ratio'])}x ours)" if shown else ""
                digits = {"memory": 1, "latency": 2}.get(key, 0)
                text = f" {value:,.{digits}f}"
                axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, text + ratio, va="center", fontsize=8)
        axes.invert_yaxis()
        axes.set_title(f"{TITLES[key]}\n{workload['size']}", fontsize=10)
        axes.margins(x=0.35)
        figure.tight_layout()
        path = folder / f"{key}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written


def _http_chart(plt: Any, workload: dict[str, Any], rows: list[dict[str, Any]], path: Path,
                colours: dict[str, str]) -> Path:  # fmt: skip
    """W3: a panel per server stack, the same rows in the same order, each bar with its ratio to the ceiling."""
    names = list(dict.fromkeys(f"{row['scenario_label']}: {row['label']}" for row in rows))
    figure, panels = plt.subplots(
        1, len(w3.STACKS), figsize=(15, 0.42 * len(names) + 1.8), sharey=True, sharex=True, squeeze=False
    )
    for axes, stack in zip(panels[0], w3.STACKS, strict=True):
        shown = {f"{row['scenario_label']}: {row['label']}": row for row in rows if row["server"] == stack.key}
        values = [shown[name]["value"] if name in shown else 0 for name in names]
        colour = [colours[shown[name]["family"]] if name in shown else "white" for name in names]
        bars = axes.barh(names, values, color=colour)
        for bar, name in zip(bars, names, strict=True):
            row = shown.get(name)
            if row is None:
                continue
            ratio = f"  ({_ratio(row['ceiling_ratio'])}x bare)" if row["scenario"] != "bare" else ""
            text = f" {row['value']:,.0f}{ratio}"
            axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8)
        axes.set_xscale("log")
        axes.set_xlabel("requests/s  (log scale)")
        axes.set_title(f"uvicorn, {stack.label}", fontsize=10)
        axes.margins(x=0.45)
    panels[0][0].invert_yaxis()
    figure.suptitle(f"{TITLES['w3']}\n{workload['size']}", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
