"""Issue a client certificate from the vpn stack's CA and write an OpenVPN profile.

Everything a profile needs comes from the vpn stack's outputs (``VpnStackOutputs``), read
either from a file in the shape of ``terraform output -json`` (or a state file, whose
``outputs`` have the same shape) or by running ``terraform output -json`` in the stack's
directory. A missing output means the stack is not deployed: that is a ConfigError with
the fix, never a half-written profile.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vault_platform.errors import ConfigError

# What the vpn stack outputs and this command needs (stacks/vpn.py names them).
REQUIRED_OUTPUTS = ("endpoint_dns_name", "server_name", "ca_certificate_pem", "ca_private_key_pem")
DEPLOY_FIX = "deploy it first (`cdktf deploy vpn`), or pass --stack-state with its `terraform output -json`"

# A user name becomes the certificate's CN and the file name: letters, digits, '.', '_', '-',
# starting with a letter or digit, at most 64 characters (the X.509 CN limit).
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEFAULT_VALIDITY_DAYS = 90
MAX_VALIDITY_DAYS = 397  # the longest any public TLS client accepts; short-lived is the point
CLIENT_RSA_BITS = 2048  # Client VPN accepts RSA client keys; 2048 is what every client supports
PROFILE_MODE = 0o600
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class VpnStackOutputs:
    endpoint_dns_name: str  # "*.cvpn-endpoint-<id>.prod.clientvpn.<region>.amazonaws.com"
    server_name: str
    ca_certificate_pem: str
    ca_private_key_pem: str

    @classmethod
    def from_outputs(cls, outputs: object, source: str) -> VpnStackOutputs:
        """From the mapping ``terraform output -json`` prints: name -> {"value": ..., ...}."""
        if not isinstance(outputs, Mapping):
            raise ConfigError("stack outputs", source, "is not a JSON object of outputs", DEPLOY_FIX)
        missing = [name for name in REQUIRED_OUTPUTS
                   if not isinstance(outputs.get(name), Mapping) or not outputs[name].get("value")]
        if missing:
            raise ConfigError("stack outputs", source, f"lack {', '.join(missing)}: the vpn stack is not deployed", DEPLOY_FIX)
        values = {name: outputs[name]["value"] for name in REQUIRED_OUTPUTS}
        for name, value in values.items():
            if not isinstance(value, str):
                raise ConfigError(f"stack outputs.{name}", source, "is not a string", DEPLOY_FIX)
        return cls(**values)


def read_outputs_file(path: Path) -> VpnStackOutputs:
    """A ``terraform output -json`` file, or a state file (its ``outputs`` have that shape)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("--stack-state", str(path), "does not exist", DEPLOY_FIX) from None
    except (OSError, ValueError) as error:
        raise ConfigError("--stack-state", str(path), f"cannot be read as JSON ({error})",
                          "write it with `terraform output -json > FILE` in the vpn stack directory") from None
    if isinstance(data, Mapping) and "outputs" in data and "version" in data:
        data = data["outputs"]
    return VpnStackOutputs.from_outputs(data, str(path))


def read_outputs_from_terraform(stack_dir: Path, terraform: str) -> VpnStackOutputs:
    """Run ``terraform output -json`` in the vpn stack's directory (after `cdktf deploy vpn`)."""
    if not stack_dir.is_dir():
        raise ConfigError("--stack-dir", str(stack_dir), "does not exist: the vpn stack was not synthesized here", DEPLOY_FIX)
    result = subprocess.run([terraform, "output", "-json", "-no-color"], cwd=stack_dir, capture_output=True, text=True,
                            env={**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
    if result.returncode != 0:
        raise ConfigError("--stack-dir", str(stack_dir), f"`terraform output -json` failed ({_terraform_error(result.stderr)})",
                          DEPLOY_FIX)
    try:
        outputs = json.loads(result.stdout or "{}")
    except ValueError:
        raise ConfigError("--stack-dir", str(stack_dir), "`terraform output -json` printed no JSON", DEPLOY_FIX) from None
    return VpnStackOutputs.from_outputs(outputs, f"terraform output in {stack_dir}")


def _terraform_error(stderr: str) -> str:
    """Terraform's own "Error: ..." line; warnings (e.g. about the CLI config) come first."""
    lines = [line.strip("│╷╵ \t") for line in stderr.splitlines()]
    errors = [line for line in lines if line.startswith("Error:")]
    return (errors or [line for line in lines if line] or ["no message"])[0]


def check_user_name(user: str) -> str:
    if not USER_NAME.match(user):
        raise ConfigError("user", user, "may hold only letters, digits, '.', '_' and '-', start with a letter or digit, "
                          "and be at most 64 characters", "use e.g. alice or alice.smith")
    return user


def endpoint_host(dns_name: str) -> str:
    """The endpoint's name without AWS's leading wildcard label."""
    host = dns_name.removeprefix("*.").rstrip(".").lower()
    if not host or not all(_HOST_LABEL.match(label) for label in host.split(".")):
        raise ConfigError("stack outputs.endpoint_dns_name", dns_name, "is not the DNS name of a Client VPN endpoint", DEPLOY_FIX)
    return host


@dataclass(frozen=True)
class IssuedCertificate:
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def private_key_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption(),
        ).decode()


def load_authority(outputs: VpnStackOutputs) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    try:
        certificate = x509.load_pem_x509_certificate(outputs.ca_certificate_pem.encode())
    except ValueError as error:
        raise ConfigError("stack outputs.ca_certificate_pem", "<PEM>", f"is not a PEM certificate ({error})", DEPLOY_FIX) from None
    try:
        key = serialization.load_pem_private_key(outputs.ca_private_key_pem.encode(), password=None)
    except (ValueError, TypeError) as error:
        raise ConfigError("stack outputs.ca_private_key_pem", "<PEM>", f"is not an unencrypted PEM key ({error})", DEPLOY_FIX) from None
    try:
        is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise ConfigError("stack outputs.ca_certificate_pem", certificate.subject.rfc4514_string(), "is not a CA certificate", DEPLOY_FIX)
    if key.public_key().public_numbers() != certificate.public_key().public_numbers():
        raise ConfigError("stack outputs.ca_private_key_pem", "<PEM>", "does not belong to ca_certificate_pem",
                          "read both from the same deployed vpn stack")
    return certificate, key


def issue_client_certificate(user: str, outputs: VpnStackOutputs, *, days: int = DEFAULT_VALIDITY_DAYS,
                             now: datetime.datetime | None = None) -> IssuedCertificate:
    """A fresh key made here and a certificate for it (CN=user, clientAuth only), signed by the CA."""
    check_user_name(user)
    if not 1 <= days <= MAX_VALIDITY_DAYS:
        raise ConfigError("--days", days, f"must be 1 to {MAX_VALIDITY_DAYS}", f"use e.g. {DEFAULT_VALIDITY_DAYS}; issue a new profile when it expires")
    ca_certificate, ca_key = load_authority(outputs)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    not_after = min(now + datetime.timedelta(days=days), ca_certificate.not_valid_after_utc)
    if not_after <= now:
        raise ConfigError("stack outputs.ca_certificate_pem", ca_certificate.not_valid_after_utc.isoformat(), "the CA has expired",
                          "replace the CA (python main.py --allow-destroy, then deploy vpn) and issue new profiles")
    key = rsa.generate_private_key(public_exponent=65537, key_size=CLIENT_RSA_BITS)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)]))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # A few minutes back, so a client whose clock runs slightly behind still accepts it.
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=True, content_commitment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return IssuedCertificate(certificate, key)


def render_profile(user: str, outputs: VpnStackOutputs, issued: IssuedCertificate, *, prefix: str | None = None) -> str:
    """The .ovpn text. The random first label is what AWS's own profiles get from
    remote-random-hostname: it keeps resolvers from pinning one endpoint address."""
    prefix = prefix or secrets.token_hex(6)
    serial = format(issued.certificate.serial_number, "x")
    expiry = issued.certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        f"# AWS Client VPN profile for {user}, made by `python -m vault_platform.vpn client`.",
        f"# Certificate serial {serial}, valid until {expiry}. Keep this file private: it holds the key.",
        "client",
        "dev tun",
        "proto udp",
        f"remote {prefix}.{endpoint_host(outputs.endpoint_dns_name)} 443",
        "resolv-retry infinite",
        "nobind",
        "persist-key",
        "persist-tun",
        # The server must show a serverAuth certificate for exactly this name, from this CA.
        "remote-cert-tls server",
        f"verify-x509-name {outputs.server_name} name",
        "cipher AES-256-GCM",
        "reneg-sec 0",
        "verb 3",
        "<ca>", outputs.ca_certificate_pem.strip(), "</ca>",
        "<cert>", issued.certificate_pem.strip(), "</cert>",
        "<key>", issued.private_key_pem.strip(), "</key>",
        "",
    ])


def refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise ConfigError("profile", str(path), "already exists",
                          "pass --force to replace it (its old certificate stays valid until it expires or is revoked)")


def write_profile(path: Path, text: str, *, force: bool) -> None:
    """Write with mode 0600 from the first byte; refuse to replace a profile unless forced."""
    refuse_overwrite(path, force)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Into a private temporary file next to the target, then renamed over it: a reader never
    # sees half a profile, and the key never sits in a file with looser permissions.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, PROFILE_MODE)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        refuse_overwrite(path, force)  # it may have appeared meanwhile
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def create_profile(user: str, outputs: VpnStackOutputs, out_dir: Path, *, force: bool = False,
                   days: int = DEFAULT_VALIDITY_DAYS) -> tuple[Path, IssuedCertificate]:
    """The whole command: check the name, refuse an overwrite early, issue, write."""
    check_user_name(user)
    path = out_dir / f"{user}.ovpn"
    refuse_overwrite(path, force)  # before any key is made
    issued = issue_client_certificate(user, outputs, days=days)
    write_profile(path, render_profile(user, outputs, issued), force=force)
    return path, issued


def revocation_list(serials: list[str], outputs: VpnStackOutputs, *, days: int = 30,
                    now: datetime.datetime | None = None) -> x509.CertificateRevocationList:
    """A CRL signed by the CA that lists every serial given (hex, as profiles print them).
    Importing one replaces the endpoint's list, so pass every serial ever revoked."""
    if not serials:
        raise ConfigError("serial", [], "no certificate serial given", "pass the serial from the profile's second line")
    ca_certificate, ca_key = load_authority(outputs)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_certificate.subject)
               .last_update(now).next_update(now + datetime.timedelta(days=days)))
    for serial in serials:
        try:
            number = int(serial.removeprefix("0x"), 16)
        except ValueError:
            raise ConfigError("serial", serial, "is not a hexadecimal serial number", "copy it from the profile's second line") from None
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(number).revocation_date(now).build())
    return builder.sign(ca_key, hashes.SHA256())
