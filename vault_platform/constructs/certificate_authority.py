"""A private root CA made by Terraform's tls provider: the trust anchor of the Client VPN.

Terraform generates the key at apply time, so it never appears in the synthesized JSON;
it does live in the stack's Terraform state (the tls provider has no other place to keep
it), which is why that state must be the encrypted remote backend for real use. The client
profile command (``python -m vault_platform.vpn``) signs user certificates with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_tls.private_key import PrivateKey
from cdktf_cdktf_provider_tls.self_signed_cert import SelfSignedCert, SelfSignedCertSubject
from constructs import Construct

from vault_platform.constructs.protection import protected_lifecycle

HOURS_PER_YEAR = 365 * 24
# A CA lives long: a new one invalidates every certificate it signed.
CA_VALIDITY_HOURS = 10 * HOURS_PER_YEAR
# AWS Client VPN accepts RSA keys for its server and client certificates; 2048 bits is
# the size every OpenVPN client and ACM import supports.
RSA_BITS = 2048


@dataclass(frozen=True)
class CertificateAuthorityProps:
    """validity_hours: default ten years. There is no early renewal: a new CA invalidates every
    client profile, so replacing it is a deliberate act (it is also destroy-protected)."""

    common_name: str
    organization: str
    validity_hours: int = CA_VALIDITY_HOURS


class CertificateAuthority(Construct):
    def __init__(self, scope: Construct, id: str, props: CertificateAuthorityProps) -> None:
        super().__init__(scope, id)
        # Losing or replacing the key revokes every issued profile at once: protect both.
        self.key = PrivateKey(self, "key", algorithm="RSA", rsa_bits=RSA_BITS, lifecycle=protected_lifecycle(self))
        self.certificate = SelfSignedCert(
            self, "certificate",
            private_key_pem=self.key.private_key_pem,
            subject=[SelfSignedCertSubject(common_name=props.common_name, organization=props.organization)],
            is_ca_certificate=True,
            set_subject_key_id=True,
            validity_period_hours=props.validity_hours,
            # A CA signs certificates and revocation lists, nothing else.
            allowed_uses=["cert_signing", "crl_signing", "digital_signature"],
            lifecycle=protected_lifecycle(self),
        )
        self.certificate_pem = self.certificate.cert_pem
        self.private_key_pem = self.key.private_key_pem
