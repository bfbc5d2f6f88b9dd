"""`python -m vault_platform.vpn client NAME`, end to end: a CA made here stands in for the
deployed stack, fed through the same path the command reads (`terraform output -json`
saved to a file, a state file, or terraform itself); the profile it writes must carry a
certificate that chains to that CA, is for clientAuth, and sits in a 0600 file."""

from __future__ import annotations

import datetime
import json
import re
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vault_platform.errors import ConfigError
from vault_platform.vpn.__main__ import main
from vault_platform.vpn.client import (
    VpnStackOutputs,
    check_user_name,
    issue_client_certificate,
    read_outputs_file,
    read_outputs_from_terraform,
    revocation_list,
)

DNS_NAME = "*.cvpn-endpoint-0123456789abcdef0.prod.clientvpn.eu-west-1.amazonaws.com"
SERVER_NAME = "vpn.tooling.internal"


def make_ca(common_name: str = "demo VPN root CA") -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def key_pem(key: rsa.RSAPrivateKey) -> str:
    # PKCS#1 ("RSA PRIVATE KEY"), as the tls provider's private_key_pem output is.
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def terraform_output_json(certificate: x509.Certificate, key: rsa.RSAPrivateKey) -> dict:
    """What `terraform output -json` prints for the deployed vpn stack."""
    def out(value: str, sensitive: bool) -> dict:
        return {"sensitive": sensitive, "type": "string", "value": value}
    return {
        "endpoint_id": out("cvpn-endpoint-0123456789abcdef0", False),
        "endpoint_dns_name": out(DNS_NAME, False),
        "server_name": out(SERVER_NAME, False),
        "client_cidr": out("172.16.0.0/22", False),
        "ca_certificate_pem": out(pem(certificate), True),
        "ca_private_key_pem": out(key_pem(key), True),
    }


@pytest.fixture(scope="module")
def ca() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    return make_ca()


@pytest.fixture
def outputs_file(ca: tuple[x509.Certificate, rsa.RSAPrivateKey], tmp_path: Path) -> Path:
    path = tmp_path / "vpn-outputs.json"
    path.write_text(json.dumps(terraform_output_json(*ca)))
    return path


def blocks(profile: str) -> dict[str, str]:
    return {tag: re.search(rf"<{tag}>\n(.*?)\n</{tag}>", profile, re.S).group(1) for tag in ("ca", "cert", "key")}


# GIVEN a deployed stack's outputs WHEN a profile is made THEN ...

def test_profile_holds_a_client_certificate_that_chains_to_the_stack_ca(
        ca: tuple[x509.Certificate, rsa.RSAPrivateKey], outputs_file: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    ca_certificate, _ = ca
    out = tmp_path / "profiles"
    assert main(["client", "alice", "--out", str(out), "--stack-state", str(outputs_file), "--days", "30"]) == 0
    path = out / "alice.ovpn"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    profile = path.read_text()
    embedded = blocks(profile)

    assert embedded["ca"] == pem(ca_certificate).strip()
    certificate = x509.load_pem_x509_certificate(embedded["cert"].encode())
    certificate.verify_directly_issued_by(ca_certificate)  # raises unless the CA's key signed it
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert datetime.timedelta(days=29) < lifetime <= datetime.timedelta(days=30, minutes=5)

    key = serialization.load_pem_private_key(embedded["key"].encode(), password=None)
    assert key.public_key().public_numbers() == certificate.public_key().public_numbers()

    lines = profile.splitlines()
    assert re.fullmatch(r"remote [0-9a-f]{12}\.cvpn-endpoint-0123456789abcdef0\.prod\.clientvpn\.eu-west-1\.amazonaws\.com 443",
                        next(line for line in lines if line.startswith("remote ")))
    for expected in ("client", "dev tun", "proto udp", "remote-cert-tls server", f"verify-x509-name {SERVER_NAME} name"):
        assert expected in lines, expected
    assert "*" not in next(line for line in lines if line.startswith("remote "))
    printed = capsys.readouterr().out
    assert f"serial {certificate.serial_number:x}" in printed and "openvpn --config" in printed


def test_each_profile_gets_its_own_key_and_endpoint_label(outputs_file: Path, tmp_path: Path) -> None:
    assert main(["client", "alice", "--out", str(tmp_path), "--stack-state", str(outputs_file)]) == 0
    assert main(["client", "bob", "--out", str(tmp_path), "--stack-state", str(outputs_file)]) == 0
    alice, bob = (blocks((tmp_path / f"{n}.ovpn").read_text()) for n in ("alice", "bob"))
    assert alice["key"] != bob["key"] and alice["cert"] != bob["cert"]


def test_existing_profile_is_not_overwritten_without_force(outputs_file: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["client", "alice", "--out", str(tmp_path), "--stack-state", str(outputs_file)]) == 0
    first = (tmp_path / "alice.ovpn").read_text()
    capsys.readouterr()
    assert main(["client", "alice", "--out", str(tmp_path), "--stack-state", str(outputs_file)]) == 2
    error = capsys.readouterr().err.strip()
    assert error == f"error: profile = '{tmp_path / 'alice.ovpn'}': already exists; fix: pass --force to replace it " \
                    "(its old certificate stays valid until it expires or is revoked)"
    assert (tmp_path / "alice.ovpn").read_text() == first
    assert main(["client", "alice", "--out", str(tmp_path), "--stack-state", str(outputs_file), "--force"]) == 0
    replaced = tmp_path / "alice.ovpn"
    assert replaced.read_text() != first and stat.S_IMODE(replaced.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alice.ovpn", "vpn-outputs.json"], "no temporary files left"


def test_a_state_file_is_read_like_terraform_output(ca: tuple[x509.Certificate, rsa.RSAPrivateKey], tmp_path: Path) -> None:
    state = tmp_path / "terraform.vpn.tfstate"
    state.write_text(json.dumps({"version": 4, "terraform_version": "1.11.4", "outputs": terraform_output_json(*ca),
                                 "resources": []}))
    assert read_outputs_file(state).server_name == SERVER_NAME


def test_terraform_output_is_run_in_the_stack_directory(ca: tuple[x509.Certificate, rsa.RSAPrivateKey], tmp_path: Path) -> None:
    """The default path: `terraform output -json` in cdktf.out/stacks/vpn. A stand-in binary
    prints what terraform would, so the parsing and the error path are both exercised."""
    stack_dir = tmp_path / "stacks" / "vpn"
    stack_dir.mkdir(parents=True)
    (tmp_path / "out.json").write_text(json.dumps(terraform_output_json(*ca)))
    fake = tmp_path / "terraform"
    fake.write_text(f'#!/bin/sh\n[ "$1 $2" = "output -json" ] && [ "$PWD" = "{stack_dir}" ] && exec cat {tmp_path / "out.json"}\nexit 9\n')
    fake.chmod(0o755)
    assert read_outputs_from_terraform(stack_dir, str(fake)).endpoint_dns_name == DNS_NAME

    fake.write_text('#!/bin/sh\necho "Warning: Unable to open CLI configuration file" >&2\n'
                    'echo "Error: Backend initialization required, please run \\"terraform init\\"" >&2\nexit 1\n')
    with pytest.raises(ConfigError, match=r"^--stack-dir = '.*': `terraform output -json` failed \(Error: Backend initialization "
                                          r"required.*\); fix: deploy it first \(`cdktf deploy vpn`\)"):
        read_outputs_from_terraform(stack_dir, str(fake))


def test_revocation_list_is_signed_by_the_ca_and_names_the_serial(
        ca: tuple[x509.Certificate, rsa.RSAPrivateKey], outputs_file: Path, tmp_path: Path) -> None:
    outputs = read_outputs_file(outputs_file)
    issued = issue_client_certificate("alice", outputs)
    crl_path = tmp_path / "crl.pem"
    assert main(["crl", format(issued.certificate.serial_number, "x"), "--out", str(crl_path),
                 "--stack-state", str(outputs_file)]) == 0
    crl = x509.load_pem_x509_crl(crl_path.read_bytes())
    assert crl.is_signature_valid(ca[0].public_key())
    assert crl.get_revoked_certificate_by_serial_number(issued.certificate.serial_number) is not None


# Bad input: one clear line naming the field, the value and the fix

@pytest.mark.parametrize("user", ["al ice", "../alice", "-alice", "alice;rm", "alice/x", "élise", "", "a" * 65])
def test_user_names_outside_the_safe_characters_are_refused(user: str, outputs_file: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    # "--" so that a name starting with '-' reaches the command instead of argparse.
    assert main(["client", "--out", str(tmp_path), "--stack-state", str(outputs_file), "--", user]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: user = {user!r}: may hold only letters") and error.count("\n") == 1
    assert "; fix: use e.g. alice" in error
    assert list(tmp_path.glob("*.ovpn")) == []


def test_user_names_people_have_are_accepted() -> None:
    for user in ("alice", "alice.smith", "a_b-c", "Bob2"):
        assert check_user_name(user) == user


@pytest.mark.parametrize("outputs", [{}, {"endpoint_dns_name": {"value": DNS_NAME}}], ids=["not deployed", "partly deployed"])
def test_missing_stack_outputs_say_to_deploy_first(outputs: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    assert main(["client", "alice", "--out", str(tmp_path), "--stack-state", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert re.fullmatch(r"error: stack outputs = '.*outputs\.json': lack .*ca_private_key_pem: the vpn stack is not deployed; "
                        r"fix: deploy it first \(`cdktf deploy vpn`\), or pass --stack-state .*", error), error
    assert not (tmp_path / "alice.ovpn").exists()


def test_missing_outputs_file_and_missing_stack_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--stack-state = '.*nope.json': does not exist; fix: deploy it first"):
        read_outputs_file(tmp_path / "nope.json")
    with pytest.raises(ConfigError, match=r"^--stack-dir = '.*absent': does not exist: the vpn stack was not synthesized here"):
        read_outputs_from_terraform(tmp_path / "absent", "terraform")


def test_key_from_another_ca_is_refused(ca: tuple[x509.Certificate, rsa.RSAPrivateKey], tmp_path: Path) -> None:
    _, other_key = make_ca("other")
    outputs = VpnStackOutputs(DNS_NAME, SERVER_NAME, pem(ca[0]), key_pem(other_key))
    with pytest.raises(ConfigError, match=r"^stack outputs.ca_private_key_pem = '<PEM>': does not belong to ca_certificate_pem"):
        issue_client_certificate("alice", outputs)


@pytest.mark.parametrize("days", [0, 398])
def test_validity_outside_the_short_range_is_refused(days: int, outputs_file: Path) -> None:
    with pytest.raises(ConfigError, match=rf"^--days = {days}: must be 1 to 397; fix: use e.g. 90"):
        issue_client_certificate("alice", read_outputs_file(outputs_file), days=days)


def test_non_endpoint_dns_name_is_refused(ca: tuple[x509.Certificate, rsa.RSAPrivateKey], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    outputs = terraform_output_json(*ca)
    outputs["endpoint_dns_name"]["value"] = "evil host; rm -rf"
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    assert main(["client", "alice", "--out", str(tmp_path), "--stack-state", str(path)]) == 2
    assert "stack outputs.endpoint_dns_name = 'evil host; rm -rf': is not the DNS name" in capsys.readouterr().err
    assert not (tmp_path / "alice.ovpn").exists()


def test_revocation_list_refuses_a_serial_that_is_not_hex(outputs_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"^serial = 'alice': is not a hexadecimal serial number; fix: copy it from the profile"):
        revocation_list(["alice"], read_outputs_file(outputs_file))
