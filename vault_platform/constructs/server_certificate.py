"""A TLS server certificate signed by a CA of ``certificate_authority``: key, request, signature,
all by Terraform's tls provider, renewed by an ordinary apply before it expires."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_tls.cert_request import CertRequest, CertRequestSubject
from cdktf_cdktf_provider_tls.locally_signed_cert import LocallySignedCert
from cdktf_cdktf_provider_tls.private_key import PrivateKey
from constructs import Construct

from vault_platform.constructs.certificate_authority import HOURS_PER_YEAR, RSA_BITS, CertificateAuthority


@dataclass(frozen=True)
class ServerCertificateProps:
    """common_name: also the certificate's only DNS name; clients check it (verify-x509-name).
    validity_hours: default two years; any apply in the last early_renewal_hours (default 30
    days) issues a new one, which ACM re-imports under the same ARN."""

    common_name: str
    authority: CertificateAuthority
    validity_hours: int = 2 * HOURS_PER_YEAR
    early_renewal_hours: int = 30 * 24


class ServerCertificate(Construct):
    def __init__(self, scope: Construct, id: str, props: ServerCertificateProps) -> None:
        super().__init__(scope, id)
        self.key = PrivateKey(self, "key", algorithm="RSA", rsa_bits=RSA_BITS)
        request = CertRequest(
            self, "request", private_key_pem=self.key.private_key_pem,
            subject=[CertRequestSubject(common_name=props.common_name)], dns_names=[props.common_name],
        )
        self.certificate = LocallySignedCert(
            self, "certificate",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=props.authority.private_key_pem,
            ca_cert_pem=props.authority.certificate_pem,
            validity_period_hours=props.validity_hours,
            early_renewal_hours=props.early_renewal_hours,
            set_subject_key_id=True,
            # OpenVPN clients check serverAuth (remote-cert-tls server).
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
        )
        self.common_name = props.common_name
        self.certificate_pem = self.certificate.cert_pem
        self.private_key_pem = self.key.private_key_pem
