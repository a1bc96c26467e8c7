from amlaudit.auditor.flowquery import flow_context
from amlaudit.checks.flows import compute_batch_inbound
from tests.estates import EstateBuilder
from tests.flow_helpers import (
    Cluster,
    allow_batch,
    asg,
    deciders,
    deny_internet_inbound,
    denied_parts,
    rule,
    full_download_subset,
    split_prefix,
    tag_prefixes,
    verdict_of,
    verdicts_by_id,
    with_first_half_of,
)

BATCH_EASTUS = tag_prefixes("BatchNodeManagement.EastUS")


def _verdict(cluster: Cluster):
    return verdict_of(compute_batch_inbound, cluster.builder, cluster.compute)


def test_pass_when_the_subnet_nsg_allows_the_regional_batch_tag(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch(), deny_internet_inbound()])
    v = _verdict(cluster)
    assert v.status == "pass", v.message
    assert v.evidence["service_tag"] == "BatchNodeManagement.EastUS"
    assert len(BATCH_EASTUS) == 17
    assert v.evidence["service_tag_prefixes"] == ("17 IPv4 prefixes (BatchNodeManagement.EastUS, the entry named for the "
                                                     "VNet's region eastus; 1 IPv6 prefix ignored)")
    assert deciders(v) == ["AllowBatchNodeManagement"]
    assert "all 17 IPv4 prefixes of BatchNodeManagement.EastUS" in v.message
    assert "Batch" in v.evidence["nic_nsgs"]


def test_fail_when_only_default_rules_deny_internet_inbound(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [])
    v = _verdict(cluster)
    assert v.status == "fail"
    assert deciders(v) == ["DenyAllInBound"]
    (part,) = denied_parts(v)
    assert part["witness"]["dst_port"] in (29876, 29877) and part["witness"]["src_ip"] != ""


def test_fail_when_a_deny_on_internet_sits_above_the_batch_allow(builder: EstateBuilder) -> None:
    # Batch's addresses are Internet addresses: the deny takes them before the allow is reached.
    cluster = Cluster(builder, [deny_internet_inbound(100), allow_batch(200)])
    v = _verdict(cluster)
    assert v.status == "fail"
    assert "DenyInternetInbound (priority 100" in v.message
    assert "before AllowBatchNodeManagement (priority 200) is reached" in v.message
    (part,) = denied_parts(v)
    assert part["shadowed_allow"]["rule"] == "AllowBatchNodeManagement"
    assert part["src"]["matching_prefixes"] == 17


def test_fail_when_only_half_a_batch_prefix_is_allowed(builder: EstateBuilder) -> None:
    victim = "20.42.6.224/27"
    cluster = Cluster(builder, [allow_batch(source=with_first_half_of(BATCH_EASTUS, victim))])
    v = _verdict(cluster)
    assert v.status == "fail"
    (part,) = denied_parts(v)
    assert part["src"]["cidrs"] == [split_prefix(victim)[1]]
    assert deciders(v).count("DenyAllInBound") == 1


def test_pass_with_the_port_list_in_the_plural_field(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch(ports=["29876", "29877"])])
    batch_rule = cluster.nsg["properties"]["securityRules"][0]["properties"]
    assert batch_rule["destinationPortRanges"] == ["29876", "29877"] and "destinationPortRange" not in batch_rule
    assert _verdict(cluster).status == "pass"


def test_pass_with_a_port_range_in_the_singular_field(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch(ports="29876-29877")])
    assert cluster.nsg["properties"]["securityRules"][0]["properties"]["destinationPortRange"] == "29876-29877"
    assert _verdict(cluster).status == "pass"


def test_fail_when_only_29876_is_allowed(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch(ports="29876")])
    v = _verdict(cluster)
    assert v.status == "fail"
    (part,) = denied_parts(v)
    assert part["dst_ports"] == ["29877"]


def test_the_regional_tag_is_preferred_over_the_global_one(builder: EstateBuilder) -> None:
    # Only the East US entry is allowed: enough, because the VNet is in East US.
    assert _verdict(Cluster(builder, [allow_batch(source="BatchNodeManagement.EastUS")])).status == "pass"


def test_the_regional_tag_of_the_vnets_region_is_used(builder: EstateBuilder) -> None:
    # The same rule in a West Europe VNet leaves BatchNodeManagement.WestEurope out.
    cluster = Cluster(builder, [allow_batch(source="BatchNodeManagement.EastUS")], location="westeurope")
    v = _verdict(cluster)
    assert v.status == "fail"
    assert v.evidence["service_tag"] == "BatchNodeManagement.WestEurope"
    assert v.evidence["region"] == "westeurope"


def test_the_global_tag_is_used_when_the_region_has_no_entry(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch(source="BatchNodeManagement.EastUS")], location="northeurope")
    v = _verdict(cluster)
    assert v.status == "fail"
    assert v.evidence["service_tag"] == "BatchNodeManagement"
    assert v.evidence["service_tag_prefixes"].startswith(
        f"{len(tag_prefixes('BatchNodeManagement'))} IPv4 prefixes (global BatchNodeManagement: no entry is named "
        "BatchNodeManagement.northeurope")


def test_the_entry_named_for_the_region_is_used_whatever_its_region_field_says(builder: EstateBuilder) -> None:
    # Real data: BatchNodeManagement.FranceCentral says region "centralfrance". The catalog finds the
    # entry by name, so a francecentral VNet whose NSG allows exactly its prefixes passes.
    body = full_download_subset("BatchNodeManagement", "BatchNodeManagement.FranceCentral")
    france = next(v for v in body["values"] if v["name"] == "BatchNodeManagement.FranceCentral")
    assert france["properties"]["region"] == "centralfrance"
    france_v4 = [p for p in france["properties"]["addressPrefixes"] if ":" not in p]
    cluster = Cluster(builder, [allow_batch(source=france_v4), deny_internet_inbound()], location="francecentral",
                      tags=False)
    builder.service_tags.append({"location": "francecentral", "body": body})
    v = _verdict(cluster)
    assert v.status == "pass", v.message
    assert v.evidence["service_tag"] == "BatchNodeManagement.FranceCentral"
    assert v.evidence["service_tag_prefixes"].startswith(
        f"{len(france_v4)} IPv4 prefixes (BatchNodeManagement.FranceCentral, the entry named for the VNet's region "
        "francecentral")


def test_a_francecentral_vnet_passes_when_the_global_batch_tag_is_allowed(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch(source="BatchNodeManagement"), deny_internet_inbound()],
                      location="francecentral", tags=False)
    builder.service_tags.append({"location": "francecentral", "body": full_download_subset(
        "BatchNodeManagement", "BatchNodeManagement.FranceCentral")})
    v = _verdict(cluster)
    assert v.status == "pass", v.message
    assert v.evidence["service_tag"] == "BatchNodeManagement.FranceCentral"


def test_the_region_field_of_the_entry_plays_no_part(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch()])
    body = builder.service_tags[0]["body"]
    body["values"] = [v for v in body["values"] if v["name"] != "BatchNodeManagement"]
    next(v for v in body["values"] if v["name"] == "BatchNodeManagement.EastUS")["properties"]["region"] = "useast"
    v = _verdict(cluster)
    assert v.status == "pass", v.message
    assert v.evidence["service_tag"] == "BatchNodeManagement.EastUS"


def test_error_when_neither_the_named_entry_nor_the_global_tag_is_in_the_data(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch(source="*")], location="germanywestcentral", tags=False)
    body = full_download_subset("BatchNodeManagement.FranceCentral")  # another region's entry only
    builder.service_tags.append({"location": "germanywestcentral", "body": body})
    v = _verdict(cluster)
    assert v.status == "error"
    assert ("neither an entry named BatchNodeManagement.germanywestcentral nor the global BatchNodeManagement is in "
            "the snapshot's service-tag data") in v.message


def test_a_rule_on_the_global_tag_covers_the_regional_prefixes(builder: EstateBuilder) -> None:
    assert _verdict(Cluster(builder, [allow_batch(source="BatchNodeManagement")])).status == "pass"


def test_ipv6_prefixes_are_ignored_for_an_ipv4_subnet(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch(source=BATCH_EASTUS)])  # the 17 IPv4 prefixes, not the IPv6 one
    v = _verdict(cluster)
    assert v.status == "pass"
    assert v.evidence["service_tag_prefixes"].endswith("1 IPv6 prefix ignored)")


def test_a_dual_stack_subnet_is_judged_on_the_ipv6_prefixes_too(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch(source=BATCH_EASTUS)], prefix=["10.0.1.0/24", "fd00:db8:0:1::/64"],
                      vnet_prefixes=["10.0.0.0/16", "fd00:db8::/48"])
    v = _verdict(cluster)
    assert v.status == "fail"
    (part,) = denied_parts(v)
    assert part["src"]["cidrs"] == tag_prefixes("BatchNodeManagement.EastUS", 6)


def test_an_allow_naming_an_application_security_group_is_assumed_to_match_nothing(builder: EstateBuilder) -> None:
    asg_allow = rule("AllowBatchToNodes", 100, "Inbound", "Allow", "Tcp", "BatchNodeManagement", None, "29876-29877",
                     destinationApplicationSecurityGroups=[asg("asg-nodes")])
    del asg_allow["properties"]["destinationAddressPrefix"]
    v = _verdict(Cluster(builder, [asg_allow]))
    assert v.status == "fail"
    (assumed,) = v.evidence["flow"]["assumed"]
    assert assumed["groups"] == ["asg-nodes"] and assumed["assumption"] == "matches nothing"


def test_a_deny_naming_an_application_security_group_is_assumed_to_match(builder: EstateBuilder) -> None:
    asg_deny = rule("DenyToLegacy", 90, "Inbound", "Deny", "*", "*", None, "*",
                    destinationApplicationSecurityGroups=[asg("asg-legacy")])
    del asg_deny["properties"]["destinationAddressPrefix"]
    v = _verdict(Cluster(builder, [asg_deny, allow_batch()]))
    assert v.status == "fail"
    assert deciders(v) == ["DenyToLegacy"]
    assert v.evidence["flow"]["assumed"][0]["assumption"] == "matches everything it could"


def test_pass_when_the_subnet_has_no_nsg(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, None))
    assert v.status == "pass"
    assert v.evidence["subnet_nsg_id"] is None
    assert "no subnet NSG" in v.message


def test_not_applicable_without_node_public_ips(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [], enable_node_public_ip=False))
    assert v.status == "not_applicable"
    assert "enableNodePublicIp" in v.message


def test_not_applicable_when_the_cluster_names_no_subnet(builder: EstateBuilder) -> None:
    ws = builder.workspace()
    cpu = builder.aml_compute(ws, "cpu", None)
    builder.real_service_tags()
    assert verdict_of(compute_batch_inbound, builder, cpu).status == "not_applicable"


def test_error_when_the_subnet_nsg_could_not_be_read(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch()])
    builder.drop(cluster.nsg)
    builder.collection_error(cluster.nsg["id"], status=403)
    v = _verdict(cluster)
    assert v.status == "error"
    assert "403" in v.message and v.evidence["missing"]["id"] == cluster.nsg["id"]


def test_error_when_service_tags_were_not_collected(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch()], tags=False)
    builder.service_tags = None
    v = _verdict(cluster)
    assert v.status == "error"
    assert "BatchNodeManagement" in v.message and "service_tags" in v.message


def test_error_when_neither_the_regional_nor_the_global_tag_is_in_the_data(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch()])
    body = builder.service_tags[0]["body"]
    body["values"] = [v for v in body["values"] if not v["name"].startswith("BatchNodeManagement")]
    v = _verdict(cluster)
    assert v.status == "error"
    assert "BatchNodeManagement" in v.message


def test_error_when_a_rule_that_could_decide_names_an_unknown_tag(builder: EstateBuilder) -> None:
    unknown = rule("DenyScanners", 90, "Inbound", "Deny", "Tcp", "ContosoScanners", "*", "29876")
    v = _verdict(Cluster(builder, [unknown, allow_batch()]))
    assert v.status == "error"
    assert "ContosoScanners" in v.message
    assert v.evidence["flow"]["unresolved"][0]["value"] == "ContosoScanners"


def test_an_unknown_tag_on_other_ports_does_not_spoil_the_verdict(builder: EstateBuilder) -> None:
    unknown = rule("DenyScanners", 90, "Inbound", "Deny", "Tcp", "ContosoScanners", "*", "3389")
    assert _verdict(Cluster(builder, [unknown, allow_batch()])).status == "pass"


def test_fail_when_part_is_denied_for_certain_and_another_rule_is_unknown(builder: EstateBuilder) -> None:
    deny_29877 = rule("DenyLegacyAgent", 90, "Inbound", "Deny", "Tcp", "*", "*", "29877")
    unknown = rule("DenyScanners", 95, "Inbound", "Deny", "Tcp", "ContosoScanners", "*", "29876")
    v = _verdict(Cluster(builder, [deny_29877, unknown, allow_batch()]))
    assert v.status == "fail"
    assert [p["dst_ports"] for p in denied_parts(v)] == [["29877"]]
    assert v.evidence["flow"]["unresolved"][0]["value"] == "ContosoScanners"


def test_error_when_an_unknown_allow_could_let_the_rest_in(builder: EstateBuilder) -> None:
    unknown = rule("AllowPartner", 150, "Inbound", "Allow", "Tcp", "ContosoPartners", "*", "29877")
    v = _verdict(Cluster(builder, [allow_batch(ports="29876"), unknown]))
    assert v.status == "error"
    assert "ContosoPartners" in v.message


def test_error_when_the_subnet_is_not_in_its_vnet(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    ws = builder.workspace()
    cpu = builder.aml_compute(ws, "cpu", f"{vnet['id']}/subnets/snet-gone")
    builder.real_service_tags()
    v = verdict_of(compute_batch_inbound, builder, cpu)
    assert v.status == "error" and "snet-gone" in v.message


def test_error_when_the_vnet_has_no_address_space(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [allow_batch()])
    cluster.vnet["properties"]["addressSpace"] = {}
    v = _verdict(cluster)
    assert v.status == "error" and "address space" in v.message


def test_clusters_sharing_a_subnet_each_get_the_verdict(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [deny_internet_inbound(100), allow_batch(200)])
    other = builder.aml_compute(cluster.workspace, "gpu", cluster.subnet)
    found = verdicts_by_id(compute_batch_inbound, builder)
    assert {found[cluster.compute["id"]].status, found[other["id"]].status} == {"fail"}
    assert found[other["id"]].evidence["subnet_id"] == cluster.subnet["id"]


def test_the_flow_context_is_built_once_per_estate(builder: EstateBuilder) -> None:
    Cluster(builder, [allow_batch()])
    estate = builder.estate()
    assert flow_context(estate) is flow_context(estate)
    assert flow_context(estate) is not flow_context(builder.estate())


def test_an_unlisted_compute_list_is_an_error(builder: EstateBuilder) -> None:
    ws = builder.workspace()
    builder.collection_error(f"{ws['id']}/computes", status=403)
    builder.real_service_tags()
    (v,) = compute_batch_inbound(builder.estate())
    assert v.status == "error" and "could not be listed" in v.message
