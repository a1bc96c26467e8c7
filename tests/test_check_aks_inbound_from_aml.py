from amlaudit.checks.flows import aks_inbound_from_aml
from tests.aks_helpers import real_kubenet_cluster
from tests.estates import EstateBuilder
from tests.flow_helpers import AksCluster, deciders, denied_parts, deny_internet_inbound, rule, verdict_of

ALLOW_AML = rule("AllowAzureMachineLearningHttps", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning", "*", "443")


def _verdict(aks: AksCluster):
    return verdict_of(aks_inbound_from_aml, aks.builder, aks.compute)


def test_pass_when_the_subnet_nsg_allows_azure_machine_learning_on_443(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [ALLOW_AML, deny_internet_inbound()]))
    assert v.status == "pass", v.message
    assert v.evidence["service_tag"] == "AzureMachineLearning.EastUS"
    assert deciders(v) == ["AllowAzureMachineLearningHttps"]
    assert "AKS" in v.evidence["nic_nsgs"]


def test_fail_when_only_partner_ranges_reach_443(builder: EstateBuilder) -> None:
    partners = rule("AllowPartnersHttps", 100, "Inbound", "Allow", "Tcp", ["203.0.113.0/26"], "*", "443")
    v = _verdict(AksCluster(builder, [partners, deny_internet_inbound()]))
    assert v.status == "fail"
    assert deciders(v) == ["DenyInternetInbound"]
    assert denied_parts(v)[0]["src"]["label"] == "AzureMachineLearning.EastUS"


def test_fail_with_default_rules_only(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, []))
    assert v.status == "fail" and deciders(v) == ["DenyAllInBound"]


def test_fail_when_only_port_80_is_allowed(builder: EstateBuilder) -> None:
    http = rule("AllowAmlHttp", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning", "*", "80")
    assert _verdict(AksCluster(builder, [http])).status == "fail"


def test_the_regional_tag_of_the_vnets_region_is_judged(builder: EstateBuilder) -> None:
    eastus = rule("AllowAmlEastUs", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning.EastUS", "*", "443")
    assert _verdict(AksCluster(builder, [eastus])).status == "pass"


def test_a_rule_for_another_regions_tag_does_not_do(builder: EstateBuilder) -> None:
    weu = rule("AllowAmlWestEurope", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning.WestEurope", "*", "443")
    v = _verdict(AksCluster(builder, [weu]))
    assert v.status == "fail"


def test_an_attached_cluster_is_judged_in_its_agent_pools_subnet(builder: EstateBuilder) -> None:
    aks = AksCluster(builder, [ALLOW_AML], created=False)
    v = _verdict(aks)
    assert v.status == "pass"
    assert v.evidence["subnet_id"] == aks.subnet["id"]


def test_pass_when_the_aks_subnet_has_no_nsg(builder: EstateBuilder) -> None:
    assert _verdict(AksCluster(builder, None)).status == "pass"


def test_not_applicable_to_a_cluster_outside_customer_networks(builder: EstateBuilder) -> None:
    compute = real_kubenet_cluster(builder)
    builder.real_service_tags()
    v = verdict_of(aks_inbound_from_aml, builder, compute)
    assert v.status == "not_applicable"
    assert "vnetSubnetID" in v.message


def test_error_when_the_managed_cluster_could_not_be_read(builder: EstateBuilder) -> None:
    aks = AksCluster(builder, [ALLOW_AML], created=False)
    builder.drop(aks.cluster)
    builder.collection_error(aks.cluster["id"], status=403)
    v = _verdict(aks)
    assert v.status == "error" and "403" in v.message


def test_error_when_the_subnet_nsg_could_not_be_read(builder: EstateBuilder) -> None:
    aks = AksCluster(builder, [ALLOW_AML])
    builder.drop(aks.nsg)
    builder.collection_error(aks.nsg["id"], status=403)
    assert _verdict(aks).status == "error"


def test_error_without_service_tag_data(builder: EstateBuilder) -> None:
    aks = AksCluster(builder, [ALLOW_AML], tags=False)
    builder.service_tags = None
    v = _verdict(aks)
    assert v.status == "error" and "AzureMachineLearning" in v.message
