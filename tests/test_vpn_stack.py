"""The vpn stack, asserted on its synthesized JSON: mutual TLS, split tunnel, logging,
one association per zone, access scoped to the two VPC ranges (never 0.0.0.0/0), secrets
only in sensitive outputs and never in the JSON; its bad input; and `terraform validate`
of its AWS part (the tls provider binary is not on this machine)."""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import tomllib
from pathlib import Path

import pytest

from tests.synth import StackJson
from tests.test_terraform_validate import terraform_and_mirror
from vault_platform.app import VPN, build_app, stack_id
from vault_platform.config import load_environment, parse_environment
from vault_platform.config.load import ENVIRONMENTS_DIR
from vault_platform.constructs.client_vpn import ClientVpnProps, VpnDestination
from vault_platform.errors import ConfigError
from vault_platform.ops.terraform_cli import (
    ProviderRequirement,
    missing_providers,
    validate_directory,
)

ENV = load_environment()
TOOLING_CIDR = ENV.tooling.network.cidr  # 10.10.0.0/16
APPLICATION_CIDR = ENV.application.network.cidr  # 10.20.0.0/16
DEFAULT = tomllib.loads((ENVIRONMENTS_DIR / "default.toml").read_text())


@pytest.fixture(scope="module")
def vpn(default_stacks: dict[str, StackJson]) -> StackJson:
    return default_stacks[stack_id("default", VPN)]


def body(item: dict) -> dict:
    return {key: value for key, value in item.items() if key != "//"}


def remote_output(stack: str) -> re.Pattern[str]:
    """A cross-stack reference to an output of ``stack`` (tooling or application)."""
    return re.compile(r"^\$\{data\.terraform_remote_state\.cross-stack-reference-input-" + stack + r"\.outputs\.")


# GIVEN the default environment WHEN it is synthesized THEN ...

def test_endpoint_authenticates_clients_by_certificate_of_the_private_ca(vpn: StackJson) -> None:
    endpoint = vpn.one("aws_ec2_client_vpn_endpoint")
    (options,) = endpoint["authentication_options"]
    assert options["type"] == "certificate-authentication"
    ca_acm = next(f"${{aws_acm_certificate.{n}.arn}}" for n, b in vpn.resources("aws_acm_certificate").items()
                  if "certificate_chain" not in b)
    server_acm = next(f"${{aws_acm_certificate.{n}.arn}}" for n, b in vpn.resources("aws_acm_certificate").items()
                      if "certificate_chain" in b)
    assert options["root_certificate_chain_arn"] == ca_acm
    assert endpoint["server_certificate_arn"] == server_acm
    # The CA imported into ACM is the tls provider's self-signed CA certificate.
    (ca_name, ca), = vpn.resources("tls_self_signed_cert").items()
    assert ca["is_ca_certificate"] is True and "cert_signing" in ca["allowed_uses"]
    assert ca["lifecycle"]["prevent_destroy"] is True
    assert vpn.resources("aws_acm_certificate")[ca_acm.split(".")[1]]["certificate_body"] == f"${{tls_self_signed_cert.{ca_name}.cert_pem}}"
    server = vpn.one("tls_locally_signed_cert")
    assert server["ca_cert_pem"] == f"${{tls_self_signed_cert.{ca_name}.cert_pem}}"
    assert "server_auth" in server["allowed_uses"] and "cert_signing" not in server["allowed_uses"]


def test_endpoint_is_split_tunnel_with_the_vpc_resolver_and_config_values(vpn: StackJson) -> None:
    endpoint = vpn.one("aws_ec2_client_vpn_endpoint")
    assert endpoint["split_tunnel"] is True
    assert endpoint["dns_servers"] == ["10.10.0.2"]
    assert endpoint["client_cidr_block"] == "172.16.0.0/22"
    assert endpoint["session_timeout_hours"] == 8
    assert (endpoint["transport_protocol"], endpoint["vpn_port"]) == ("udp", 443)
    assert endpoint["self_service_portal"] == "disabled"
    assert remote_output("tooling").match(endpoint["vpc_id"])


def test_connections_are_logged_to_an_encrypted_expiring_log_group(vpn: StackJson) -> None:
    endpoint = vpn.one("aws_ec2_client_vpn_endpoint")
    logging = endpoint["connection_log_options"]
    assert logging["enabled"] is True
    (group_name, group), = vpn.resources("aws_cloudwatch_log_group").items()
    assert logging["cloudwatch_log_group"] == f"${{aws_cloudwatch_log_group.{group_name}.name}}"
    assert group["retention_in_days"] == 90
    assert remote_output("tooling").match(group["kms_key_id"]), "the tooling stack's logs key encrypts it"


def test_one_association_per_zone_in_distinct_tooling_private_subnets(vpn: StackJson) -> None:
    associations = list(vpn.resources("aws_ec2_client_vpn_network_association").values())
    assert len(associations) == ENV.availability_zone_count == 3
    subnets = [a["subnet_id"] for a in associations]
    assert len(set(subnets)) == 3
    for subnet in subnets:
        assert "vpc_private-" in subnet and remote_output("tooling").match(subnet), subnet


def test_authorization_is_scoped_to_the_two_vpc_ranges(vpn: StackJson) -> None:
    rules = list(vpn.resources("aws_ec2_client_vpn_authorization_rule").values())
    assert sorted(r["target_network_cidr"] for r in rules) == sorted([TOOLING_CIDR, APPLICATION_CIDR])
    assert all(r["authorize_all_groups"] is True for r in rules)  # certificate auth has no groups
    assert "0.0.0.0/0" not in json.dumps(vpn.data)


def test_application_range_is_routed_through_every_association(vpn: StackJson) -> None:
    associations = vpn.resources("aws_ec2_client_vpn_network_association")
    routes = list(vpn.resources("aws_ec2_client_vpn_route").values())
    assert len(routes) == len(associations)
    for route in routes:
        assert route["destination_cidr_block"] == APPLICATION_CIDR
        (dependency,) = route["depends_on"]
        association = associations[dependency.split(".")[1]]
        assert route["target_vpc_subnet_id"] == association["subnet_id"]


def test_endpoint_security_group_allows_only_the_needed_egress(vpn: StackJson) -> None:
    (sg_name, sg), = vpn.resources("aws_security_group").items()
    assert "ingress" not in sg and "egress" not in sg
    rules = [body(r) for r in vpn.resources("aws_vpc_security_group_egress_rule").values()]
    allowed = {(r["cidr_ipv4"], r["ip_protocol"], r["from_port"]) for r in rules}
    assert allowed == {
        (TOOLING_CIDR, "tcp", 8200), (TOOLING_CIDR, "tcp", 443), (APPLICATION_CIDR, "tcp", 443),
        ("10.10.0.2/32", "udp", 53), ("10.10.0.2/32", "tcp", 53),
    }
    assert all(r["from_port"] == r["to_port"] for r in rules)
    assert all(r["security_group_id"] == f"${{aws_security_group.{sg_name}.id}}" for r in rules)
    assert vpn.one("aws_ec2_client_vpn_endpoint")["security_group_ids"] == [f"${{aws_security_group.{sg_name}.id}}"]


def test_cluster_security_groups_admit_vpn_traffic_on_443_only(vpn: StackJson) -> None:
    (sg_name, _), = vpn.resources("aws_security_group").items()
    endpoint_sg = f"${{aws_security_group.{sg_name}.id}}"
    rules = {name: body(r) for name, r in vpn.resources("aws_vpc_security_group_ingress_rule").items()}
    api = {name: r for name, r in rules.items() if r["from_port"] == 443}
    assert set(api) == set(rules)
    # EKS API of both clusters: from the endpoint's security group, nothing else.
    owners = sorted(kind for r in api.values() for kind in ("tooling", "application")
                    if remote_output(kind).match(r["security_group_id"]))
    assert owners == ["application", "tooling"]
    assert all(r["referenced_security_group_id"] == endpoint_sg and "cidr_ipv4" not in r for r in api.values())
    # Vault: through its NLB, whose group admits the tooling VPC where clients are source-NATed
    # (vault_platform/flows/ proves the path): no 8200 rule here.
    client = ipaddress.ip_network("172.16.0.0/22")
    assert not any(ipaddress.ip_network(r["cidr_ipv4"]).overlaps(client) for r in rules.values() if "cidr_ipv4" in r)


def test_key_and_certificate_outputs_are_sensitive(vpn: StackJson) -> None:
    outputs = vpn.outputs()
    assert {"endpoint_id", "endpoint_dns_name", "ca_certificate_pem", "ca_private_key_pem", "client_cidr", "server_name"} <= set(outputs)
    for name, output in outputs.items():
        secret = any(word in name for word in ("pem", "key", "cert"))
        assert output["sensitive"] is secret, f"output {name}: sensitive={output['sensitive']}"
    assert outputs["client_cidr"]["value"] == "172.16.0.0/22"
    assert outputs["server_name"]["value"] == "vpn.tooling.internal"


def test_no_key_or_certificate_material_in_the_synthesized_json(vpn: StackJson) -> None:
    text = vpn.path.read_text()
    assert "-----BEGIN" not in text and "PRIVATE KEY" not in text
    # Keys are generated by Terraform at apply time; the JSON holds only references to them.
    for name, key in vpn.resources("tls_private_key").items():
        assert body(key) in ({"algorithm": "RSA", "rsa_bits": 2048},
                             {"algorithm": "RSA", "rsa_bits": 2048, "lifecycle": {"prevent_destroy": True}}), name


def test_tls_provider_is_pinned(vpn: StackJson) -> None:
    assert vpn.data["terraform"]["required_providers"]["tls"] == {"source": "hashicorp/tls", "version": "4.1.0"}


def test_cli_stack_id_matches_the_app() -> None:
    from vault_platform.vpn.__main__ import vpn_stack_id

    assert vpn_stack_id("default") == stack_id("default", VPN) == "vpn"
    assert vpn_stack_id("staging") == stack_id("staging", VPN)


# GIVEN a different [vpn] table WHEN synthesized THEN the stack follows it

def test_vpn_table_drives_the_stack(tmp_path: Path) -> None:
    data = copy.deepcopy(DEFAULT)
    data["vpn"] = {"client_cidr": "192.168.100.0/22", "association_count": 2, "split_tunnel": False,
                   "session_timeout_hours": 12, "log_retention_days": 30}
    env = parse_environment(data, source="environments/test.toml")
    build_app(env, "default", str(tmp_path)).synth()
    stack = StackJson("vpn", tmp_path / "stacks" / "vpn" / "cdk.tf.json",
                      json.loads((tmp_path / "stacks" / "vpn" / "cdk.tf.json").read_text()))
    endpoint = stack.one("aws_ec2_client_vpn_endpoint")
    assert (endpoint["client_cidr_block"], endpoint["split_tunnel"], endpoint["session_timeout_hours"]) == ("192.168.100.0/22", False, 12)
    assert len(stack.resources("aws_ec2_client_vpn_network_association")) == 2
    assert len(stack.resources("aws_ec2_client_vpn_route")) == 2
    assert stack.one("aws_cloudwatch_log_group")["retention_in_days"] == 30


# Bad input: one line naming the field, the value and the fix

BAD_VPN = [
    ("client range overlaps tooling", {"client_cidr": "10.10.4.0/22"}, "vpn.client_cidr", "10.10.4.0/22", "outside both VPCs"),
    ("client range overlaps application", {"client_cidr": "10.20.0.0/22"}, "vpn.client_cidr", "10.20.0.0/22", "outside both VPCs"),
    ("client range covers both VPCs", {"client_cidr": "10.0.0.0/12"}, "vpn.client_cidr", "10.0.0.0/12", "outside both VPCs"),
    ("client range too small", {"client_cidr": "172.16.0.0/24"}, "vpn.client_cidr", "172.16.0.0/24", "172.16.0.0/22"),
    ("client range too large", {"client_cidr": "172.0.0.0/8"}, "vpn.client_cidr", "172.0.0.0/8", "172.16.0.0/22"),
    ("client range not a network", {"client_cidr": "172.16.1.0/22"}, "vpn.client_cidr", "172.16.1.0/22", "network address"),
    ("zero associations", {"association_count": 0}, "vpn.association_count", "0", "from 1 to 3"),
    ("more associations than zones", {"association_count": 4}, "vpn.association_count", "4", "from 1 to 3"),
    ("session length AWS lacks", {"session_timeout_hours": 9}, "vpn.session_timeout_hours", "9", "(8, 10, 12, 24)"),
    ("log retention CloudWatch lacks", {"log_retention_days": 42}, "vpn.log_retention_days", "42", "use one of"),
    ("unknown vpn key", {"client_cdir": "172.16.0.0/22"}, "vpn.client_cdir", "172.16.0.0/22", "did you mean 'client_cidr'"),
]


@pytest.mark.parametrize(("case", "table", "field", "value", "fix"), BAD_VPN, ids=[c[0] for c in BAD_VPN])
def test_bad_vpn_table_is_one_line(case: str, table: dict, field: str, value: str, fix: str) -> None:
    data = copy.deepcopy(DEFAULT)
    data["vpn"] = table
    with pytest.raises(ConfigError) as raised:
        parse_environment(data, source="environments/test.toml")
    message = str(raised.value)
    assert "\n" not in message and raised.value.field == field
    assert message.startswith(f"environments/test.toml: {field} = "), message
    assert value in message and fix in message.split("; fix: ", 1)[1], message


def _props(**change: object) -> ClientVpnProps:
    base = dict(
        name="t", vpc_id="vpc-1", client_cidr="172.16.0.0/22", association_subnet_ids=("subnet-1",),
        authorized=(VpnDestination("tooling-vpc", TOOLING_CIDR, "t"),), routed=(), egress=(),
        server_certificate_arn="arn:s", client_root_certificate_arn="arn:c", dns_servers=("10.10.0.2",),
        log_kms_key_arn="arn:k",
    )
    return ClientVpnProps(**{**base, **change})


def test_construct_refuses_an_endpoint_without_associations() -> None:
    with pytest.raises(ConfigError, match=r"^ClientVpnProps.association_subnet_ids = \[\]: .*; fix: pass at least one subnet"):
        _props(association_subnet_ids=())


def test_construct_refuses_to_authorize_the_internet() -> None:
    with pytest.raises(ConfigError, match=r"^ClientVpnProps.authorized\[internet\].cidr = '0.0.0.0/0': would open the whole internet"):
        _props(authorized=(VpnDestination("internet", "0.0.0.0/0", "no"),))


# terraform validate: the tls provider binary is not on this machine

def test_full_validate_needs_the_tls_provider(vpn: StackJson) -> None:
    missing = missing_providers(vpn.data)
    if missing:
        pytest.skip("terraform validate of the whole vpn stack not run: provider(s) "
                    + ", ".join(f"{m.source} {m.version}" for m in missing)
                    + " not in any local mirror here; its AWS part is validated by test_aws_part_validates")
    pytest.skip("tls provider present: the whole stack is validated by tests/test_terraform_validate.py")


def aws_part(data: dict) -> dict:
    """The stack without the tls provider: tls resources dropped and every reference to them
    replaced by a literal, so the AWS resources validate with only the AWS provider."""
    subset = copy.deepcopy(data)
    subset["resource"] = {t: r for t, r in subset["resource"].items() if not t.startswith("tls_")}
    subset["provider"].pop("tls")
    subset["terraform"]["required_providers"].pop("tls")
    text = re.sub(r"\$\{tls_[^}]*\}", "PLACEHOLDER-PEM", json.dumps(subset))
    assert "tls_" not in text
    return json.loads(text)


@pytest.mark.terraform
def test_aws_part_validates(vpn: StackJson, tmp_path: Path) -> None:
    mirror = terraform_and_mirror(ProviderRequirement("hashicorp/aws", "5.100.0"))
    subset = aws_part(vpn.data)
    assert not missing_providers(subset)
    (tmp_path / "cdk.tf.json").write_text(json.dumps(subset))
    valid, problems = validate_directory(tmp_path, mirror)
    assert valid, "vpn stack (AWS part) is not valid:\n" + "\n".join(problems)
    assert subset["resource"]["aws_ec2_client_vpn_endpoint"], "the subset still holds the endpoint"
