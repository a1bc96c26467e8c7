"""A large, realistic estate for the scan benchmark: `generate(n_workspaces, seed) -> snapshot document`.

Every object is shaped like what Resource Manager returns on GET (camelCase keys,
`properties`, subnets embedded in their VNet, NSG rules with the empty plural
fields ARM always sends, lower-cased ids where Azure lower-cases them), so the
benchmark measures the auditor on the shapes a live collection produces.

Per workspace: a VNet (its own /16) with four subnets (AmlCompute, AKS, VM,
private endpoints); an NSG of 120+ rules on the three compute subnets; a route
table with a default route to a firewall and Batch UDRs on the AmlCompute
subnet; a storage account and a key vault with firewalls; an AmlCompute
cluster, an attached VM (with its NIC, sometimes its own NIC NSG) and an AKS
compute (with its managed cluster). Workspaces are spread over ten
subscriptions and four regions; usages are listed per (subscription, region);
some resource groups carry locks. The service-tag data is the real weekly file
(3,041 tags), stored once per region as a live collection stores it.

A few percent of workspaces carry the misconfigurations the catalog looks for
(a missing Batch rule, an early outbound deny, forced tunnelling without Batch
UDRs, an open firewall, a non-Ubuntu VM...), so the report has failures to
render, as a real estate's would.

    python -m benchmarks.estate_gen 1000 /tmp/estate.json      # or .json.gz
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import ipaddress
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

SNAPSHOT_FORMAT = "amlaudit.snapshot/v1"
SERVICE_TAGS_FILE = (
    Path(__file__).resolve().parent.parent / "tests" / "data" / "azure-samples" / "service-tags" / "ServiceTags_Public_20251109.json.gz"
)
REGIONS = ("eastus", "westeurope", "southcentralus", "australiaeast")
SUBSCRIPTION_COUNT = 10
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TEAMS = ("fraud", "risk", "pricing", "churn", "vision", "nlp", "forecast", "recsys", "ops", "genai", "claims", "credit")
ENVIRONMENTS = ("dev", "test", "prod")
# /8s whose /16s become VNet spaces, in order of preference: RFC 1918, RFC 6598, then the
# DoD blocks enterprises reuse privately. A /16 overlapping any service-tag prefix is skipped,
# so `VirtualNetwork` never overlaps an Azure service's addresses.
VNET_FIRST_OCTETS = (10, 172, 192, 100, 11, 21, 22, 26, 28, 29, 30, 33)
PARTNER_PREFIXES = ("62.", "81.", "145.", "185.", "193.", "194.", "195.", "212.", "213.", "203.0.113.", "198.51.100.")
PURPOSES = (
    "Partner-Contoso", "Partner-Fabrikam", "Corp-Proxy", "Jumpbox", "Splunk-Forwarder", "Qualys-Scanner", "Tenable",
    "Prometheus", "Grafana", "Kafka", "SqlMi", "Sftp", "Artifactory", "GitLab-Runner", "Jenkins", "Bastion", "Citrix",
    "Mlflow", "FeatureStore", "Etl-Batch", "Backup-Agent", "Monitoring", "Databricks", "Airflow", "Vault", "Nexus",
)
OUTBOUND_SERVICES = (  # (service tag, ports) the estate's jobs talk to
    ("Sql", ["1433", "11000-11999"]), ("EventHub", ["5671-5672", "443", "9093"]), ("ServiceBus", ["5671-5672", "443"]),
    ("AzureCosmosDB", ["443", "10250-10256"]), ("AppService", ["443"]), ("DataFactory", ["443"]),
    ("AzureEventGrid", ["443"]), ("PowerBI", ["443"]), ("LogicApps", ["443"]), ("ApiManagement", ["443", "3443"]),
    ("AzureOpenDatasets", ["443"]), ("AzureMonitor", ["443", "12000"]), ("AzureResourceManager", ["443"]),
)
LEGACY_PORTS = ["20-21", "23", "25", "69", "135-139", "445", "1900", "5900-5903"]


# -- service tags --------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceTagData:
    """The weekly download, plus what the generator needs from it."""

    document: dict[str, Any]
    region_suffix: dict[str, str]  # "eastus" -> "EastUS" (as the tags spell it)
    ipv4_intervals: tuple[list[int], list[int]]  # sorted, merged [start, end] of every IPv4 tag prefix
    batch_prefixes: dict[str, list[str]]  # region -> IPv4 prefixes of BatchNodeManagement.<Region>


@lru_cache(maxsize=2)
def load_service_tags(path: Path = SERVICE_TAGS_FILE) -> ServiceTagData:
    document = orjson.loads(gzip.decompress(path.read_bytes()))
    suffix: dict[str, str] = {}
    batch: dict[str, list[str]] = {}
    spans: list[tuple[int, int]] = []
    for value in document["values"]:
        props = value["properties"]
        name: str = value["name"]
        if name.startswith("Storage.") and props.get("region"):
            suffix[props["region"]] = name.split(".", 1)[1]
        if name.startswith("BatchNodeManagement.") and props.get("region"):
            batch[props["region"]] = [p for p in props["addressPrefixes"] if ":" not in p]
        for prefix in props["addressPrefixes"]:
            if ":" not in prefix:
                net = ipaddress.IPv4Network(prefix, strict=False)
                spans.append((int(net.network_address), int(net.broadcast_address)))
    spans.sort()
    starts: list[int] = []
    ends: list[int] = []
    for start, end in spans:
        if ends and start <= ends[-1] + 1:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return ServiceTagData(document, suffix, (starts, ends), batch)


def _overlaps_tags(net: ipaddress.IPv4Network, intervals: tuple[list[int], list[int]]) -> bool:
    starts, ends = intervals
    lo, hi = int(net.network_address), int(net.broadcast_address)
    at = bisect.bisect_right(starts, hi) - 1
    return at >= 0 and ends[at] >= lo


def vnet_spaces(count: int, tags: ServiceTagData) -> list[ipaddress.IPv4Network]:
    """`count` distinct /16s, none overlapping an Azure service-tag prefix."""
    found: list[ipaddress.IPv4Network] = []
    for candidate in _candidate_slash16s():
        if not _overlaps_tags(candidate, tags.ipv4_intervals):
            found.append(candidate)
            if len(found) == count:
                return found
    raise ValueError(f"cannot place {count} VNets in distinct /16s")


def _candidate_slash16s() -> Iterator[ipaddress.IPv4Network]:
    for first in VNET_FIRST_OCTETS:
        block = {172: "172.16.0.0/12", 192: "192.168.0.0/16", 100: "100.64.0.0/10"}.get(first, f"{first}.0.0.0/8")
        yield from ipaddress.IPv4Network(block).subnets(new_prefix=16)


# -- ARM shapes ----------------------------------------------------------------------------


def _rid(sub: str, rg: str, kind: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{kind}/{name}"


def _etag(rng: random.Random) -> str:
    return f'W/"{uuid.UUID(int=rng.getrandbits(128), version=4)}"'


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


Field = str | list[str]


def security_rule(nsg_id: str, etag: str, name: str, priority: int, direction: str, access: str, protocol: str,
                  source: Field, destination: Field, destination_ports: Field, source_ports: Field = "*",
                  description: str | None = None, default: bool = False) -> dict[str, Any]:
    """A rule as ARM returns it: a list goes in the plural field and the other stays empty/absent."""
    props: dict[str, Any] = {"provisioningState": "Succeeded"}
    if description:
        props["description"] = description
    props["protocol"] = protocol
    for singular, plural, value in (("sourcePortRange", "sourcePortRanges", source_ports),
                                    ("destinationPortRange", "destinationPortRanges", destination_ports),
                                    ("sourceAddressPrefix", "sourceAddressPrefixes", source),
                                    ("destinationAddressPrefix", "destinationAddressPrefixes", destination)):
        if isinstance(value, str):
            props[singular] = value
    props.update(access=access, priority=priority, direction=direction)
    for plural, value in (("sourcePortRanges", source_ports), ("destinationPortRanges", destination_ports),
                          ("sourceAddressPrefixes", source), ("destinationAddressPrefixes", destination)):
        props[plural] = list(value) if isinstance(value, list) else []
    kind = "defaultSecurityRules" if default else "securityRules"
    return {"name": name, "id": f"{nsg_id}/{kind}/{name}", "etag": etag,
            "type": f"Microsoft.Network/networkSecurityGroups/{kind}", "properties": props}


DEFAULT_RULES = (  # Azure's six, with the descriptions Azure returns
    ("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork", "Allow inbound traffic from all VMs in VNET"),
    ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*", "Allow inbound traffic from azure load balancer"),
    ("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*", "Deny all inbound traffic"),
    ("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork", "Allow outbound traffic from all VMs to all VMs in VNET"),
    ("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet", "Allow outbound traffic from all VMs to Internet"),
    ("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*", "Deny all outbound traffic"),
)


@dataclass
class Flaws:
    """The misconfigurations one workspace carries (most carry none)."""

    no_batch_inbound: bool
    early_outbound_deny: bool
    ssh_from_internet: bool
    forced_tunnel_without_batch_udr: bool
    storage_open: bool
    storage_no_bypass: bool
    vault_open: bool
    non_ubuntu_vm: bool
    aks_service_cidr_overlap: bool
    vnet_elsewhere: bool

    @classmethod
    def draw(cls, rng: random.Random) -> Flaws:
        def p(x: float) -> bool:
            return rng.random() < x

        return cls(p(0.04), p(0.03), p(0.03), p(0.04), p(0.05), p(0.03), p(0.05), p(0.08), p(0.03), p(0.02))


class _Generator:
    def __init__(self, n_workspaces: int, seed: int, tags: ServiceTagData) -> None:
        self.n = n_workspaces
        self.rng = random.Random(seed)
        self.tags = tags
        rng = self.rng
        self.subscriptions = [
            {"id": f"/subscriptions/{sid}", "authorizationSource": "RoleBased", "subscriptionId": sid, "tenantId": TENANT_ID,
             "displayName": f"sub-ml-{name}", "state": "Enabled",
             "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "EnterpriseAgreement_2014-09-01",
                                      "spendingLimit": "Off"}}
            for sid, name in ((_guid(rng), f"{team}-{i:02d}") for i, team in enumerate(TEAMS[:SUBSCRIPTION_COUNT]))
        ]
        self.by_type: dict[str, list[dict[str, Any]]] = {}
        self.locks: list[dict[str, Any]] = []
        self.nsg_count: dict[tuple[str, str], int] = {}
        self.spaces = vnet_spaces(n_workspaces, tags)

    def add(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.by_type.setdefault(obj["type"].lower(), []).append(obj)
        return obj

    # -- the document --------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        for index in range(self.n):
            self.workspace(index)
        self.locks.append(self.lock(self.subscriptions[0]["id"], "CanNotDelete", "protect-subscription"))
        resources = [obj for objs in self.by_type.values() for obj in objs]
        return {
            "format": SNAPSHOT_FORMAT,
            "collected_at": "2026-11-28T19:00:00Z",
            "subscriptions": self.subscriptions,
            "resources": resources,
            "usages": self.usages(),
            "service_tags": self.service_tags(),
            "locks": self.locks,
            "errors": [],
        }

    def service_tags(self) -> list[dict[str, Any]]:
        # The serviceTags list API body: the weekly file's `values` under ARM's envelope. The
        # values list is shared between regions here (it is written out once per region).
        doc = self.tags.document
        sub = self.subscriptions[0]["subscriptionId"]
        return [{"location": region, "body": {
            "name": "Public", "id": f"/subscriptions/{sub}/providers/Microsoft.Network/serviceTags/Public",
            "type": "Microsoft.Network/serviceTags", "changeNumber": str(doc["changeNumber"]), "cloud": doc["cloud"],
            "values": doc["values"]}} for region in REGIONS]

    def usages(self) -> list[dict[str, Any]]:
        blocks = []
        for sub in self.subscriptions:
            sid = sub["subscriptionId"]
            for region in REGIONS:
                used_nsgs = self.nsg_count.get((sid, region), 0)
                # A few (subscription, region) pairs run close to the public-IP limit.
                tight = self.rng.random() < 0.1
                rows = [("VirtualNetworks", "Virtual Networks", used_nsgs, 1000),
                        ("StaticPublicIPAddresses", "Static Public IP Addresses", self.rng.randint(0, 40), 1000),
                        ("NetworkSecurityGroups", "Network Security Groups", used_nsgs + self.rng.randint(0, 30), 5000),
                        ("PublicIPAddresses", "Public IP Addresses", 1000 if tight else self.rng.randint(10, 400), 1000),
                        ("NetworkInterfaces", "Network Interfaces", self.rng.randint(50, 3000), 65536),
                        ("PrivateEndpoints", "Private Endpoints", self.rng.randint(0, 400), 64000),
                        ("LoadBalancers", "Load Balancers", self.rng.randint(5, 200), 1000),
                        ("ApplicationGateways", "Application Gateways", self.rng.randint(0, 5), 1000),
                        ("RouteTables", "Route Tables", used_nsgs, 200 if used_nsgs < 200 else 1000),
                        ("RouteFilters", "Route Filters", 0, 1000),
                        ("NetworkWatchers", "Network Watchers", 1, 1),
                        ("PacketCaptures", "Packet Captures", 0, 10000),
                        ("DnsServersPerVirtualNetwork", "DNS servers per Virtual Network", 0, 20),
                        ("SubnetsPerVirtualNetwork", "Subnets per Virtual Network", 0, 3000)]
                blocks.append({"subscription_id": sid, "location": region, "value": [
                    {"currentValue": float(current), "id": f"/subscriptions/{sid}/providers/Microsoft.Network/locations/{region}/usages/{name}",
                     "limit": float(limit), "name": {"localizedValue": label, "value": name}, "unit": "Count"}
                    for name, label, current, limit in rows]})
        return blocks

    def lock(self, scope: str, level: str, name: str) -> dict[str, Any]:
        return {"properties": {"level": level, "notes": "Managed by the platform team; raise a change to remove."},
                "id": f"{scope}/providers/Microsoft.Authorization/locks/{name}", "type": "Microsoft.Authorization/locks",
                "name": name}

    # -- one workspace -------------------------------------------------------------------

    def workspace(self, index: int) -> None:
        rng = self.rng
        sub = self.subscriptions[index % SUBSCRIPTION_COUNT]["subscriptionId"]
        region = REGIONS[(index // SUBSCRIPTION_COUNT + index) % len(REGIONS)]
        team, env = TEAMS[index % len(TEAMS)], ENVIRONMENTS[index % len(ENVIRONMENTS)]
        base = f"{team}-{env}-{index:04d}"
        ml_rg, net_rg = f"rg-ml-{base}", f"rg-net-{base}"
        flaws = Flaws.draw(rng)
        space = self.spaces[index]
        aml_cidr, aks_cidr, vm_cidr, pe_cidr = (str(n) for n in self._subnet_cidrs(space))
        vnet_region = REGIONS[(REGIONS.index(region) + 1) % len(REGIONS)] if flaws.vnet_elsewhere else region

        nsg = self.nsg(sub, net_rg, f"nsg-{base}-compute", vnet_region, space, aml_cidr, aks_cidr, vm_cidr, flaws)
        self.nsg_count[(sub, vnet_region)] = self.nsg_count.get((sub, vnet_region), 0) + 1
        route_table = self.route_table(sub, net_rg, f"rt-{base}-aml", vnet_region, flaws)
        vnet_id = _rid(sub, net_rg, "Microsoft.Network/virtualNetworks", f"vnet-{base}")
        subnet_ids = {k: f"{vnet_id}/subnets/snet-{k}" for k in ("aml", "aks", "vm", "pe")}
        max_nodes = rng.choice((2, 4, 4, 8, 8, 10, 16, 20))
        current_nodes = rng.randint(0, max_nodes)
        vm_ip = str(ipaddress.IPv4Network(vm_cidr)[4])
        nic_nsg = self.nic_nsg(sub, ml_rg, f"nsg-{base}-dsvm-nic", vnet_region) if rng.random() < 0.25 else None
        nic_id = _rid(sub, ml_rg, "Microsoft.Network/networkInterfaces", f"nic-dsvm-{base}")
        batch_sub = _guid(rng)
        ip_configs = {
            "aml": [f"/subscriptions/{batch_sub}/resourceGroups/azurebatch-cloudservicerg-{index}/providers/Microsoft.Compute/"
                    f"virtualMachineScaleSets/{_guid(rng)}-azurebatch-cloudservicenodeset/virtualMachines/{n}/networkInterfaces/"
                    f"nic-{n}/ipConfigurations/ipconfig" for n in range(current_nodes)],
            "aks": [f"/subscriptions/{sub}/resourceGroups/MC_{ml_rg}_aks-{base}_{vnet_region}/providers/Microsoft.Compute/"
                    f"virtualMachineScaleSets/aks-nodepool1-{index:08d}-vmss/virtualMachines/{n}/networkInterfaces/"
                    f"aks-nodepool1-{index:08d}-vmss/ipConfigurations/ipconfig1" for n in range(3)],
            "vm": [f"{nic_id}/ipConfigurations/ipconfig1"],
            "pe": [_rid(sub, ml_rg, "Microsoft.Network/networkInterfaces", f"pe-{target}-{base}.nic.{_guid(rng)}")
                   + "/ipConfigurations/privateEndpointIpConfig" for target in ("blob", "file", "vault", "amlworkspace")],
        }
        subnets = [
            self.subnet(subnet_ids["aml"], aml_cidr, nsg["id"], route_table["id"], ("Microsoft.Storage", "Microsoft.KeyVault"),
                        ip_configs["aml"], vnet_region),
            self.subnet(subnet_ids["aks"], aks_cidr, nsg["id"], None, ("Microsoft.Storage",), ip_configs["aks"], vnet_region),
            self.subnet(subnet_ids["vm"], vm_cidr, nsg["id"], None, ("Microsoft.Storage", "Microsoft.KeyVault"), ip_configs["vm"], vnet_region),
            self.subnet(subnet_ids["pe"], pe_cidr, None, None, (), ip_configs["pe"], vnet_region),
        ]
        nsg["properties"]["subnets"] = [{"id": subnet_ids[k]} for k in ("aml", "aks", "vm")]
        route_table["properties"]["subnets"] = [{"id": subnet_ids["aml"]}]
        self.add({"name": f"vnet-{base}", "id": vnet_id, "etag": _etag(rng), "type": "Microsoft.Network/virtualNetworks",
                  "location": vnet_region, "tags": {"team": team, "env": env, "costCenter": f"CC{1000 + index % 97}"},
                  "properties": {"provisioningState": "Succeeded", "resourceGuid": _guid(rng),
                                 "addressSpace": {"addressPrefixes": [str(space)]},
                                 "dhcpOptions": {"dnsServers": ["10.250.0.4", "10.250.0.5"]},
                                 "subnets": subnets, "virtualNetworkPeerings": [], "enableDdosProtection": False}})
        if rng.random() < 0.7:
            self.locks.append(self.lock(f"/subscriptions/{sub}/resourceGroups/{net_rg}", "CanNotDelete", "protect-network"))
        if rng.random() < 0.02:
            self.locks.append(self.lock(f"/subscriptions/{sub}/resourceGroups/{net_rg}", "ReadOnly", "freeze-network"))

        self.add({"name": f"nic-dsvm-{base}", "id": nic_id, "etag": _etag(rng), "type": "Microsoft.Network/networkInterfaces",
                  "location": vnet_region, "properties": {
                      "provisioningState": "Succeeded", "resourceGuid": _guid(rng),
                      "ipConfigurations": [{"name": "ipconfig1", "id": ip_configs["vm"][0], "etag": _etag(rng),
                                            "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
                                            "properties": {"provisioningState": "Succeeded", "privateIPAddress": vm_ip,
                                                           "privateIPAllocationMethod": "Dynamic", "subnet": {"id": subnet_ids["vm"]},
                                                           "primary": True, "privateIPAddressVersion": "IPv4"}}],
                      "dnsSettings": {"dnsServers": [], "appliedDnsServers": []},
                      "macAddress": "00-0D-3A-%02X-%02X-%02X" % (index >> 16 & 255, index >> 8 & 255, index & 255),
                      "enableAcceleratedNetworking": True, "enableIPForwarding": False, "primary": True,
                      "virtualMachine": {"id": _rid(sub, ml_rg, "Microsoft.Compute/virtualMachines", f"dsvm-{base}")},
                      **({"networkSecurityGroup": {"id": nic_nsg["id"]}} if nic_nsg else {}),
                      "nicType": "Standard"}})
        vm = self.vm(sub, ml_rg, f"dsvm-{base}", vnet_region, nic_id, flaws)
        cluster = self.managed_cluster(sub, ml_rg, f"aks-{base}", vnet_region, subnet_ids["aks"], flaws)
        storage = self.storage_account(sub, ml_rg, f"st{team}{env}{index:04d}"[:24], region,
                                       [subnet_ids["aml"], subnet_ids["vm"]], flaws)
        vault = self.key_vault(sub, ml_rg, f"kv-{base}"[:24], region, [subnet_ids["aml"], subnet_ids["vm"]], flaws)
        ws = self.workspace_object(sub, ml_rg, f"mlw-{base}", region, storage, vault)
        self.aml_compute(ws, "cpu-cluster", subnet_ids["aml"], max_nodes, current_nodes, flaws)
        self.vm_compute(ws, "dsvm", vm["id"], vm_ip)
        self.aks_compute(ws, "aks-inference", cluster, subnet_ids["aks"], flaws)

    @staticmethod
    def _subnet_cidrs(space: ipaddress.IPv4Network) -> tuple[ipaddress.IPv4Network, ...]:
        base = int(space.network_address)
        return (ipaddress.IPv4Network((base, 22)), ipaddress.IPv4Network((base + 4 * 256, 22)),
                ipaddress.IPv4Network((base + 8 * 256, 24)), ipaddress.IPv4Network((base + 9 * 256, 24)))

    def subnet(self, subnet_id: str, prefix: str, nsg_id: str | None, route_table_id: str | None,
               service_endpoints: tuple[str, ...], ip_configurations: list[str], location: str) -> dict[str, Any]:
        props: dict[str, Any] = {"provisioningState": "Succeeded", "addressPrefix": prefix}
        if nsg_id:
            props["networkSecurityGroup"] = {"id": nsg_id}
        if route_table_id:
            props["routeTable"] = {"id": route_table_id}
        if service_endpoints:
            props["serviceEndpoints"] = [{"provisioningState": "Succeeded", "service": s, "locations": [location]}
                                         for s in service_endpoints]
        if ip_configurations:
            props["ipConfigurations"] = [{"id": i} for i in ip_configurations]
        props.update(delegations=[], privateEndpointNetworkPolicies="Disabled", privateLinkServiceNetworkPolicies="Enabled")
        return {"name": subnet_id.rsplit("/", 1)[1], "id": subnet_id, "etag": _etag(self.rng),
                "type": "Microsoft.Network/virtualNetworks/subnets", "properties": props}

    # -- NSG -----------------------------------------------------------------------------

    def nsg(self, sub: str, rg: str, name: str, region: str, space: ipaddress.IPv4Network, aml_cidr: str,
            aks_cidr: str, vm_cidr: str, flaws: Flaws) -> dict[str, Any]:
        rng = self.rng
        nsg_id = _rid(sub, rg, "Microsoft.Network/networkSecurityGroups", name)
        etag = _etag(rng)
        r = self.tags.region_suffix[region]
        corp = ["10.250.0.0/16", "192.168.100.0/22", "172.30.8.0/21"][: rng.randint(1, 3)]
        rules: list[dict[str, Any]] = []

        def add(name: str, priority: int, direction: str, access: str, protocol: str, src: Field, dst: Field,
                ports: Field, description: str | None, src_ports: Field = "*") -> None:
            rules.append(security_rule(nsg_id, etag, name, priority, direction, access, protocol, src, dst, ports, src_ports, description))

        batch_source = f"BatchNodeManagement.{r}" if rng.random() < 0.7 else "BatchNodeManagement"
        if not flaws.no_batch_inbound:
            add("AllowBatchNodeManagementInbound", 100, "Inbound", "Allow", "Tcp", batch_source, aml_cidr if rng.random() < 0.5 else "VirtualNetwork",
                "29876-29877", "Azure Batch schedules AmlCompute jobs on the nodes (required by Azure Machine Learning)")
        add("AllowAzureMachineLearningInbound", 110, "Inbound", "Allow", "Tcp", "AzureMachineLearning", "VirtualNetwork", "44224",
            "Azure Machine Learning compute instance management")
        add("AllowAzureMachineLearningSshToVm", 120, "Inbound", "Allow", "Tcp", "AzureMachineLearning", vm_cidr, "22",
            "The workspace reaches the attached DSVM over SSH")
        add("AllowAzureMachineLearningToAks", 130, "Inbound", "Allow", "Tcp", "AzureMachineLearning", aks_cidr, "443",
            "The workspace manages the inference cluster over HTTPS")
        add("AllowAzureLoadBalancerInbound", 140, "Inbound", "Allow", "*", "AzureLoadBalancer", "*", "*", "Health probes")
        add("AllowScoringInbound", 150, "Inbound", "Allow", "Tcp", "Internet" if rng.random() < 0.6 else corp, aks_cidr,
            ["443", "80"], "Clients call the scoring endpoint")
        add("AllowCorpSshRdpInbound", 160, "Inbound", "Allow", "Tcp", corp, "VirtualNetwork", ["22", "3389"],
            "Administrators from the corporate network (CHG0041187)")
        if flaws.ssh_from_internet:
            add("AllowSshAnywhereTemp", 170, "Inbound", "Allow", "Tcp", "*", aml_cidr, "22", "Temporary: vendor troubleshooting")
        add("DenyInternetInbound", 4000, "Inbound", "Deny", "*", "Internet", "*", "*", "Baseline: nothing else from the Internet")

        restricted = rng.random() < 0.6
        add("AllowStorageOutbound", 100, "Outbound", "Allow", "Tcp", "VirtualNetwork", f"Storage.{r}", "443",
            "Workspace storage (blob, table, queue, file)")
        add("AllowContainerRegistryOutbound", 110, "Outbound", "Allow", "Tcp", "VirtualNetwork", f"AzureContainerRegistry.{r}", "443",
            "Environment images")
        add("AllowAzureMachineLearningOutbound", 120, "Outbound", "Allow", "Tcp", "VirtualNetwork", "AzureMachineLearning",
            ["443", "8787", "18881"], "Azure Machine Learning service")
        add("AllowBatchOutbound", 130, "Outbound", "Allow", "Tcp", "VirtualNetwork", f"BatchNodeManagement.{r}", "443", "Azure Batch")
        add("AllowEntraIdOutbound", 140, "Outbound", "Allow", "Tcp", "VirtualNetwork", "AzureActiveDirectory", ["80", "443"], "Sign-in")
        add("AllowAzureMonitorOutbound", 150, "Outbound", "Allow", "Tcp", "VirtualNetwork", "AzureMonitor", "443", "Metrics and logs")
        add("AllowKeyVaultOutbound", 160, "Outbound", "Allow", "Tcp", "VirtualNetwork", f"AzureKeyVault.{r}", "443", "Workspace key vault")
        add("AllowMcrOutbound", 170, "Outbound", "Allow", "Tcp", "VirtualNetwork", ["MicrosoftContainerRegistry", "AzureFrontDoor.FirstParty"],
            "443", "Base images from mcr.microsoft.com")
        add("AllowVnetOutbound", 180, "Outbound", "Allow", "*", "VirtualNetwork", "VirtualNetwork", "*", "East-west inside the VNet")
        add("AllowDnsOutbound", 190, "Outbound", "Allow", "*", "VirtualNetwork", ["10.250.0.4", "10.250.0.5"], "53", "Corporate DNS")
        add("AllowNtpOutbound", 200, "Outbound", "Allow", "Udp", "*", "Internet", "123", "Time")
        if flaws.early_outbound_deny:
            add("DenyAllOutboundQuarantine", 105, "Outbound", "Deny", "*", "*", "*", "*", "Quarantine (INC0098211)")
        if restricted:
            add("DenyInternetOutbound", 4000, "Outbound", "Deny", "*", "VirtualNetwork", "Internet", "*",
                "Restricted outbound: only the service tags above")

        target = rng.randint(120, 126)
        self._application_rules(add, target - len(rules), space, aml_cidr, aks_cidr, vm_cidr, corp, r)
        rng.shuffle(rules)  # ARM does not return rules in priority order
        defaults = [security_rule(nsg_id, etag, n, p, d, a, "*", s, t, "*", "*", desc, default=True)
                    for n, p, d, a, s, t, desc in DEFAULT_RULES]
        return self.add({"name": name, "id": nsg_id, "etag": etag, "type": "Microsoft.Network/networkSecurityGroups",
                         "location": region, "properties": {"provisioningState": "Succeeded", "resourceGuid": _guid(rng),
                                                            "securityRules": rules, "defaultSecurityRules": defaults}})

    def _application_rules(self, add: Any, count: int, space: ipaddress.IPv4Network, aml_cidr: str, aks_cidr: str,
                           vm_cidr: str, corp: list[str], r: str) -> None:
        """The long tail every enterprise NSG grows: partners, tools, one-off exceptions."""
        rng = self.rng
        used = {"Inbound": set(), "Outbound": set()}
        next_priority = {"Inbound": 300, "Outbound": 300}
        hosts = [str(ipaddress.IPv4Network(vm_cidr)[i]) + "/32" for i in range(4, 12)]

        def priority(direction: str) -> int:
            # Mostly tidy steps of 10, with the odd priority someone squeezed in by hand.
            step = 10 if rng.random() < 0.8 else rng.randint(1, 37)
            value = next_priority[direction] + step
            while value in used[direction]:
                value += 1
            used[direction].add(value)
            next_priority[direction] = value
            return value

        def partner_cidrs() -> list[str]:
            out = []
            for _ in range(rng.randint(1, 6)):
                head = rng.choice(PARTNER_PREFIXES)
                octets = [rng.randint(1, 254) for _ in range(4 - head.count("."))]
                addr = head + ".".join(map(str, octets))
                out.append(f"{addr}/32" if rng.random() < 0.4 else str(ipaddress.IPv4Network(f"{addr}/{rng.choice((24, 26, 28))}", strict=False)))
            return out

        def ports() -> Field:
            kind = rng.random()
            if kind < 0.35:
                return str(rng.choice((443, 8443, 8080, 5432, 6379, 9092, 27017, 5000, 8000, 9200)))
            if kind < 0.55:
                low = rng.randint(1024, 60000)
                return f"{low}-{low + rng.choice((1, 9, 99, 999))}"
            listed = [str(p) for p in sorted(rng.sample((22, 80, 443, 1433, 3306, 5432, 6379, 8080, 8443, 9000, 9090, 9443), rng.randint(2, 5)))]
            if rng.random() < 0.3:
                node_ports = rng.randint(30000, 31000)
                listed.append(f"{node_ports}-{node_ports + 767}")
            return listed

        def maybe(description: str) -> str | None:
            return description if rng.random() < 0.5 else None  # half the long tail carries no description

        for n in range(max(count, 0)):
            purpose = rng.choice(PURPOSES)
            ticket = f"CHG{rng.randint(10000, 99999):07d}"
            kind = rng.random()
            if kind < 0.40:
                access = "Allow" if rng.random() < 0.85 else "Deny"
                dst = rng.choice(("VirtualNetwork", aml_cidr, aks_cidr, vm_cidr, rng.choice(hosts), hosts[: rng.randint(2, 4)]))
                add(f"{access}-{purpose}-In-{n:03d}", priority("Inbound"), "Inbound", access, rng.choice(("Tcp", "Tcp", "Tcp", "Udp", "*")),
                    partner_cidrs(), dst, ports(), maybe(f"{purpose} to the ML subnets, requested in {ticket}; review yearly"),
                    "1024-65535" if rng.random() < 0.1 else "*")
            elif kind < 0.65:
                service, service_ports = rng.choice(OUTBOUND_SERVICES)
                add(f"Allow-{service}-{purpose}-Out-{n:03d}", priority("Outbound"), "Outbound", "Allow", "Tcp",
                    rng.choice(("VirtualNetwork", aml_cidr, [aml_cidr, vm_cidr])), f"{service}.{r}",
                    service_ports if len(service_ports) > 1 else service_ports[0], maybe(f"{purpose} reaches {service} in {r} ({ticket})"))
            elif kind < 0.80:
                add(f"Allow-{purpose}-OnPrem-Out-{n:03d}", priority("Outbound"), "Outbound", "Allow", rng.choice(("Tcp", "Udp", "*")),
                    "VirtualNetwork", corp if rng.random() < 0.5 else [f"10.{rng.randint(200, 249)}.{rng.randint(0, 255)}.0/24"],
                    ports(), maybe(f"{purpose} on premises over ExpressRoute ({ticket})"))
            elif kind < 0.92:
                direction = rng.choice(("Inbound", "Outbound"))
                add(f"Deny-Legacy-{direction[:-5]}-{n:03d}", priority(direction), direction, "Deny",
                    rng.choice(("Tcp", "*")), "*" if direction == "Inbound" else "VirtualNetwork",
                    "VirtualNetwork" if direction == "Inbound" else "Internet", rng.sample(LEGACY_PORTS, rng.randint(2, 5)),
                    maybe(f"Security baseline SB-{rng.randint(1, 40):02d}: legacy and clear-text protocols"))
            else:
                add(f"Allow-Icmp-{purpose}-{n:03d}", priority("Inbound"), "Inbound", "Allow", "Icmp", corp, str(space), "*",
                    maybe(f"Ping from {purpose} monitoring ({ticket})"))

    def nic_nsg(self, sub: str, rg: str, name: str, region: str) -> dict[str, Any]:
        """A small NSG on the attached VM's NIC (some teams add one)."""
        nsg_id = _rid(sub, rg, "Microsoft.Network/networkSecurityGroups", name)
        etag = _etag(self.rng)
        rules = [
            security_rule(nsg_id, etag, "AllowAzureMachineLearningSsh", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning", "*", "22",
                          description="Azure Machine Learning attaches the VM over SSH"),
            security_rule(nsg_id, etag, "AllowCorpSsh", 110, "Inbound", "Allow", "Tcp", ["10.250.0.0/16"], "*", "22"),
            security_rule(nsg_id, etag, "DenySshFromAnywhere", 200, "Inbound", "Deny", "Tcp", "*", "*", "22"),
            security_rule(nsg_id, etag, "AllowJupyterFromCorp", 300, "Inbound", "Allow", "Tcp", ["10.250.0.0/16"], "*", ["8000", "8888"]),
        ]
        defaults = [security_rule(nsg_id, etag, n, p, d, a, "*", s, t, "*", "*", desc, default=True) for n, p, d, a, s, t, desc in DEFAULT_RULES]
        self.nsg_count[(sub, region)] = self.nsg_count.get((sub, region), 0) + 1
        return self.add({"name": name, "id": nsg_id, "etag": etag, "type": "Microsoft.Network/networkSecurityGroups", "location": region,
                         "properties": {"provisioningState": "Succeeded", "resourceGuid": _guid(self.rng), "securityRules": rules,
                                        "defaultSecurityRules": defaults}})

    # -- routes --------------------------------------------------------------------------

    def route_table(self, sub: str, rg: str, name: str, region: str, flaws: Flaws) -> dict[str, Any]:
        rng = self.rng
        rt_id = _rid(sub, rg, "Microsoft.Network/routeTables", name)
        r = self.tags.region_suffix[region]
        forced = rng.random() < 0.5 or flaws.forced_tunnel_without_batch_udr
        routes: list[tuple[str, str, str]] = [("to-onprem", "10.250.0.0/16", "VirtualNetworkGateway")]
        if forced:
            routes.append(("default-to-firewall", "0.0.0.0/0", "VirtualAppliance"))
            if not flaws.forced_tunnel_without_batch_udr:
                if rng.random() < 0.5:
                    routes.append(("batch-node-management", f"BatchNodeManagement.{r}", "Internet"))
                else:  # the document's way: one UDR per Batch prefix of the region
                    routes += [(f"batch-{i:02d}", p, "Internet") for i, p in enumerate(self.tags.batch_prefixes[region])]
                routes.append(("azure-machine-learning", "AzureMachineLearning", "Internet"))
        return self.add({"name": name, "id": rt_id, "etag": _etag(rng), "type": "Microsoft.Network/routeTables", "location": region,
                         "properties": {"provisioningState": "Succeeded", "resourceGuid": _guid(rng), "disableBgpRoutePropagation": forced,
                                        "routes": [{"name": n, "id": f"{rt_id}/routes/{n}", "etag": _etag(rng),
                                                    "type": "Microsoft.Network/routeTables/routes",
                                                    "properties": {"provisioningState": "Succeeded", "addressPrefix": p, "nextHopType": hop,
                                                                   **({"nextHopIpAddress": "10.250.1.4"} if hop == "VirtualAppliance" else {}),
                                                                   "hasBgpOverride": False}}
                                                   for n, p, hop in routes]}})

    # -- compute targets -----------------------------------------------------------------

    def vm(self, sub: str, rg: str, name: str, region: str, nic_id: str, flaws: Flaws) -> dict[str, Any]:
        image = ({"publisher": "microsoft-dsvm", "offer": "ubuntu-2004", "sku": "2004-gen2", "version": "latest"}
                 if flaws.non_ubuntu_vm else
                 {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": "latest"})
        return self.add({"name": name, "id": _rid(sub, rg, "Microsoft.Compute/virtualMachines", name),
                         "type": "Microsoft.Compute/virtualMachines", "location": region, "tags": {"purpose": "aml-attached"},
                         "properties": {
                             "vmId": _guid(self.rng), "hardwareProfile": {"vmSize": self.rng.choice(("Standard_DS3_v2", "Standard_D8s_v5", "Standard_NC6s_v3"))},
                             "storageProfile": {"imageReference": {**image, "exactVersion": "22.04.202511050"},
                                                "osDisk": {"osType": "Linux", "name": f"{name}_OsDisk_1", "createOption": "FromImage",
                                                           "caching": "ReadWrite", "managedDisk": {"storageAccountType": "Premium_LRS"},
                                                           "diskSizeGB": 128},
                                                "dataDisks": []},
                             "osProfile": {"computerName": name[:15], "adminUsername": "azureuser",
                                           "linuxConfiguration": {"disablePasswordAuthentication": True, "provisionVMAgent": True}},
                             "networkProfile": {"networkInterfaces": [{"id": nic_id, "properties": {"primary": True}}]},
                             "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
                             "provisioningState": "Succeeded", "timeCreated": "2026-03-14T09:21:44.1234567+00:00"}})

    def managed_cluster(self, sub: str, rg: str, name: str, region: str, subnet_id: str, flaws: Flaws) -> dict[str, Any]:
        service_cidr, dns_ip = ("10.0.0.0/16", "10.0.0.10") if flaws.aks_service_cidr_overlap else ("192.168.192.0/20", "192.168.192.10")
        return self.add({
            # The ContainerService RP hands ids back with `resourcegroups` in lower case.
            "id": _rid(sub, rg, "Microsoft.ContainerService/managedClusters", name).replace("/resourceGroups/", "/resourcegroups/"),
            "location": region, "name": name, "type": "Microsoft.ContainerService/ManagedClusters",
            "sku": {"name": "Base", "tier": "Standard"},
            "properties": {
                "provisioningState": "Succeeded", "powerState": {"code": "Running"}, "kubernetesVersion": "1.30.6",
                "dnsPrefix": name, "fqdn": f"{name}-dns-{self.rng.getrandbits(32):08x}.hcp.{region}.azmk8s.io",
                "agentPoolProfiles": [{"name": "nodepool1", "count": 3, "vmSize": "Standard_D4s_v5", "osDiskSizeGB": 128,
                                       "osDiskType": "Managed", "vnetSubnetID": subnet_id, "maxPods": 110, "type": "VirtualMachineScaleSets",
                                       "provisioningState": "Succeeded", "orchestratorVersion": "1.30.6", "mode": "System",
                                       "osType": "Linux", "osSKU": "Ubuntu", "enableNodePublicIP": False}],
                "servicePrincipalProfile": {"clientId": "msi"}, "nodeResourceGroup": f"MC_{rg}_{name}_{region}", "enableRBAC": True,
                "networkProfile": {"networkPlugin": "kubenet", "loadBalancerSku": "standard", "podCidr": "10.244.0.0/16",
                                   "serviceCidr": service_cidr, "dnsServiceIP": dns_ip, "dockerBridgeCidr": "172.17.0.1/16",
                                   "outboundType": "loadBalancer", "serviceCidrs": [service_cidr], "ipFamilies": ["IPv4"]},
                "maxAgentPools": 100, "disableLocalAccounts": False}})

    # -- data-plane dependencies and the workspace --------------------------------------------

    def storage_account(self, sub: str, rg: str, name: str, region: str, subnet_ids: list[str], flaws: Flaws) -> dict[str, Any]:
        bypass = "None" if flaws.storage_no_bypass else self.rng.choice(("AzureServices", "AzureServices", "AzureServices, Logging, Metrics"))
        return self.add({
            "id": _rid(sub, rg, "Microsoft.Storage/storageAccounts", name), "kind": "StorageV2", "location": region, "name": name,
            "type": "Microsoft.Storage/storageAccounts", "sku": {"name": "Standard_ZRS", "tier": "Standard"}, "tags": {},
            "properties": {
                "keyCreationTime": {"key1": "2026-01-05T10:00:00.0000000Z", "key2": "2026-01-05T10:00:00.0000000Z"},
                "networkAcls": {"bypass": bypass, "defaultAction": "Allow" if flaws.storage_open else "Deny",
                                "ipRules": [{"value": "203.0.113.17", "action": "Allow"}],  # the corporate egress address
                                "virtualNetworkRules": [{"id": s, "action": "Allow", "state": "Succeeded"} for s in subnet_ids],
                                "resourceAccessRules": []},
                "primaryEndpoints": {k: f"https://{name}.{k}.core.windows.net/" for k in ("dfs", "web", "blob", "queue", "table", "file")},
                "encryption": {"services": {"file": {"keyType": "Account", "enabled": True}, "blob": {"keyType": "Account", "enabled": True}},
                               "keySource": "Microsoft.Storage"},
                "accessTier": "Hot", "provisioningState": "Succeeded", "creationTime": "2026-01-05T10:00:00.0000000Z",
                "primaryLocation": region, "statusOfPrimary": "available", "supportsHttpsTrafficOnly": True,
                "minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": False, "publicNetworkAccess": "Enabled"}})

    def key_vault(self, sub: str, rg: str, name: str, region: str, subnet_ids: list[str], flaws: Flaws) -> dict[str, Any]:
        return self.add({
            "id": _rid(sub, rg, "Microsoft.KeyVault/vaults", name), "name": name, "type": "Microsoft.KeyVault/vaults",
            "location": region, "tags": {},
            "systemData": {"createdBy": "platform@contoso.com", "createdByType": "User", "createdAt": "2026-01-05T10:00:00.000Z"},
            "properties": {
                "sku": {"family": "A", "name": "standard"}, "tenantId": TENANT_ID,
                # Key Vault hands subnet ids back lower-cased.
                "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow" if flaws.vault_open else "Deny",
                                "ipRules": [{"value": "203.0.113.17/32"}], "virtualNetworkRules": [{"id": s.lower()} for s in subnet_ids]},
                "enabledForDeployment": False, "enableSoftDelete": True, "softDeleteRetentionInDays": 90,
                "enableRbacAuthorization": True, "enablePurgeProtection": True, "vaultUri": f"https://{name}.vault.azure.net/",
                "provisioningState": "Succeeded", "publicNetworkAccess": "Enabled"}})

    def workspace_object(self, sub: str, rg: str, name: str, region: str, storage: dict[str, Any], vault: dict[str, Any]) -> dict[str, Any]:
        return self.add({
            "id": _rid(sub, rg, "Microsoft.MachineLearningServices/workspaces", name), "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces", "location": region,
            "identity": {"principalId": _guid(self.rng), "tenantId": TENANT_ID, "type": "SystemAssigned"},
            "sku": {"name": "Basic", "tier": "Basic"}, "kind": "Default",
            "properties": {
                "friendlyName": name, "storageAccount": storage["id"], "keyVault": vault["id"],
                "containerRegistry": _rid(sub, rg, "Microsoft.ContainerRegistry/registries", name.replace("-", "")[:40]),
                "applicationInsights": _rid(sub, rg, "microsoft.insights/components", f"appi-{name}"),
                "discoveryUrl": f"https://{region}.api.azureml.ms/discovery", "hbiWorkspace": False,
                "workspaceId": _guid(self.rng), "provisioningState": "Succeeded", "publicNetworkAccess": "Disabled",
                "allowPublicAccessWhenBehindVnet": False, "v1LegacyMode": False, "privateLinkCount": 1,
                "mlFlowTrackingUri": f"azureml://{region}.api.azureml.ms/mlflow/v1.0/subscriptions/{sub}/resourceGroups/{rg}/"
                                     f"providers/Microsoft.MachineLearningServices/workspaces/{name}"}})

    def _compute(self, ws: dict[str, Any], name: str, compute_type: str, props: dict[str, Any],
                 resource_id: str | None = None) -> dict[str, Any]:
        outer: dict[str, Any] = {"computeType": compute_type, "computeLocation": ws["location"], "provisioningState": "Succeeded",
                                 "description": None, "createdOn": "2026-01-05T10:00:00.0000000+00:00",
                                 "modifiedOn": "2026-02-11T16:42:00.0000000+00:00", "provisioningErrors": None,
                                 "isAttachedCompute": resource_id is not None, "disableLocalAuth": True, "properties": props}
        if resource_id is not None:
            outer["resourceId"] = resource_id
        return self.add({"id": f"{ws['id']}/computes/{name}", "name": name, "type": "Microsoft.MachineLearningServices/workspaces/computes",
                         "location": ws["location"], "properties": outer})

    def aml_compute(self, ws: dict[str, Any], name: str, subnet_id: str, max_nodes: int, current_nodes: int, flaws: Flaws) -> None:
        rng = self.rng
        self._compute(ws, name, "AmlCompute", {
            "vmSize": rng.choice(("STANDARD_DS3_V2", "STANDARD_D13_V2", "STANDARD_NC6S_V3")), "vmPriority": "Dedicated", "osType": "Linux",
            "virtualMachineImage": None, "isolatedNetwork": False, "subnet": {"id": subnet_id},
            "scaleSettings": {"maxNodeCount": max_nodes, "minNodeCount": 0, "nodeIdleTimeBeforeScaleDown": "PT120S"},
            # The SSH-from-anywhere flaw is only a failure while remote login is not meant to be public.
            "remoteLoginPortPublicAccess": "Disabled" if flaws.ssh_from_internet else rng.choice(("Disabled", "NotSpecified", "Enabled")),
            "allocationState": "Steady", "allocationStateTransitionTime": "2026-11-28T18:11:00.000Z", "errors": None,
            "currentNodeCount": current_nodes, "targetNodeCount": current_nodes,
            "nodeStateCounts": {"preparingNodeCount": 0, "runningNodeCount": current_nodes, "idleNodeCount": 0,
                                "unusableNodeCount": 0, "leavingNodeCount": 0, "preemptedNodeCount": 0},
            "enableNodePublicIp": rng.random() < 0.85})

    def vm_compute(self, ws: dict[str, Any], name: str, vm_id: str, address: str) -> None:
        self._compute(ws, name, "VirtualMachine", {"virtualMachineSize": "Standard_DS3_v2", "sshPort": 22, "address": address,
                                                   "administratorAccount": {"username": "azureuser"}, "isNotebookInstanceCompute": False},
                      resource_id=vm_id)

    def aks_compute(self, ws: dict[str, Any], name: str, cluster: dict[str, Any], subnet_id: str, flaws: Flaws) -> None:
        props: dict[str, Any] = {"clusterFqdn": cluster["properties"]["fqdn"], "agentCount": 3, "agentVmSize": "Standard_D4s_v5",
                                 "clusterPurpose": "FastProd", "loadBalancerType": "InternalLoadBalancer",
                                 "sslConfiguration": {"status": self.rng.choice(("Enabled", "Auto", "Disabled")),
                                                      "leafDomainLabel": name, "overwriteExistingDomain": False}}
        # Clusters created through Azure Machine Learning carry their networking on the compute;
        # attached ones do not, and the auditor falls back to the managed cluster.
        if self.rng.random() < 0.7:
            net = cluster["properties"]["networkProfile"]
            props["aksNetworkingConfiguration"] = {"subnetId": subnet_id, "serviceCidr": net["serviceCidr"],
                                                   "dnsServiceIP": net["dnsServiceIP"], "dockerBridgeCidr": net["dockerBridgeCidr"]}
        self._compute(ws, name, "AKS", props, resource_id=cluster["id"])


def generate(n_workspaces: int, seed: int = 0, service_tags_path: Path = SERVICE_TAGS_FILE) -> dict[str, Any]:
    """An `amlaudit.snapshot/v1` document with `n_workspaces` workspaces; the same (n, seed) gives the same document.

    The service-tag `values` list is one object shared by the four region entries.
    """
    if n_workspaces < 1:
        raise ValueError("n_workspaces must be at least 1")
    return _Generator(n_workspaces, seed, load_service_tags(service_tags_path)).document()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.estate_gen", description=__doc__.split("\n\n")[0])
    parser.add_argument("n_workspaces", type=int)
    parser.add_argument("out", type=Path, help="snapshot file to write (.json, or .json.gz for gzip)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from amlaudit.auditor.snapshot import write_snapshot  # the product's own writer: validates, then writes atomically

    path = write_snapshot(generate(args.n_workspaces, args.seed), args.out)
    print(f"wrote {path}: {args.n_workspaces} workspaces, {path.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
