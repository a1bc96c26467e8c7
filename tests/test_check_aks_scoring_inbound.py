from checks.flows import aks_scoring_inbound
from tests.aks_helpers import real_kubenet_cluster
from tests.estates import EstateBuilder
from tests.flow_helpers import AksCluster, asg, deciders, deny_internet_inbound, rule, verdict_of

ALLOW_AML = rule("AllowAzureMachineLearningHttps", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning", "*", "443")


def _scoring(source: str | list[str], ports: str | list[str] = "443", priority: int = 110, **extra) -> dict:
    return rule("AllowScoring", priority, "Inbound", "Allow", "Tcp", source, "*", ports, **extra)


def _verdict(aks: AksCluster):
    return verdict_of(aks_scoring_inbound, aks.builder, aks.compute)


def test_pass_when_ssl_is_on_and_443_is_open_to_the_internet(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [ALLOW_AML, _scoring("Internet"), deny_internet_inbound()]))
    assert v.status == "pass", v.message
    assert v.evidence["scoring_port"] == 443 and v.evidence["ssl_status"] == "Enabled"
    assert "AllowScoring" in v.message


def test_fail_when_ssl_is_off_and_only_443_is_open(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [_scoring("Internet")], ssl_status="Disabled"))
    assert v.status == "fail"
    assert v.evidence["scoring_port"] == 80
    assert "TCP 80" in v.message and "DenyAllInBound" in v.message


def test_ssl_auto_scores_on_443(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [_scoring("Internet")], ssl_status="Auto"))
    assert v.status == "pass" and v.evidence["scoring_port"] == 443


def test_without_ssl_configuration_the_port_is_80(builder: EstateBuilder) -> None:
    aks = AksCluster(builder, [_scoring("Internet", ["80", "443"])])
    del aks.compute["properties"]["properties"]["sslConfiguration"]
    v = _verdict(aks)
    assert v.status == "pass" and v.evidence["scoring_port"] == 80


def test_error_for_an_unknown_ssl_status(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [_scoring("Internet")], ssl_status="Pending"))
    assert v.status == "error" and "Pending" in v.message


def test_fail_with_default_rules_only(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, []))
    assert v.status == "fail"
    assert deciders(v) == ["DenyAllInBound"]


def test_one_public_address_is_enough(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [_scoring("198.51.100.20")]))
    assert v.status == "pass"
    assert "198.51.100.20/32" in v.message


def test_the_service_addresses_are_not_public_clients(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [ALLOW_AML]))
    assert v.status == "fail"


def test_an_allow_naming_an_application_security_group_is_assumed_to_match(builder: EstateBuilder) -> None:
    allow = _scoring("Internet", destinationApplicationSecurityGroups=[asg("asg-ingress")])
    del allow["properties"]["destinationAddressPrefix"]
    v = _verdict(AksCluster(builder, [allow]))
    assert v.status == "pass"
    (assumed,) = v.evidence["assumed"]
    assert "asg-ingress" in assumed and "matches everything it could" in assumed


def test_ipv6_only_sources_do_not_count_for_an_ipv4_subnet(builder: EstateBuilder) -> None:
    assert _verdict(AksCluster(builder, [_scoring("::/0")])).status == "fail"


def test_pass_when_the_aks_subnet_has_no_nsg(builder: EstateBuilder) -> None:
    assert _verdict(AksCluster(builder, None)).status == "pass"


def test_not_applicable_to_a_cluster_outside_customer_networks(builder: EstateBuilder) -> None:
    compute = real_kubenet_cluster(builder)
    builder.real_service_tags()
    assert verdict_of(aks_scoring_inbound, builder, compute).status == "not_applicable"


def test_error_when_an_allow_names_an_unknown_tag(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [_scoring("ContosoClients")]))
    assert v.status == "error" and "ContosoClients" in v.message


def test_error_when_the_nsg_could_not_be_read(builder: EstateBuilder) -> None:
    aks = AksCluster(builder, [_scoring("Internet")])
    builder.drop(aks.nsg)
    builder.collection_error(aks.nsg["id"], status=403)
    assert _verdict(aks).status == "error"
