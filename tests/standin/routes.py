"""Resource Manager's read API over an estate given as an amlaudit snapshot.

Answers the paths a Resource Manager client reads, with ARM's semantics:
- `/subscriptions` and `/subscriptions/{id}`;
- a resource by id (ids compare case-insensitively);
- lists per subscription and type (`/subscriptions/{s}/providers/{ns}/{type}`), per
  resource group and type, and child collections (`{parent id}/{child type}`);
- `.../providers/Microsoft.Network/locations/{loc}/usages` and `.../serviceTags`;
- `{scope}/providers/Microsoft.Authorization/locks`: every lock at or below the scope
  (subscription, resource group or resource), as the locks API lists them;
- `{virtual network gateway id}/connections` (VirtualNetworkGateways_ListConnections): every
  `Microsoft.Network/connections` whose `virtualNetworkGateway1` or `virtualNetworkGateway2` is
  that gateway, wherever the connection lives, as stored (a GET body may carry `sharedKey`).
Paging is the server's business; this module only says what a path holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from amlaudit.auditor.ids import id_key, parse_arm_id


@dataclass(frozen=True)
class Document:
    """A single JSON document (a resource, a subscription, a service-tag list)."""

    body: Any


@dataclass(frozen=True)
class Collection:
    """The items of a list, served as `{"value": [...], "nextLink": ...}` pages."""

    items: list[Any]


@dataclass(frozen=True)
class Missing:
    status: int
    code: str
    message: str


_LOCKS_SUFFIX = "/providers/microsoft.authorization/locks"
_USAGES = re.compile(r"/subscriptions/([^/]+)/providers/microsoft\.network/locations/([^/]+)/usages")
_SERVICE_TAGS = re.compile(r"/subscriptions/([^/]+)/providers/microsoft\.network/locations/([^/]+)/servicetags")
_RESOURCE_GROUP_LIST = re.compile(r"/subscriptions/[^/]+/resourcegroups/[^/]+/providers/[^/]+/[^/]+")


def _location_key(location: str) -> str:
    return location.replace(" ", "").lower()


class EstateRoutes:
    """An index of a snapshot's contents by the paths Resource Manager serves them at."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.subscriptions: list[dict[str, Any]] = [
            {"id": f"/subscriptions/{s['subscriptionId']}", **s} for s in snapshot.get("subscriptions") or []
        ]
        self._subscriptions = {s["subscriptionId"].lower(): s for s in self.subscriptions}
        self._by_id: dict[str, dict[str, Any]] = {}
        self._by_collection: dict[str, list[dict[str, Any]]] = {}
        self._by_subscription_type: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for resource in snapshot.get("resources") or []:
            key = id_key(resource["id"])
            self._by_id[key] = resource
            self._by_collection.setdefault(key.rsplit("/", 1)[0], []).append(resource)
            parsed = parse_arm_id(resource["id"])
            if parsed is not None and parsed.namespace and len(parsed.segments) == 1:
                kind = f"{parsed.namespace}/{parsed.segments[0][0]}".lower()
                self._by_subscription_type.setdefault((parsed.subscription_id.lower(), kind), []).append(resource)
        self._usages = {(u["subscription_id"].lower(), _location_key(u["location"])): u["value"]
                        for u in snapshot.get("usages") or []}
        self._service_tags = {_location_key(t["location"]): t["body"] for t in snapshot.get("service_tags") or []}
        self._gateway_connections: dict[str, list[dict[str, Any]]] = {}
        for resource in snapshot.get("resources") or []:
            if str(resource.get("type", "")).lower() != "microsoft.network/connections":
                continue
            properties = resource.get("properties") if isinstance(resource.get("properties"), dict) else {}
            for end in ("virtualNetworkGateway1", "virtualNetworkGateway2"):
                reference = properties.get(end)
                if isinstance(reference, dict) and isinstance(reference.get("id"), str):
                    self._gateway_connections.setdefault(id_key(reference["id"]), []).append(resource)
        self._locks = [(id_key(lock["id"][: lock["id"].lower().rfind(_LOCKS_SUFFIX + "/")]), lock)
                       for lock in snapshot.get("locks") or []]

    def resolve(self, path: str) -> Document | Collection | Missing:
        key = id_key(path)
        if key == "/subscriptions":
            return Collection(self.subscriptions)
        parts = key.strip("/").split("/")
        if parts[0] != "subscriptions" or len(parts) < 2:
            return Missing(404, "NotFound", f"No route for '{path}'.")
        subscription = self._subscriptions.get(parts[1])
        if subscription is None:
            return Missing(404, "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found.")
        if len(parts) == 2:
            return Document(subscription)
        if key.endswith(_LOCKS_SUFFIX):
            scope = key[: -len(_LOCKS_SUFFIX)]
            return Collection([lock for at, lock in self._locks if at == scope or at.startswith(scope + "/")])
        if match := _USAGES.fullmatch(key):
            value = self._usages.get((match.group(1), match.group(2)))
            if value is None:
                return Missing(404, "NotFound", f"No usages for location '{match.group(2)}'.")
            return Collection(value)
        if match := _SERVICE_TAGS.fullmatch(key):
            body = self._service_tags.get(match.group(2))
            if body is None:
                return Missing(404, "NotFound", f"No service tags for location '{match.group(2)}'.")
            return Document(body)
        if key in self._by_id:
            return Document(self._by_id[key])
        if key.endswith("/connections") and "/providers/microsoft.network/virtualnetworkgateways/" in key:
            gateway = key.rsplit("/", 1)[0]
            if gateway in self._by_id:
                return Collection(self._gateway_connections.get(gateway, []))
        if len(parts) == 5 and parts[2] == "providers":
            return Collection(self._by_subscription_type.get((parts[1], f"{parts[3]}/{parts[4]}"), []))
        if key in self._by_collection:
            return Collection(self._by_collection[key])
        parent = key.rsplit("/", 1)[0]
        if _RESOURCE_GROUP_LIST.fullmatch(key) or parent in self._by_id:
            return Collection([])
        return Missing(404, "ResourceNotFound", f"The Resource '{path}' was not found.")
