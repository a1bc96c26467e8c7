"""The globally reachable set agrees with Python's ipaddress is_global, exactly, on both families."""

from __future__ import annotations

import ipaddress
import random

import pytest

from amlaudit.auditor.netpolicy import AddressSet, globally_reachable, not_globally_reachable
from amlaudit.auditor.netpolicy.addresses import format_address
from amlaudit.auditor.netpolicy.intervals import pairs

ENDS = {4: 1 << 32, 6: 1 << 128}


def _is_global(family: int, value: int) -> bool:
    return (ipaddress.IPv4Address(value) if family == 4 else ipaddress.IPv6Address(value)).is_global


def _claims_global(family: int, value: int) -> bool:
    return format_address(family, value) in globally_reachable()  # type: ignore[arg-type]


@pytest.mark.parametrize("family", [4, 6])
def test_every_boundary_and_its_neighbours_agree_with_is_global(family: int) -> None:
    bounds = not_globally_reachable().family_set(family)  # type: ignore[arg-type]
    assert bounds, "some addresses of each family are not globally reachable"
    probes = {value for bound in bounds for value in (bound - 2, bound - 1, bound, bound + 1) if 0 <= value < ENDS[family]}
    probes |= {0, ENDS[family] - 1}
    for value in sorted(probes):
        assert _claims_global(family, value) == _is_global(family, value), format_address(family, value)  # type: ignore[arg-type]


@pytest.mark.parametrize("family", [4, 6])
def test_random_addresses_agree_with_is_global(family: int) -> None:
    rng = random.Random(20261128 + family)
    bounds = not_globally_reachable().family_set(family)  # type: ignore[arg-type]
    samples = [rng.randrange(ENDS[family]) for _ in range(3000)]
    # and inside every non-global stretch, where a uniform draw over IPv6 would never land
    samples += [rng.randrange(lo, hi) for lo, hi in pairs(bounds) for _ in range(5)]
    for value in samples:
        assert _claims_global(family, value) == _is_global(family, value), format_address(family, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("address", "reachable"), [
    ("10.0.0.1", False), ("172.16.0.1", False), ("172.32.0.1", True), ("192.168.1.1", False),
    ("100.64.0.1", False), ("100.127.255.255", False), ("100.128.0.0", True),
    ("192.0.2.1", False), ("198.51.100.20", False), ("203.0.113.7", False),
    ("169.254.169.254", False), ("127.0.0.1", False), ("0.0.0.0", False), ("255.255.255.255", False),
    ("8.8.8.8", True), ("84.17.32.1", True), ("168.63.129.16", True),
    ("fd00::1", False), ("fe80::1", False), ("2001:db8::1", False), ("::1", False), ("2a00:1450::1", True),
])
def test_well_known_ranges(address: str, reachable: bool) -> None:
    assert (address in globally_reachable()) is reachable
    assert (address in not_globally_reachable()) is not reachable
    assert ipaddress.ip_address(address).is_global is reachable


def test_the_two_sets_partition_every_address() -> None:
    assert globally_reachable() | not_globally_reachable() == AddressSet.everything()
    assert not globally_reachable().overlaps(not_globally_reachable())
