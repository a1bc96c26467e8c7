"""pytest fixtures for live-collection tests against the stand-in.

Import them into a test module (`from tests.standin.fixtures import arm_standin, standin_ca  # noqa: F401`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.standin.environment import standin_environment
from tests.standin.netguard import LoopbackGuard
from tests.standin.server import StandIn

StartStandIn = Callable[..., StandIn]


@pytest.fixture(scope="session")
def standin_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def arm_standin(standin_ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StartStandIn]:
    """`arm_standin(estate, page_size=..., latency=...)` starts a stand-in serving `estate` and points
    the environment at it (see standin_environment); the test fails if anything left loopback."""
    guard = LoopbackGuard(monkeypatch)
    started: list[StandIn] = []

    def start(estate: dict[str, Any], **settings: Any) -> StandIn:
        standin = StandIn(estate, ca=standin_ca, **settings).start()
        started.append(standin)
        to_set, to_remove = standin_environment(standin.url, standin.ca, tmp_path)
        for name in to_remove:
            monkeypatch.delenv(name, raising=False)
        for name, value in to_set.items():
            monkeypatch.setenv(name, value)
        return standin

    yield start
    for standin in started:
        standin.stop()
    assert not guard.violations, f"a test reached beyond loopback: {guard.violations}"
