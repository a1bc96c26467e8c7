"""Secret fields that must never reach a snapshot, by resource type and exact JSON path.

Resource Manager does not return these on GET for the api-versions we pin (it returns
them null or leaves them out), so normally nothing is removed. Should a service ever
echo one, the field is dropped and the snapshot says which one in `redacted`, so the
change is visible rather than silent. Everything else is kept exactly as returned.
"""

from __future__ import annotations

from typing import Any

SECRET_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "microsoft.machinelearningservices/workspaces/computes": (
        # VirtualMachine and HDInsight computes: the attach credentials.
        ("properties", "properties", "administratorAccount", "password"),
        ("properties", "properties", "administratorAccount", "privateKeyData"),
        # AmlCompute: the node admin password.
        ("properties", "properties", "userAccountCredentials", "adminUserPassword"),
    ),
    "microsoft.containerservice/managedclusters": (
        ("properties", "servicePrincipalProfile", "secret"),
        ("properties", "windowsProfile", "adminPassword"),
    ),
    "microsoft.compute/virtualmachines": (
        ("properties", "osProfile", "adminPassword"),
        ("properties", "osProfile", "customData"),
    ),
}


def drop_secrets(resource: dict[str, Any]) -> list[str]:
    """Remove known secret fields that carry a value; return their dotted paths."""
    resource_type = resource.get("type")
    if not isinstance(resource_type, str):
        return []
    dropped = []
    for path in SECRET_PATHS.get(resource_type.lower(), ()):
        parent: Any = resource
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and parent.get(path[-1]) not in (None, ""):
            del parent[path[-1]]
            dropped.append(".".join(path))
    return dropped
