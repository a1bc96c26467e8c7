from amlaudit.checks.flows import compute_outbound_internet
from tests.estates import EstateBuilder
from tests.flow_helpers import Cluster, rule, tag_prefixes, verdict_of


def _verdict(cluster: Cluster):
    return verdict_of(compute_outbound_internet, cluster.builder, cluster.compute)


def _restricted(*, acr: bool = True, storage: str = "Storage.EastUS", aml: str = "AzureMachineLearning") -> list[dict]:
    """The document's "Limiting outbound connectivity": the three services on 443, then deny Internet."""
    rules = [rule("AllowStorageOutbound", 100, "Outbound", "Allow", "Tcp", "VirtualNetwork", storage, "443"),
             rule("AllowAzureMachineLearningOutbound", 120, "Outbound", "Allow", "Tcp", "VirtualNetwork", aml, "443"),
             rule("DenyInternetOutbound", 4000, "Outbound", "Deny", "*", "*", "Internet", "*")]
    if acr:
        rules.append(rule("AllowContainerRegistryOutbound", 110, "Outbound", "Allow", "Tcp", "VirtualNetwork",
                          "AzureContainerRegistry.EastUS", "443"))
    return rules


def _outcomes(v) -> dict[str, str]:
    """service-tag entry -> "allowed", or the outcome of the flow that was not allowed."""
    found = {words.split(":", 1)[0]: "allowed" for words in v.evidence["allowed"]}
    found.update({d["service_tag"]: d["flow"]["outcome"] for d in v.evidence.get("not_allowed", [])})
    return found


def test_pass_with_default_rules(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, []))
    assert v.status == "pass", v.message
    # Storage and AzureContainerRegistry regional; AzureMachineLearning the global tag, as the row names it.
    assert _outcomes(v) == dict.fromkeys(["Storage.EastUS", "AzureContainerRegistry.EastUS", "AzureMachineLearning"],
                                         "allowed")
    assert "AllowInternetOutBound" in v.message


def test_pass_with_the_restricted_set_the_document_describes(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, _restricted()))
    assert v.status == "pass", v.message
    assert "AllowContainerRegistryOutbound (priority 110)" in v.message
    (aml,) = [words for words in v.evidence["allowed"] if words.startswith("AzureMachineLearning:")]
    assert f"all {len(tag_prefixes('AzureMachineLearning'))} IPv4 prefixes, by AllowAzureMachineLearningOutbound " \
           "(priority 120)" in aml


def test_fail_when_the_container_registry_is_left_out(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, _restricted(acr=False)))
    assert v.status == "fail"
    assert "AzureContainerRegistry.EastUS" in v.message and "DenyInternetOutbound" in v.message
    found = _outcomes(v)
    assert found["AzureContainerRegistry.EastUS"] == "denied"
    assert found["Storage.EastUS"] == "allowed"
    (detail,) = v.evidence["not_allowed"]
    assert detail["flow"]["parts"][0]["deciders"][0]["rule"] == "DenyInternetOutbound"


def test_fail_when_storage_of_another_region_is_allowed(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, _restricted(storage="Storage.WestEurope")))
    assert v.status == "fail"
    assert "Storage.EastUS" in v.message


def test_fail_when_only_the_regional_machine_learning_tag_is_allowed(builder: EstateBuilder) -> None:
    # The row names AzureMachineLearning without a region: the global tag, most of which lies outside
    # AzureMachineLearning.EastUS.
    v = _verdict(Cluster(builder, _restricted(aml="AzureMachineLearning.EastUS")))
    assert v.status == "fail"
    found = _outcomes(v)
    assert found["AzureMachineLearning"] == "partly allowed"
    assert found["Storage.EastUS"] == found["AzureContainerRegistry.EastUS"] == "allowed"
    assert "DenyInternetOutbound" in v.message


def test_storage_and_registry_follow_the_vnet_region(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [], location="westeurope"))
    assert v.status == "pass"
    assert set(_outcomes(v)) == {"Storage.WestEurope", "AzureContainerRegistry.WestEurope", "AzureMachineLearning"}


def test_a_deny_for_udp_does_not_touch_tcp_443(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [rule("DenyUdpOut", 100, "Outbound", "Deny", "Udp", "*", "Internet", "*")]))
    assert v.status == "pass"


def test_fail_when_443_is_denied_to_part_of_a_tag(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [rule("DenyOneRange", 100, "Outbound", "Deny", "Tcp", "*", "20.42.0.240/28", "443")]))
    assert v.status == "fail"
    assert "prefixes of AzureMachineLearning " in v.message and "20.42.0.240/28" in v.message


def test_error_when_a_tag_is_missing_from_the_data(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [])
    body = builder.service_tags[0]["body"]
    body["values"] = [v for v in body["values"] if not v["name"].startswith("AzureContainerRegistry")]
    v = _verdict(cluster)
    assert v.status == "error"
    assert "AzureContainerRegistry" in v.message


def test_fail_when_one_tag_is_denied_and_another_is_missing(builder: EstateBuilder) -> None:
    # (No rule names the missing tag: a rule naming it could allow anything, and the verdict would be unknown.)
    cluster = Cluster(builder, _restricted(acr=False, storage="Storage.WestEurope"))
    body = builder.service_tags[0]["body"]
    body["values"] = [v for v in body["values"] if not v["name"].startswith("AzureContainerRegistry")]
    v = _verdict(cluster)
    assert v.status == "fail"
    assert "also unknown" in v.message and "AzureContainerRegistry" in v.message


def test_error_without_service_tag_data(builder: EstateBuilder) -> None:
    cluster = Cluster(builder, [], tags=False)
    builder.service_tags = None
    assert _verdict(cluster).status == "error"


def test_an_nsg_rule_naming_an_unknown_tag_that_may_deny_is_an_error(builder: EstateBuilder) -> None:
    v = _verdict(Cluster(builder, [rule("DenyToStorage", 100, "Outbound", "Deny", "Tcp", "*", "Storage", "443")]))
    # The sample data has no global Storage entry: the rule may deny Storage.EastUS, or not.
    assert v.status == "error"
    assert "Storage" in v.message


def test_vm_through_its_nic_nsg(builder: EstateBuilder) -> None:
    vnet = builder.vnet()
    subnet = builder.subnet(vnet, "snet-vm", "10.0.2.0/24", nsg=builder.nsg("nsg-vm-subnet"))
    nic_nsg = builder.nsg("nsg-vm-nic", rules=[rule("DenyInternetOut", 100, "Outbound", "Deny", "*", "*", "Internet")])
    nic = builder.nic("nic-vm", subnet, "10.0.2.4", nsg=nic_nsg)
    compute = builder.vm_compute(builder.workspace(), "dev-vm", builder.vm("vm-dev", nic))
    builder.real_service_tags()
    v = verdict_of(compute_outbound_internet, builder, compute)
    assert v.status == "fail"
    assert "DenyInternetOut" in v.message and "nsg-vm-nic" in v.message
