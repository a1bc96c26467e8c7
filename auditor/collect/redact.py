"""Secret fields that must never reach a snapshot, by resource type and exact JSON path.

Resource Manager does not return these on GET for the api-versions we pin (it returns
them null or leaves them out), so normally nothing is removed. Should a service ever
echo one, the field is dropped and the snapshot says which one in `redacted`, so the
change is visible rather than silent. Everything else is kept exactly as returned.

A path step `EACH` stands for every item of a list (an HDInsight cluster's roles); the
`redacted` entry names the item by index, e.g. `properties.computeProfile.roles[1]....`.
"""

from __future__ import annotations

from typing import Any

EACH = "[]"

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
    # A connection GET (and the gateway's connection list) may echo the IPsec pre-shared key; an
    # ExpressRoute connection its circuit authorization key.
    "microsoft.network/connections": (
        ("properties", "sharedKey"),
        ("properties", "authorizationKey"),
    ),
    # Point-to-site RADIUS secrets, should a gateway GET ever return them.
    "microsoft.network/virtualnetworkgateways": (
        ("properties", "vpnClientConfiguration", "radiusServerSecret"),
        ("properties", "vpnClientConfiguration", "radiusServers", EACH, "radiusServerSecret"),
    ),
    "microsoft.compute/virtualmachines": (
        ("properties", "osProfile", "adminPassword"),
        ("properties", "osProfile", "customData"),
    ),
    # The write-only fields of a cluster create request (api-version 2021-06-01), should a GET echo them.
    "microsoft.hdinsight/clusters": (
        ("properties", "computeProfile", "roles", EACH, "osProfile", "linuxOperatingSystemProfile", "password"),
        # Ambari, Hive and Oozie database logins and the gateway (restAuthCredential) password live
        # here as free-form key/value blobs: the whole object goes, no key in it is safe to keep by name.
        ("properties", "clusterDefinition", "configurations"),
        ("properties", "storageProfile", "storageaccounts", EACH, "key"),
        ("properties", "storageProfile", "storageaccounts", EACH, "saskey"),
        ("properties", "securityProfile", "domainUserPassword"),
    ),
}


def drop_secrets(resource: dict[str, Any]) -> list[str]:
    """Remove known secret fields that carry a value; return their dotted paths."""
    resource_type = resource.get("type")
    if not isinstance(resource_type, str):
        return []
    dropped: list[str] = []
    for path in SECRET_PATHS.get(resource_type.lower(), ()):
        dropped.extend(_drop(resource, path, ""))
    return dropped


def _drop(value: Any, path: tuple[str, ...], where: str) -> list[str]:
    """Remove the field at `path` below `value` (`where` names `value`); return the dotted paths removed."""
    step, rest = path[0], path[1:]
    if step == EACH:
        if not isinstance(value, list):
            return []
        return [dropped for index, item in enumerate(value) for dropped in _drop(item, rest, f"{where}[{index}]")]
    if not isinstance(value, dict):
        return []
    here = f"{where}.{step}" if where else step
    if rest:
        return _drop(value.get(step), rest, here)
    if value.get(step) in (None, "", {}):
        return []
    del value[step]
    return [here]
