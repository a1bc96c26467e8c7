from amlaudit.checks.flows import compute_remote_login
from tests.estates import EstateBuilder
from tests.flow_helpers import Cluster, asg, deciders, deny_internet_inbound, rule, verdict_of


def _verdict(cluster: Cluster):
    return verdict_of(compute_remote_login, cluster.builder, cluster.compute)


def _ssh_from(source: str | list[str], priority: int = 300, **extra) -> dict:
    return rule("AllowSsh", priority, "Inbound", "Allow", "Tcp", source, "*", "22", **extra)


def _allowed_parts(v) -> list[dict]:
    return v.evidence["flow"]["allowed_parts"]


def test_pass_with_default_rules_only(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, []))
    assert v.status == "pass", v.message
    assert deciders(v) == ["DenyAllInBound"]
    assert v.evidence["public_clients"]["excluded_service_tags"] == ["AzureMachineLearning (330 prefixes)",
                                                                     "BatchNodeManagement (450 prefixes)"]


def test_fail_when_ssh_is_open_to_any_source(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [_ssh_from("*")]))
    assert v.status == "fail"
    assert "AllowSsh (priority 300" in v.message
    (part,) = _allowed_parts(v)
    assert part["src"]["whole_side"] and part["dst_ports"] == ["22"]


def test_fail_when_ssh_is_open_to_one_public_address(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [_ssh_from("84.17.32.7")]))
    assert v.status == "fail"
    (part,) = _allowed_parts(v)
    assert part["src"]["cidrs"] == ["84.17.32.7/32"]
    assert part["witness"] == "TCP 84.17.32.7:1024 -> 10.0.1.4:22"
    assert "84.17.32.7/32" in v.message


def test_pass_when_public_ssh_was_requested(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [_ssh_from("Internet")], remote_login="Enabled"))
    assert v.status == "pass"
    assert "requested" in v.message
    assert v.evidence["remote_login_port_public_access"] == "Enabled"


def test_not_specified_is_not_a_request_for_public_ssh(builder: EstateBuilder) -> None:
    assert _verdict(Cluster(builder, [_ssh_from("Internet")], remote_login="NotSpecified")).status == "fail"


def test_the_services_own_addresses_are_not_public_clients(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [_ssh_from(["AzureMachineLearning", "BatchNodeManagement"])])
    assert _verdict(cluster).status == "pass"


def test_the_virtual_network_is_not_a_public_client(builder: EstateBuilder) -> None:
    assert _verdict(Cluster(builder, [_ssh_from("VirtualNetwork")])).status == "pass"


def test_ipv6_sources_do_not_reach_an_ipv4_subnet(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [_ssh_from("::/0")]))
    assert v.status == "pass"
    assert v.evidence["public_clients"]["families"] == "IPv4"


def test_a_deny_on_internet_above_the_ssh_allow_passes(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [deny_internet_inbound(100), _ssh_from("*", 200)]))
    assert v.status == "pass"
    assert deciders(v) == ["DenyInternetInbound"]


def test_an_allow_naming_an_application_security_group_is_assumed_to_let_ssh_in(builder: EstateBuilder) -> None:
    allow = _ssh_from("*", destinationApplicationSecurityGroups=[asg("asg-nodes")])
    del allow["properties"]["destinationAddressPrefix"]
    v = _verdict(Cluster(builder, [allow]))
    assert v.status == "fail"
    (assumed,) = v.evidence["flow"]["assumed"]
    assert assumed["groups"] == ["asg-nodes"] and assumed["assumption"] == "matches everything it could"
    assert "worst case assumed" in v.message


def test_a_deny_naming_an_application_security_group_is_assumed_to_stop_nothing(builder: EstateBuilder) -> None:
    deny = rule("DenySshToNodes", 100, "Inbound", "Deny", "Tcp", "*", None, "22",
                destinationApplicationSecurityGroups=[asg("asg-nodes")])
    del deny["properties"]["destinationAddressPrefix"]
    v = _verdict(Cluster(builder, [deny, _ssh_from("*", 200)]))
    assert v.status == "fail"
    assert "AllowSsh" in v.message


def test_not_applicable_without_a_subnet_nsg(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, None))
    assert v.status == "not_applicable"
    assert "no NSG" in v.message


def test_error_when_the_nsg_could_not_be_read(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [])
    builder.drop(cluster.nsg)
    builder.collection_error(cluster.nsg["id"], status=403)
    v = _verdict(cluster)
    assert v.status == "error" and "403" in v.message


def test_error_when_an_allow_names_an_unknown_tag(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [_ssh_from("ContosoJumpHosts")]))
    assert v.status == "error"
    assert "ContosoJumpHosts" in v.message


def test_fail_when_ssh_is_open_for_certain_beside_an_unknown_tag(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [_ssh_from("ContosoJumpHosts", 200),
                                   rule("AllowVendorSsh", 210, "Inbound", "Allow", "Tcp", "81.2.69.0/24", "*", "22")]))
    assert v.status == "fail"
    assert "AllowVendorSsh" in v.message


def _without_tags(builder: EstateBuilder, rules: list[dict]):
    cluster = Cluster(builder, rules, tags=False)
    builder.service_tags = None
    return _verdict(cluster)


def test_pass_without_service_tag_data_when_no_internet_address_reaches_ssh(builder: EstateBuilder) -> None:
    # Public clients are globally reachable addresses outside the own networks: none of those reaching
    # TCP 22 settles it without the tags.
    v = _without_tags(builder, [_ssh_from("VirtualNetwork")])
    assert v.status == "pass", v.message
    assert "were not needed" in v.message and "service_tags" in v.message
    assert v.evidence["public_clients"]["judged_on"] == "globally reachable addresses outside the own networks"
    assert deciders(v) == ["DenyAllInBound"]


def test_error_without_service_tag_data_when_an_internet_address_reaches_ssh(builder: EstateBuilder) -> None:
    # 84.17.32.7 is not in the service tags, but without them that cannot be told.
    v = _without_tags(builder, [_ssh_from("84.17.32.7")])
    assert v.status == "error"
    assert "public clients cannot be determined" in v.message and "AzureMachineLearning" in v.message


def test_error_without_service_tag_data_when_an_allow_names_a_tag(builder: EstateBuilder) -> None:
    v = _without_tags(builder, [_ssh_from("BatchNodeManagement")])
    assert v.status == "error"
    assert "BatchNodeManagement" in v.message


def test_pass_when_the_data_lacks_the_global_tags_and_ssh_is_closed(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [deny_internet_inbound(100)])
    body = builder.service_tags[0]["body"]
    body["values"] = [v for v in body["values"] if v["name"] != "AzureMachineLearning"]
    v = _verdict(cluster)
    assert v.status == "pass"
    assert "the global AzureMachineLearning is not in" in v.evidence["public_clients"]["not_determined"]


def test_clusters_in_one_subnet_keep_their_own_remote_login_setting(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [_ssh_from("*")])
    open_cluster = builder.aml_compute(cluster.workspace, "debug", cluster.subnet, remote_login="Enabled")
    found = {v.resource_id: v.status for v in compute_remote_login(builder.estate())}
    assert found == {cluster.compute["id"]: "fail", open_cluster["id"]: "pass"}


def test_evidence_lists_the_first_sources_let_in_and_counts_the_rest(builder: EstateBuilder) -> None:
    hosts = [f"81.2.69.{i}" for i in (9, 7, 3, 5, 1, 11)]
    v = _verdict(Cluster(builder, [_ssh_from(hosts)]))
    assert v.status == "fail"
    (part,) = _allowed_parts(v)
    assert part["src"]["cidrs"] == ["81.2.69.1/32", "81.2.69.3/32", "81.2.69.5/32", "81.2.69.7/32",
                                    "81.2.69.9/32"]
    assert part["src"]["truncated"] and part["src"]["range_count"] == 6
    assert "81.2.69.1/32, 81.2.69.3/32, 81.2.69.5/32 and more (6 address ranges in all)" in v.message


def test_evidence_covers_an_unaligned_range_with_exact_cidrs(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [_ssh_from("81.2.69.6-81.2.69.17")]))
    (part,) = _allowed_parts(v)
    assert part["src"]["cidrs"] == ["81.2.69.6/31", "81.2.69.8/29", "81.2.69.16/31"]
    assert not part["src"]["truncated"]
