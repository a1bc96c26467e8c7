"""The report's trend chart: failing and unverifiable findings per recorded run, as inline SVG.

Only geometry is computed here (numbers and label strings); the template draws the SVG
and autoescapes every label. The chart uses presentation attributes (`fill`, `stroke`),
never `style`, so the page's Content-Security-Policy needs no change, and it loads
nothing. Data comes from `AuditResult.history`, filled by the CLI from the history
database: this module never opens a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from amlaudit.auditor.history.series import HistoryTrend, RunPoint

WIDTH, HEIGHT = 720, 180
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 26  # room for the y labels and the dates
FAIL_COLOUR, ERROR_COLOUR, CURRENT_COLOUR = "#b42318", "#8a4b00", "#1b1f24"
_MAX_BAR_WIDTH = 28.0


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    fail_y: float
    fail_height: float
    error_y: float
    error_height: float
    label: str  # the bar's tooltip (<title>)
    current: bool


@dataclass(frozen=True, slots=True)
class TrendChart:
    width: int
    height: int
    left: int
    right_edge: int
    top: int
    baseline: float
    middle: float
    y_max: int
    bars: tuple[Bar, ...]
    first_date: str
    last_date: str
    runs: tuple[RunPoint, ...]  # for the table beside the chart
    total_runs: int
    description: str
    fail_colour: str = FAIL_COLOUR
    error_colour: str = ERROR_COLOUR
    current_colour: str = CURRENT_COLOUR


def _when(point: RunPoint) -> str:
    return point.started_at.strftime("%Y-%m-%d %H:%M UTC")


def bar_label(point: RunPoint) -> str:
    this = " (this report)" if point.current else ""
    return f"Run #{point.run_id}{this}, {_when(point)}: {point.fail} failing, {point.error} could not be verified"


def trend_chart(trend: HistoryTrend | None) -> TrendChart | None:
    """None when the run was not recorded in a history (no chart at all)."""
    if trend is None or not trend.runs:
        return None
    points = trend.runs
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = float(TOP + plot_height)
    y_max = max(max(p.fail + p.error for p in points), 1)
    slot = plot_width / len(points)
    bar_width = min(slot * 0.7, _MAX_BAR_WIDTH)
    scale = plot_height / y_max
    bars = []
    for index, point in enumerate(points):
        x = LEFT + index * slot + (slot - bar_width) / 2
        fail_height = point.fail * scale
        error_height = point.error * scale
        bars.append(Bar(
            x=round(x, 2), width=round(bar_width, 2),
            fail_y=round(baseline - fail_height, 2), fail_height=round(fail_height, 2),
            error_y=round(baseline - fail_height - error_height, 2), error_height=round(error_height, 2),
            label=bar_label(point), current=point.current,
        ))
    first, last = points[0], points[-1]
    description = (f"Failing (red) and unverifiable (brown) findings in the last {len(points)} of "
                   f"{trend.total_runs} recorded runs, from {_when(first)} to {_when(last)}; "
                   f"the latest run has {last.fail} failing and {last.error} unverifiable.")
    return TrendChart(
        width=WIDTH, height=HEIGHT, left=LEFT, right_edge=WIDTH - RIGHT, top=TOP, baseline=baseline,
        middle=round(baseline - plot_height / 2, 2), y_max=y_max, bars=tuple(bars),
        first_date=first.started_at.strftime("%Y-%m-%d"), last_date=last.started_at.strftime("%Y-%m-%d"),
        runs=points, total_runs=trend.total_runs, description=description,
    )
