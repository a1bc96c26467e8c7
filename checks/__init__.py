"""The built-in check pack: one check per row of the catalog.

Registered through the entry point ``amlaudit.checks: builtin = checks``, exactly
as a third-party pack would be; `CHECKS` fixes the catalog order.
"""

from amlaudit.checks.aks import aks_dns_service_ip, aks_docker_bridge, aks_service_cidr, aks_vnet_location
from amlaudit.checks.compute import (
    attached_compute_ubuntu,
    compute_network_quota,
    compute_subnet_capacity,
    compute_vnet_location,
    compute_vnet_locks,
)
from amlaudit.checks.flows import (
    aks_inbound_from_aml,
    aks_scoring_inbound,
    attached_compute_ssh,
    compute_batch_inbound,
    compute_forced_tunneling,
    compute_outbound_internet,
    compute_outbound_vnet,
    compute_remote_login,
)
from amlaudit.checks.keyvault import keyvault_network_restricted, keyvault_trusted_services, keyvault_vnet_rule
from amlaudit.checks.storage import storage_inference_access, storage_network_restricted, storage_trusted_services, storage_vnet_rule

CHECKS = [
    storage_vnet_rule,
    storage_trusted_services,
    storage_inference_access,
    storage_network_restricted,
    keyvault_vnet_rule,
    keyvault_trusted_services,
    keyvault_network_restricted,
    compute_vnet_location,
    compute_subnet_capacity,
    compute_batch_inbound,
    compute_outbound_vnet,
    compute_outbound_internet,
    compute_remote_login,
    compute_network_quota,
    compute_vnet_locks,
    compute_forced_tunneling,
    attached_compute_ubuntu,
    attached_compute_ssh,
    aks_inbound_from_aml,
    aks_vnet_location,
    aks_service_cidr,
    aks_dns_service_ip,
    aks_docker_bridge,
    aks_scoring_inbound,
]
