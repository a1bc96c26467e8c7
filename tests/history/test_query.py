"""Reading history back: failures per check over time, open age of findings, the report's series."""

from __future__ import annotations

from datetime import timedelta

import pytest

from amlaudit.auditor.findings import Finding
from amlaudit.auditor.history import query
from amlaudit.auditor.history.store import HistoryStore
from tests.history.helpers import DAY0, facts, finding, open_for_writing, record, result_of

SVR, KVR = "storage-vnet-rule", "keyvault-vnet-rule"
A, B, C, D, E, K = (f"/subscriptions/s/resourceGroups/rg/providers/x/{n}" for n in "abcdek")
F, P, X, N = "fail", "pass", "error", None  # N: not reported by that run
# One row per finding, one column per daily run (days 0..6).
TIMELINE: dict[tuple[str, str], list[str | None]] = {
    (SVR, A): [F, F, P, F, X, F, F],  # fails again after a pass: the streak starts on day 3
    (SVR, B): [F, F, P, N, N, N, N],  # resolved on day 2
    (SVR, C): [F, F, F, F, N, N, N],  # no longer reported after day 3
    (SVR, D): [P, P, P, P, P, F, X],  # failed on day 5, could not be verified on day 6
    (SVR, E): [P, P, P, P, P, P, P],  # never failed
    (KVR, K): [F, F, F, F, F, F, F],  # failing all week
}


def run_findings(day: int) -> list[Finding]:
    return [finding(check_id, subject, statuses[day]) for (check_id, subject), statuses in TIMELINE.items()
            if statuses[day] is not None]


@pytest.fixture
def week(history_url: str) -> HistoryStore:
    store = open_for_writing(history_url)
    for day in range(7):
        record(store, result_of(*run_findings(day)), facts(day))
    return store


def ages_by_subject(ages: list[query.FindingAge]) -> dict[str, query.FindingAge]:
    return {age.subject: age for age in ages}


def per_check(failures: list[query.FailureCount]) -> dict[str, list[int]]:
    counts: dict[str, list[int]] = {}
    for count in failures:
        counts.setdefault(count.check_id, []).append(count.failures)
    return counts


def test_failures_per_check_per_run_with_zeros(week: HistoryStore) -> None:
    with week.reading() as connection:
        table = query.failures_per_check(connection)
    assert per_check(table) == {KVR: [1] * 7, SVR: [3, 3, 1, 2, 0, 2, 1]}
    assert [c.check_id for c in table] == [KVR] * 7 + [SVR] * 7  # by check, then time
    storage = [c for c in table if c.check_id == SVR]
    assert [c.started for c in storage] == [DAY0 + timedelta(days=d) for d in range(7)]
    assert [c.run for c in storage] == [1, 2, 3, 4, 5, 6, 7]
    assert all(c.started.utcoffset() == timedelta(0) for c in storage)


def test_open_age_follows_streaks_states_and_resolution(week: HistoryStore) -> None:
    with week.reading() as connection:
        ages = query.finding_ages(connection)
    day = [DAY0 + timedelta(days=d) for d in range(7)]
    by_subject = ages_by_subject(ages)
    assert set(by_subject) == {A, B, C, D, K}  # E never failed
    expected = {
        K: ("open", day[0], day[6], 6.0, 7),
        A: ("open", day[3], day[6], 3.0, 5),  # the pass on day 2 ended the first streak; the error on day 4 did not end this one
        D: ("unverified", day[5], day[5], 1.0, 1),  # open until its latest observation (the error on day 6)
        C: ("gone", day[0], day[3], 3.0, 4),
        B: ("resolved", day[0], day[1], 2.0, 2),  # open until the run that saw it pass
    }
    for subject, (state, first, last, days, failed) in expected.items():
        row = by_subject[subject]
        assert (row.state, row.first_seen, row.last_seen, row.days_open, row.runs_failed) == (
            state, first, last, days, failed), subject
    assert [a.subject for a in ages] == [K, A, D, C, B]
    assert all(a.fingerprint and a.check_id for a in ages)  # open (oldest first), unverified, gone, resolved


def test_last_n_runs_narrows_both_tables(week: HistoryStore) -> None:
    with week.reading() as connection:
        failures = query.failures_per_check(connection, last=3)
        ages = query.finding_ages(connection, last=3)
        listed = query.list_runs(connection, last=3)
    assert per_check(failures) == {SVR: [0, 2, 1], KVR: [1, 1, 1]}
    by_subject = ages_by_subject(ages)
    assert set(by_subject) == {A, D, K}
    assert by_subject[A].first_seen == DAY0 + timedelta(days=5)  # the window starts with A's error
    assert by_subject[K].days_open == 2.0
    assert [r.run for r in listed] == [5, 6, 7]


def test_one_check_only(week: HistoryStore) -> None:
    with week.reading() as connection:
        failures = query.failures_per_check(connection, check_id=KVR)
        ages = query.finding_ages(connection, check_id=KVR)
    assert {c.check_id for c in failures} == {KVR}
    assert [a.subject for a in ages] == [K]


def test_list_runs_oldest_first_with_their_totals(week: HistoryStore) -> None:
    with week.reading() as connection:
        listed = query.list_runs(connection)
    assert [r.run for r in listed] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.fail for r in listed] == [4, 4, 2, 3, 1, 3, 2]
    assert [r.error for r in listed] == [0, 0, 0, 0, 1, 0, 1]
    assert [r.passed for r in listed] == [2, 2, 4, 2, 2, 1, 1]
    first = listed[0]
    assert (first.user, first.host, first.exit, first.subscriptions, first.findings) == ("tester", "ci-host", 1, ("sub-a",), 6)
    assert first.finished - first.started == timedelta(seconds=42)


def test_report_trend_is_oldest_first_and_marks_the_current_run(week: HistoryStore) -> None:
    with week.reading() as connection:
        trend = query.report_trend(connection, current_run_id=7, last=4)
    assert [p.run_id for p in trend.runs] == [4, 5, 6, 7]
    assert [p.fail for p in trend.runs] == [3, 1, 3, 2]
    assert [p.current for p in trend.runs] == [False, False, False, True]
    assert trend.total_runs == 7
    assert trend.current_run is not None and trend.current_run.run_id == 7
    assert all(p.started_at.tzinfo is not None and p.started_at.utcoffset() == timedelta(0) for p in trend.runs)
    assert trend.runs[0].started_at == DAY0 + timedelta(days=3)


def test_runs_recorded_out_of_order_are_read_in_time_order(sqlite_url: str) -> None:
    store = open_for_writing(sqlite_url)
    record(store, result_of(finding(SVR, A, F)), facts(2))
    record(store, result_of(finding(SVR, A, P)), facts(1))  # a slower run that started earlier, recorded later
    with store.reading() as connection:
        assert [r.run for r in query.list_runs(connection)] == [2, 1]
        ages = query.finding_ages(connection)
    assert ages[0].state == "open"  # the pass came before the failure in time
    store.dispose()


def test_an_empty_history_reads_as_empty_tables(sqlite_url: str) -> None:
    store = open_for_writing(sqlite_url)
    with store.reading() as connection:
        assert query.list_runs(connection) == []
        assert query.failures_per_check(connection) == []
        assert query.finding_ages(connection) == []
        assert query.report_trend(connection, current_run_id=1).runs == ()
    store.dispose()


def test_a_history_with_no_failure_has_empty_trend_tables(sqlite_url: str) -> None:
    store = open_for_writing(sqlite_url)
    record(store, result_of(finding(SVR, A, P)), facts(0))
    with store.reading() as connection:
        assert query.failures_per_check(connection) == []
        assert query.finding_ages(connection) == []
        assert len(query.list_runs(connection)) == 1
    store.dispose()
