"""The private CA that signs Vault's listener certificate (flux/infrastructure/vault-pki).

Made by Terraform rather than by cert-manager because Terraform must hand the CA
certificate to the application cluster (platform var VAULT_CA_CERT_B64) and because the
CA must outlive a rebuild of the tooling cluster. The key pair reaches the tooling cluster
as the Secret cert-manager/vault-ca-keypair, which cert-manager's ClusterIssuer
``vault-ca`` signs with. The private key is in this stack's Terraform state: that state
is as sensitive as the CA (it is local, next to cdktf.json; keep it off shared disks).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformProvider
from cdktf_cdktf_provider_kubernetes.namespace_v1 import NamespaceV1, NamespaceV1Metadata
from cdktf_cdktf_provider_kubernetes.secret_v1 import SecretV1, SecretV1Metadata
from constructs import Construct

from vault_platform.constructs.certificate_authority import CA_VALIDITY_HOURS, CertificateAuthority, CertificateAuthorityProps


@dataclass(frozen=True)
class VaultCaProps:
    """common_name: the CA's subject. namespace/secret_name: where cert-manager reads it.
    validity_hours: ten years by default; rotating the CA means re-issuing every Vault
    certificate and re-distributing VAULT_CA_CERT_B64, so it is long-lived on purpose."""

    common_name: str
    organization: str
    namespace: str = "cert-manager"
    secret_name: str = "vault-ca-keypair"
    validity_hours: int = CA_VALIDITY_HOURS


class VaultCa(Construct):
    """The stack's tls provider must be its default one (the CA construct names none)."""

    def __init__(self, scope: Construct, id: str, props: VaultCaProps, *, kubernetes: TerraformProvider) -> None:
        super().__init__(scope, id)
        # The same destroy-protected root CA construct as the VPN's, with its own key.
        self.authority = CertificateAuthority(self, "authority", CertificateAuthorityProps(
            common_name=props.common_name, organization=props.organization, validity_hours=props.validity_hours,
        ))
        self.certificate_pem = self.authority.certificate_pem
        # Flux's cert-manager kustomization applies the same Namespace later and adopts it;
        # the Secret must exist before the ClusterIssuer, hence Terraform makes it first.
        namespace = NamespaceV1(self, "namespace", provider=kubernetes,
                                metadata=NamespaceV1Metadata(name=props.namespace))
        SecretV1(
            self, "keypair", provider=kubernetes, type="kubernetes.io/tls",
            metadata=SecretV1Metadata(name=props.secret_name, namespace=props.namespace),
            data={"tls.crt": self.authority.certificate_pem, "tls.key": self.authority.private_key_pem},
            depends_on=[namespace],
        )
