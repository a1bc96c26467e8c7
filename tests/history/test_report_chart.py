"""The report's trend chart: drawn from `AuditResult.history` alone, inline SVG, nothing loaded, nothing unescaped."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from amlaudit.auditor.cli import main
from amlaudit.auditor.history.series import HistoryTrend, RunPoint
from amlaudit.reports.history_chart import HEIGHT, WIDTH, trend_chart
from amlaudit.reports.html_report import HtmlReporter
from tests.history.helpers import DAY0, demo_result
from tests.test_report_html import Element, parse


def trend(*totals: tuple[int, int], total_runs: int | None = None) -> HistoryTrend:
    points = tuple(RunPoint(run_id=i + 1, started_at=DAY0 + timedelta(days=i), fail=fail, error=error, findings=90,
                            current=i == len(totals) - 1) for i, (fail, error) in enumerate(totals))
    return HistoryTrend(runs=points, total_runs=total_runs or len(points))


def render(history: HistoryTrend | None) -> str:
    return HtmlReporter().render(dataclasses.replace(demo_result(), history=history)).decode()


def csp(dom: Element) -> str:
    return next(str(m.attrs["content"]) for m in dom.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy")


def bar_rects(group: Element) -> tuple[Element, Element]:
    fail, error = group.find_all("rect")[:2]
    return fail, error


def test_the_chart_shows_one_bar_per_run_with_the_current_run_marked() -> None:
    dom = parse(render(trend((10, 2), (5, 0), (0, 4), (8, 1), total_runs=40)))
    section = dom.find("section", id="history")
    svg = section.find("svg")
    assert svg.attrs["role"] == "img"
    groups = svg.find_all("g")
    assert len(groups) == 4
    assert [("current" in g.classes()) for g in groups] == [False, False, False, True]
    titles = [g.find("title").text() for g in groups]
    assert titles[0] == "Run #1, 2026-01-01 02:00 UTC: 10 failing, 2 could not be verified"
    assert titles[3] == "Run #4 (this report), 2026-01-04 02:00 UTC: 8 failing, 1 could not be verified"
    assert "last 4 of 40 recorded runs" in section.text()


def test_bar_heights_are_proportional_and_stacked() -> None:
    dom = parse(render(trend((10, 2), (5, 0), (0, 4))))
    groups = dom.find("section", id="history").find("svg").find_all("g")
    heights = [(float(f.attrs["height"] or 0), float(e.attrs["height"] or 0)) for f, e in map(bar_rects, groups)]
    unit = heights[0][0] / 10
    assert unit > 0
    assert heights == [pytest.approx((10 * unit, 2 * unit), abs=0.02), pytest.approx((5 * unit, 0), abs=0.02),
                       pytest.approx((0, 4 * unit), abs=0.02)]
    fail, error = bar_rects(groups[0])
    # The unverifiable part sits on top of the failing part, both on the same baseline.
    assert float(error.attrs["y"] or 0) + float(error.attrs["height"] or 0) == pytest.approx(float(fail.attrs["y"] or 0), abs=0.02)
    tallest = float(fail.attrs["height"] or 0) + float(error.attrs["height"] or 0)
    assert tallest <= HEIGHT


def test_the_numbers_are_also_a_table() -> None:
    dom = parse(render(trend((10, 2), (5, 0))))
    rows = dom.find("table", id="history-runs").find("tbody").find_all("tr")
    assert [[td.text().strip() for td in row.find_all("td")] for row in rows] == [
        ["2 (this report)", "2026-01-02 02:00", "5", "0", "90"], ["1", "2026-01-01 02:00", "10", "2", "90"]]


def test_the_chart_loads_nothing_and_needs_no_change_to_the_policy() -> None:
    with_chart, without = render(trend((3, 1), (2, 0))), render(None)
    chart_markup = with_chart[with_chart.index('<section id="history">'):with_chart.index('<section id="collection-errors"')]
    lowered = chart_markup.lower()
    for forbidden in ("style=", "href", "src=", "url(", "<script", "<foreignobject", "<image", "<use"):
        assert forbidden not in lowered
    assert csp(parse(with_chart)) == csp(parse(without))
    assert "'unsafe-inline'" not in csp(parse(with_chart))


def test_without_history_there_is_no_chart() -> None:
    html = render(None)
    assert 'id="history"' not in html and "<svg" not in html
    assert trend_chart(None) is None
    assert trend_chart(HistoryTrend(runs=(), total_runs=0)) is None


def test_an_all_clear_history_draws_empty_bars_on_a_unit_axis() -> None:
    chart = trend_chart(trend((0, 0), (0, 0)))
    assert chart is not None
    assert chart.y_max == 1
    assert all(bar.fail_height == 0 and bar.error_height == 0 for bar in chart.bars)


def test_many_runs_stay_inside_the_drawing() -> None:
    chart = trend_chart(trend(*[(i % 7, i % 3) for i in range(365)]))
    assert chart is not None
    assert all(0 <= bar.x and bar.x + bar.width <= WIDTH for bar in chart.bars)
    xs = [bar.x for bar in chart.bars]
    assert xs == sorted(xs)


def test_a_scan_with_history_charts_the_previous_runs_and_this_one(history_url: str, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(3):
        assert main(["scan", "--demo", "--out", str(tmp_path / "out"), "--history", history_url, "--quiet"]) == 1
    capsys.readouterr()
    dom = parse((tmp_path / "out" / "report.html").read_text())
    groups = dom.find("section", id="history").find("svg").find_all("g")
    assert len(groups) == 3
    document = json.loads((tmp_path / "out" / "findings.json").read_text())
    failing, errors = document["summary"]["fail"], document["summary"]["error"]
    assert re.match(rf"Run #3 \(this report\), .*: {failing} failing, {errors} could not be verified",
                    groups[2].find("title").text())
    assert "current" in groups[2].classes()
