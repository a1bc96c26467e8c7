import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from amlaudit.auditor.flowquery import SUBNET, TCP, FlowContext, Side, SideAnswer, inbound, subset_difference
from amlaudit.auditor.netpolicy import AddressSet, Endpoint, PortSet, Question, compile_nsg, evaluate_chain, intervals
from amlaudit.checks.flows import aks_scoring_inbound
from tests.aks_helpers import real_kubenet_cluster
from tests.estates import EstateBuilder
from tests.flow_helpers import AksCluster, asg, deciders, deny_internet_inbound, rule, verdict_of

ALLOW_AML = rule("AllowAzureMachineLearningHttps", 100, "Inbound", "Allow", "Tcp", "AzureMachineLearning", "*", "443")


def _scoring(source: str | list[str], ports: str | list[str] = "443", priority: int = 110, destination: str = "*",
             name: str = "AllowScoring", **extra) -> dict:
    return rule(name, priority, "Inbound", "Allow", "Tcp", source, destination, ports, **extra)


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


def test_any_other_ssl_status_means_port_80(builder: EstateBuilder) -> None:
    # The row: 443 when Enabled or Auto, "else 80".
    v = _verdict(AksCluster(builder, [_scoring("Internet")], ssl_status="Pending"))
    assert v.evidence["scoring_port"] == 80


def test_fail_with_default_rules_only(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, []))
    assert v.status == "fail"
    assert deciders(v) == ["DenyAllInBound"]


def test_one_public_address_is_enough(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [_scoring("81.2.69.20")]))
    assert v.status == "pass"
    assert v.evidence["witness_client"] == "81.2.69.20"
    assert v.evidence["allowed_by"] == ["subnet NSG nsg-aks: AllowScoring (priority 110, Allow)"]
    assert v.evidence["witness"] == "TCP 81.2.69.20:1024 -> 10.0.4.4:443"
    assert "public client 81.2.69.20 can reach every address" in v.message and "AllowScoring" in v.message


def test_fail_when_public_clients_reach_one_address_of_the_subnet_only(builder: EstateBuilder) -> None:
    # "allowed" is for every address of the flow: public client -> every address of the AKS subnet.
    v = _verdict(AksCluster(builder, [_scoring("Internet", destination="10.0.4.4")]))
    assert v.status == "fail"
    assert "partly allowed" in v.message
    assert v.evidence["flow"]["outcome"] == "partly allowed"
    assert deciders(v) == ["AllowScoring", "DenyAllInBound"]


def test_fail_when_each_client_reaches_only_part_of_the_subnet(builder: EstateBuilder) -> None:
    # Every address of the subnet is reachable from some client, but no one client reaches them all.
    v = _verdict(AksCluster(builder, [_scoring("81.2.69.0/25", destination="10.0.4.0/23"),
                                      _scoring("81.2.69.128/25", destination="10.0.6.0/23", priority=120,
                                               name="AllowScoringUpperHalf")]))
    assert v.status == "fail"


def test_pass_when_two_rules_together_cover_the_subnet_for_one_client(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [_scoring("81.2.69.0/24", destination="10.0.4.0/23"),
                                      _scoring("81.2.69.128/25", destination="10.0.6.0/23", priority=120,
                                               name="AllowScoringUpperHalf")]))
    assert v.status == "pass", v.message
    assert v.evidence["fully_allowed_clients"]["cidrs"] == ["81.2.69.128/25"]
    assert v.evidence["witness_client"] == "81.2.69.132"
    assert [words.split(": ")[1].split(" (")[0] for words in v.evidence["allowed_by"]] == ["AllowScoring",
                                                                                          "AllowScoringUpperHalf"]


def test_clients_denied_on_part_of_the_subnet_are_not_witnesses(builder: EstateBuilder) -> None:
    deny_low_half = rule("DenyLowSources", 100, "Inbound", "Deny", "Tcp", "0.0.0.0/1", "10.0.4.9", "443")
    v = _verdict(AksCluster(builder, [deny_low_half, _scoring("Internet")]))
    assert v.status == "pass"
    assert ipaddress.ip_address(v.evidence["witness_client"]) not in ipaddress.ip_network("0.0.0.0/1")


def test_pass_when_an_unknown_tag_sits_beside_a_certain_allow(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [_scoring("ContosoClients", priority=100), _scoring("81.2.69.20")]))
    assert v.status == "pass"
    assert v.evidence["witness_client"] == "81.2.69.20"


def test_the_service_addresses_are_not_public_clients(builder: EstateBuilder) -> None:
    v = _verdict(AksCluster(builder, [ALLOW_AML]))
    assert v.status == "fail"


def test_an_allow_naming_an_application_security_group_is_assumed_to_match_nothing(builder: EstateBuilder) -> None:
    # The worst case for a row that needs the flow allowed: the allow may not cover the subnet.
    allow = _scoring("Internet", destinationApplicationSecurityGroups=[asg("asg-ingress")])
    del allow["properties"]["destinationAddressPrefix"]
    v = _verdict(AksCluster(builder, [allow]))
    assert v.status == "fail"
    (assumed,) = v.evidence["flow"]["assumed"]
    assert assumed["groups"] == ["asg-ingress"] and assumed["assumption"] == "matches nothing"


def test_a_deny_naming_an_application_security_group_is_assumed_to_match(builder: EstateBuilder) -> None:
    deny = rule("DenyToAsg", 100, "Inbound", "Deny", "Tcp", "*", None, "443",
                destinationApplicationSecurityGroups=[asg("asg-ingress")])
    del deny["properties"]["destinationAddressPrefix"]
    v = _verdict(AksCluster(builder, [deny, _scoring("Internet")]))
    assert v.status == "fail"
    assert "DenyToAsg" in v.message


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


def _without_tags(builder: EstateBuilder, rules: list[dict]):
    aks = AksCluster(builder, rules, tags=False)
    builder.service_tags = None
    return _verdict(aks)


def test_fail_without_service_tags_when_no_internet_address_gets_the_whole_flow(builder: EstateBuilder) -> None:
    v = _without_tags(builder, [_scoring("Internet", destination="10.0.4.4")])
    assert v.status == "fail", v.message
    assert "were not needed" in v.message
    assert v.evidence["public_clients"]["judged_on"] == "globally reachable addresses outside the own networks"


def test_error_without_service_tags_when_internet_addresses_get_the_whole_flow(builder: EstateBuilder) -> None:
    # They may all be the service's own addresses, which are not public clients.
    v = _without_tags(builder, [_scoring("Internet")])
    assert v.status == "error"
    assert "public clients cannot be determined" in v.message and "service_tags" in v.message


def test_error_when_the_nsg_could_not_be_read(builder: EstateBuilder) -> None:
    aks = AksCluster(builder, [_scoring("Internet")])
    builder.drop(aks.nsg)
    builder.collection_error(aks.nsg["id"], status=403)
    assert _verdict(aks).status == "error"


# -- the projection behind the row: which sources get the whole flow ------------------------------

_SOURCES = ipaddress.ip_network("81.2.69.0/28")
_SUBNET = ipaddress.ip_network("10.0.4.0/29")


@st.composite
def _rules(draw: st.DrawFn) -> list[dict]:
    """A few inbound rules on small source and destination blocks, ports 443 or all."""
    made = []
    for index in range(draw(st.integers(0, 5))):
        src = draw(st.sampled_from(list(_SOURCES.subnets(new_prefix=draw(st.integers(28, 32))))))
        dst = draw(st.sampled_from(list(_SUBNET.subnets(new_prefix=draw(st.integers(29, 32))))))
        made.append(rule(f"R{index}", 100 + 10 * index, "Inbound", draw(st.sampled_from(["Allow", "Deny"])),
                         draw(st.sampled_from(["Tcp", "Udp", "*"])), str(src), str(dst),
                         draw(st.sampled_from(["443", "*", "80-442"]))))
    return made


@settings(max_examples=60, deadline=None)
@given(_rules())
def test_fully_allowed_sources_match_each_source_asked_alone(rules: list[dict]) -> None:
    # Oracle: one ALL_ALLOWED question per source address.
    nsg = compile_nsg(EstateBuilder().nsg("nsg-aks", rules=rules), AddressSet.parse("10.0.0.0/16"), None)
    levels = [(SUBNET, nsg)]
    subnet = Endpoint(AddressSet.parse(str(_SUBNET)), "snet")
    answer = FlowContext(None).fully_allowed(
        inbound(Endpoint(AddressSet.parse(str(_SOURCES)), "clients"), subnet, TCP, PortSet.of(443)), levels, Side.SOURCE)
    assert isinstance(answer, SideAnswer)
    expected = [str(host) for host in _SOURCES
                if evaluate_chain(inbound(Endpoint(AddressSet.parse(str(host))), subnet, TCP, PortSet.of(443)), levels,
                                  Question.ALL_ALLOWED).all_allowed]
    assert answer.certain == answer.possible == (AddressSet.parse(expected) if expected else AddressSet())
    witness = answer.witness()
    assert (witness is None) == (not expected)
    if witness is not None:
        assert witness[0] in expected and witness[1]


@settings(max_examples=40, deadline=None)
@given(_rules())
def test_fully_allowed_destinations_match_each_destination_asked_alone(rules: list[dict]) -> None:
    # The same projection on the other side, as attached-compute-ssh uses it for a machine whose IP is unknown.
    nsg = compile_nsg(EstateBuilder().nsg("nsg-hdi", rules=rules), AddressSet.parse("10.0.0.0/16"), None)
    levels = [(SUBNET, nsg)]
    clients = Endpoint(AddressSet.parse(str(_SOURCES)), "clients")
    answer = FlowContext(None).fully_allowed(
        inbound(clients, Endpoint(AddressSet.parse(str(_SUBNET)), "snet"), TCP, PortSet.of(443)), levels,
        Side.DESTINATION)
    assert isinstance(answer, SideAnswer)
    expected = [str(host) for host in _SUBNET
                if evaluate_chain(inbound(clients, Endpoint(AddressSet.parse(str(host))), TCP, PortSet.of(443)), levels,
                                  Question.ALL_ALLOWED).all_allowed]
    assert answer.certain == (AddressSet.parse(expected) if expected else AddressSet())
    assert answer.whole == AddressSet.parse(str(_SUBNET))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 63), unique=True, max_size=16), st.data())
def test_subset_difference_is_the_set_difference(bounds: list[int], data: st.DataObject) -> None:
    whole = tuple(sorted(bounds))[: len(bounds) // 2 * 2]
    pairs = [(whole[i], whole[i + 1]) for i in range(0, len(whole), 2)]
    # A subset: some of the ranges, each possibly trimmed.
    part_pairs = []
    for lo, hi in pairs:
        if data.draw(st.booleans()):
            start = data.draw(st.integers(lo, hi - 1))
            part_pairs.append((start, data.draw(st.integers(start + 1, hi))))
    part = intervals.from_pairs(part_pairs)
    assert subset_difference(whole, part) == intervals.difference(whole, part, 64)
