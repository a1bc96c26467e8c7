import os

import pytest

from tests.estates import EstateBuilder


@pytest.fixture(autouse=True)
def _no_cloud_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may pick up a real identity or reach a metadata/login endpoint."""
    for name in list(os.environ):
        if name.startswith(("AZURE_", "MSI_", "IDENTITY_", "AMLAUDIT_")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def builder() -> EstateBuilder:
    return EstateBuilder()
