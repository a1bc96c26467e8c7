"""Writer processes for the concurrency tests (imported by spawned children, so a module of its own)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from amlaudit.auditor.history.commands import recording
from amlaudit.auditor.history.store import open_store
from tests.history.helpers import demo_result, facts


def write_runs(url: str, barrier: Any, writer: str, runs: int, hold_seconds: float) -> None:
    """Like `scan --history` `runs` times: open (migrating a new database), record, 'render' inside the transaction."""
    result = demo_result()
    barrier.wait()  # every writer starts at the same moment, migration included
    for index in range(runs):
        store = open_store(url, create=True)
        run_facts = dataclasses.replace(facts(index), user_name=writer)
        with recording(store, result, run_facts) as recorded:
            assert recorded.history is not None and recorded.history.current_run is not None
            time.sleep(hold_seconds)  # the reports are rendered and written while the run is uncommitted
