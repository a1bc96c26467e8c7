"""ARM resource ids: case-insensitive keys and the few parent relations checks follow.

Azure compares resource ids case-insensitively and hands them back in whatever
case the caller (or a service) used: `resourcegroups`, `Microsoft.Network` vs
`microsoft.network`, upper-case names. Everything in the graph is keyed by
:func:`id_key`, and the original spelling is kept for reports.
"""

from __future__ import annotations

from dataclasses import dataclass


def id_key(resource_id: str) -> str:
    """The comparison key of an ARM id: lower-cased, without a trailing slash."""
    return resource_id.strip().rstrip("/").lower()


def looks_like_arm_id(value: object) -> bool:
    """True for strings shaped like `/subscriptions/<s>/...` (placeholders in samples are not)."""
    return isinstance(value, str) and value.strip().lower().startswith("/subscriptions/")


@dataclass(frozen=True, slots=True)
class ArmId:
    """The parts of an ARM id that relations need."""

    subscription_id: str
    resource_group: str | None
    # (type, name) pairs after `providers/<namespace>`, e.g. [("virtualNetworks", "v"), ("subnets", "s")]
    namespace: str | None
    segments: tuple[tuple[str, str], ...]

    @property
    def subscription_scope(self) -> str:
        return f"/subscriptions/{self.subscription_id}"

    @property
    def resource_group_scope(self) -> str | None:
        if self.resource_group is None:
            return None
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"


def parse_arm_id(resource_id: str) -> ArmId | None:
    """Split an ARM id; None when it is not one (a placeholder string, an empty value)."""
    if not looks_like_arm_id(resource_id):
        return None
    parts = [p for p in resource_id.strip().split("/") if p]
    if len(parts) < 2:
        return None
    subscription_id = parts[1]
    rest = parts[2:]
    resource_group: str | None = None
    if len(rest) >= 2 and rest[0].lower() == "resourcegroups":
        resource_group = rest[1]
        rest = rest[2:]
    namespace: str | None = None
    if len(rest) >= 2 and rest[0].lower() == "providers":
        namespace = rest[1]
        rest = rest[2:]
    pairs = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2))
    return ArmId(subscription_id, resource_group, namespace, pairs)


def parent_id(resource_id: str, child_type: str) -> str | None:
    """The id up to (not including) the `/<child_type>/<name>` segment, e.g. a subnet's VNet."""
    lowered = resource_id.lower()
    marker = f"/{child_type.lower()}/"
    at = lowered.rfind(marker)
    if at <= 0:
        return None
    return resource_id[:at]


def subscription_of(resource_id: str) -> str | None:
    parsed = parse_arm_id(resource_id)
    return parsed.subscription_id if parsed else None


def covering_scopes(resource_id: str) -> list[str]:
    """Keys of the scopes whose locks apply to a resource: itself, its group, its subscription."""
    parsed = parse_arm_id(resource_id)
    if parsed is None:
        return [id_key(resource_id)]
    scopes = [id_key(resource_id)]
    if parsed.resource_group_scope:
        scopes.append(id_key(parsed.resource_group_scope))
    scopes.append(id_key(parsed.subscription_scope))
    return scopes
