"""The two readings of `Internet` under a subnet's user routes: judge both, keep the worse.

Azure puts the prefixes of a subnet's user routes in `VirtualNetwork`; whether `Internet` then
also shrinks by them is not documented. The catalog: "where the subnet has routes, judge the
check under both readings (`Internet` outside `VirtualNetwork` with the route prefixes, and
outside it without them), each reading applied to the whole evaluation, and report the worse
verdict, naming the reading that decided."

:func:`judged_both_ways` runs a check's judgement of one subnet under the first reading while
the flow context watches every evaluation (:meth:`FlowContext.watching`). The second reading
is judged only when it could differ: the readings coincide when the route prefixes lie inside
the own networks, and an evaluation cannot change unless some packet with an address in the
route-only prefixes reached a rule naming `Internet` on that side
(:func:`~amlaudit.auditor.netpolicy.depends_on_internet`). Worse means fail, then error, then
pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from amlaudit.auditor.check import Verdict
from amlaudit.auditor.flowquery import FlowContext, FlowSite, Unknown
from amlaudit.auditor.netpolicy import InternetReading

FIRST, SECOND = InternetReading.WITH_ROUTES, InternetReading.WITHOUT_ROUTES
_RANK = {"not_applicable": 0, "pass": 1, "error": 2, "fail": 3}
_OUTCOME = {"pass": "passes", "fail": "fails", "error": "cannot be decided", "not_applicable": "does not apply"}


def judged_both_ways(ctx: FlowContext, site: FlowSite, judge: Callable[[FlowSite], Verdict]) -> Verdict:
    """`judge(site)` under each reading of `Internet` that could matter; the worse verdict, with the
    reading that decided it in the message and under `internet_reading` in the evidence."""
    tags = site.tags
    if isinstance(tags, Unknown) or not tags.readings_differ:
        return judge(site)
    first, depends = ctx.watching(tags.tags.reading_dependent, lambda: judge(site.under(FIRST)))
    if not depends:
        return first
    second = judge(site.under(SECOND))
    decided, reading, other, other_reading = ((second, SECOND, first, FIRST) if _RANK[second.status] > _RANK[first.status]
                                              else (first, FIRST, second, SECOND))
    where = f" of {tags.route_table_name}" if tags.route_table_name else ""
    route_prefixes = [f"{', '.join(source.prefixes)} ({source.words})" for source in tags.routes]
    evidence: dict[str, Any] = {
        "decided_by": reading.words,
        "other_reading": {"reading": other_reading.words, "status": other.status, "message": other.message},
        "route_prefixes": route_prefixes[:10] + ([f"and {len(route_prefixes) - 10} more"] if len(route_prefixes) > 10
                                                 else []),
    }
    if other.status == decided.status:
        note = f"both readings of Internet under the routes{where} give this verdict; shown: {reading.words}"
    else:
        note = (f"judged with {reading.words}{where}, the worse of the two readings; with {other_reading.words} the "
                f"check {_OUTCOME[other.status]}")
    return replace(decided, message=f"{decided.message} ({note})",
                   evidence={**decided.evidence, "internet_reading": evidence})
