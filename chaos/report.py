"""A drill's report: the figures, the violations, the timeline of what was done, as
markdown, and a PNG timeline of the operations with the fault window (matplotlib, from
the ``drills`` extra; without it the report says so and has no picture)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.checks import Op

if TYPE_CHECKING:
    from chaos.scenarios import Scenario


@dataclass(frozen=True)
class Figures:
    acknowledged: int
    lost: int
    #: From the fault to the first write acknowledged after it (None: none failed).
    rto_s: float | None
    write_gap_s: float
    online_gap_s: float
    offline_gap_s: float
    #: After a failover: the drill time until which the lost region's writes were copied.
    bound_s: float | None
    catalog_lag_ms: float | None
    errors: dict[str, int]
    operations: dict[str, int]
    catalog_rows_lost: int = 0
    #: From the heal until every region held every acknowledged write and agreed: how far
    #: replication had fallen behind (None: they never did within the drill's bound).
    converged_s: float | None = None
    #: Acknowledged writes the standby did not hold yet when the fault was healed (for
    #: the faults that let writes go on): how far replication had fallen behind.
    behind_at_heal: int | None = None
    #: The longest time the drill's own client process stood still (left out of the
    #: stretches above: the clients could not measure the service then).
    client_paused_s: float = 0.0


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def write_report(
    out_dir: Path,
    scenario: Scenario,
    figures: Figures,
    ops: list[Op],
    timeline: list[tuple[float, str]],
    fault: tuple[float, float] | None,
    violations: list[str],
) -> Path:
    """Write ``{scenario}.md`` (and ``{scenario}.png``) into ``out_dir``; the markdown's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    picture = _plot(out_dir / f"{scenario.name}.png", ops, timeline, fault)
    lag = "-" if figures.catalog_lag_ms is None else f"{figures.catalog_lag_ms:.0f} ms"
    lines = [
        f"# Drill: {scenario.name}",
        "",
        f"{scenario.summary}. Run {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}.",
        "",
        f"**{'PASS' if not violations else 'FAIL'}**",
        "",
        "| figure | value |",
        "|---|---|",
        f"| writes acknowledged | {figures.acknowledged} |",
        f"| acknowledged writes lost | {figures.lost} |",
        f"| RTO (fault to first write acknowledged after it) | {_seconds(figures.rto_s)} |",
        f"| longest stretch without a successful write | {_seconds(figures.write_gap_s)} |",
        f"| longest stretch without a successful online read | {_seconds(figures.online_gap_s)} |",
        f"| longest stretch without a successful offline read | {_seconds(figures.offline_gap_s)} |",
        f"| longest pause of the clients' process (left out above) | {_seconds(figures.client_paused_s)} |",
        f"| loss bound (lost region copied until, drill time) | {_seconds(figures.bound_s)} |",
        f"| catalog lag at failover | {lag} |",
        f"| catalog rows only the lost region had | {figures.catalog_rows_lost} |",
        f"| acknowledged writes not yet in the standby at the heal | "
        f"{'-' if figures.behind_at_heal is None else figures.behind_at_heal} |",
        f"| heal to every region converged | {_seconds(figures.converged_s)} |",
        f"| operations | {', '.join(f'{k} {v}' for k, v in sorted(figures.operations.items()))} |",
        f"| errors by kind | {', '.join(f'{k} {v}' for k, v in sorted(figures.errors.items())) or 'none'} |",
        "",
        "## Violations",
        "",
        *([f"- {v}" for v in violations] or ["none"]),
        "",
        "## Timeline",
        "",
        *[f"- {t:7.2f} s  {what}" for t, what in timeline],
        "",
        f"![timeline]({picture.name})"
        if picture
        else "(no picture: install the `drills` extra for matplotlib)",
        "",
    ]
    path = out_dir / f"{scenario.name}.md"
    path.write_text("\n".join(lines))
    (out_dir / f"{scenario.name}.json").write_text(
        json.dumps({"figures": asdict(figures), "violations": violations}, indent=2)
    )
    return path


def _plot(path: Path, ops: list[Op], timeline: list[tuple[float, str]], fault: tuple[float, float] | None):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = {"write": 2, "online": 1, "offline": 0}
    fig, ax = plt.subplots(figsize=(11, 3.6))
    if fault:
        ax.axvspan(*fault, color="#f4cccc", label="fault until healed")
    for kind, y in rows.items():
        good = [op.end for op in ops if op.kind == kind and op.ok]
        bad = [op.end for op in ops if op.kind == kind and not op.ok]
        ax.scatter(good, [y] * len(good), s=6, color="#3c78d8", marker="|")
        ax.scatter(bad, [y + 0.25] * len(bad), s=10, color="#cc0000", marker="x")
    for t, what in timeline:
        ax.axvline(t, color="#999999", linewidth=0.6)
        ax.text(t, 2.55, what[:40], rotation=20, fontsize=6, va="bottom")
    ax.set_yticks(list(rows.values()), [f"{k} (x: error)" for k in rows])
    ax.set_ylim(-0.5, 3.4)
    ax.set_xlabel("seconds since the drill started")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
