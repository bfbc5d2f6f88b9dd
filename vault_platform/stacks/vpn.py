"""The vpn stack: a private root CA, a server certificate, and an AWS Client VPN endpoint in
the tooling VPC through which operators reach Vault (https://vault.<zone>:8200) and the
private EKS API endpoints of every cluster, with nothing public (seed 001 §8.4, §9.7). Each
application VPC gets its route (per association), authorization rule and egress rule, and
its cluster's API admits the endpoint's security group.

Reads the tooling and application stacks by cross-stack reference, so it deploys after
all of them. User profiles are made outside Terraform: ``python -m vault_platform.vpn client NAME``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cdktf_cdktf_provider_aws.acm_certificate import AcmCertificate
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from cdktf_cdktf_provider_tls.provider import TlsProvider
from cdktf import TerraformResourceLifecycle
from constructs import Construct

from vault_platform.config.model import EnvironmentConfig
from vault_platform.constructs.certificate_authority import CertificateAuthority, CertificateAuthorityProps
from vault_platform.constructs.client_vpn import ClientVpn, ClientVpnProps, VpnDestination, VpnEgress
from vault_platform.constructs.server_certificate import ServerCertificate, ServerCertificateProps
from vault_platform.stacks.application import KUBERNETES_API_PORT, ApplicationStack
from vault_platform.stacks.base import PlatformStack
from vault_platform.addons.vault import VAULT_PORT
from vault_platform.stacks.tooling import ToolingStack

DNS_PORT = 53


def vpc_resolver(cidr: str) -> str:
    """The Amazon-provided DNS server of a VPC: its base address plus two."""
    return str(ipaddress.IPv4Network(cidr).network_address + 2)


def vpn_server_name(env: EnvironmentConfig) -> str:
    """The endpoint's certificate name, which profiles check with verify-x509-name."""
    return f"vpn.{env.tooling.private_zone_name}"


class VpnStack(PlatformStack):
    def __init__(self, scope: Construct, stack_id: str, env: EnvironmentConfig, *,
                 tooling: ToolingStack, applications: Sequence[ApplicationStack]) -> None:
        super().__init__(scope, stack_id, env)
        TlsProvider(self, "tls")
        config = env.vpn
        name = f"{env.name}-vpn"
        tooling_cidr = env.tooling.network.cidr
        # Keyed by the cluster's short name: the Terraform ids of its rules carry it, so adding
        # or removing a cluster never renames another's (the default's is "application").
        spokes = [(application.config.cluster.name, application) for application in applications]
        zone_count = config.association_count if config.association_count is not None else env.availability_zone_count
        association_subnet_ids = tuple(tooling.vpc.private_subnet_ids[:zone_count])
        resolver = vpc_resolver(tooling_cidr)

        self.authority = CertificateAuthority(self, "ca", CertificateAuthorityProps(
            common_name=f"{env.name} VPN root CA", organization=f"{env.name} vault platform",
        ))
        self.server_name = vpn_server_name(env)
        self.server = ServerCertificate(self, "server-certificate", ServerCertificateProps(
            common_name=self.server_name, authority=self.authority,
        ))
        # ACM is where Client VPN takes certificates from. The CA is imported on its own,
        # rather than reusing the server certificate's ARN as the client trust anchor, so a
        # renewed server certificate never touches which client certificates are accepted.
        # ACM never exports an imported private key. Create before destroy: a re-issued
        # certificate is imported, and the endpoint switched to it, before the old import
        # goes, so the endpoint never refers to a deleted certificate.
        replace_safely = TerraformResourceLifecycle(create_before_destroy=True)
        server_acm = AcmCertificate(
            self, "server-certificate-acm", certificate_body=self.server.certificate_pem,
            private_key=self.server.private_key_pem, certificate_chain=self.authority.certificate_pem,
            tags={"Name": f"{name}-server"}, lifecycle=replace_safely,
        )
        ca_acm = AcmCertificate(
            self, "ca-acm", certificate_body=self.authority.certificate_pem,
            private_key=self.authority.private_key_pem, tags={"Name": f"{name}-client-ca"}, lifecycle=replace_safely,
        )

        self.vpn = ClientVpn(self, "client-vpn", ClientVpnProps(
            name=name, vpc_id=tooling.vpc.vpc_id, vpn=config,
            association_subnet_ids=association_subnet_ids,
            authorized=(
                VpnDestination("tooling-vpc", tooling_cidr, "Tooling VPC: Vault, tooling EKS API, DNS"),
                *(VpnDestination(f"{key}-vpc", app.config.network.cidr, "Application VPC through the peering: EKS API")
                  for key, app in spokes),
            ),
            routed=tuple(VpnDestination(f"{key}-vpc", app.config.network.cidr, "Application VPC through the peering")
                         for key, app in spokes),
            egress=(
                VpnEgress("vault", tooling_cidr, "tcp", VAULT_PORT, "Vault API"),
                VpnEgress("tooling-kubernetes-api", tooling_cidr, "tcp", KUBERNETES_API_PORT, "Tooling EKS API (private endpoint)"),
                VpnEgress("dns-udp", f"{resolver}/32", "udp", DNS_PORT, "VPC resolver (private zone)"),
                VpnEgress("dns-tcp", f"{resolver}/32", "tcp", DNS_PORT, "VPC resolver (private zone, large answers)"),
                *(VpnEgress(f"{key}-kubernetes-api", app.config.network.cidr, "tcp", KUBERNETES_API_PORT,
                            "Application EKS API (private endpoint), through the peering") for key, app in spokes),
            ),
            server_certificate_arn=server_acm.arn, client_root_certificate_arn=ca_acm.arn,
            dns_servers=(resolver,), log_kms_key_arn=tooling.logs_key.arn,
        ))

        # Client VPN source-NATs client traffic to the association's ENI, so inside the VPCs
        # the client range never appears: the source is an address of an association subnet,
        # on an ENI that carries the endpoint's security group. Hence:
        # - the EKS API (private endpoint ENIs carry each cluster's security group) admits the
        #   endpoint's security group itself: exactly the VPN, nothing else in those subnets.
        #   Same-region peering lets each application cluster's group reference it too.
        # - Vault is reached through its internal NLB, whose controller-made security group
        #   admits the tooling VPC (these subnets included): no rule here (flows/declared.py).
        for cluster_name, cluster_sg in (("tooling", tooling.cluster.cluster_security_group_id),
                                         *((key, app.cluster.cluster_security_group_id) for key, app in spokes)):
            VpcSecurityGroupIngressRule(
                self, f"{cluster_name}-kubernetes-api-from-vpn", security_group_id=cluster_sg, ip_protocol="tcp",
                from_port=KUBERNETES_API_PORT, to_port=KUBERNETES_API_PORT,
                referenced_security_group_id=self.vpn.security_group_id,
                description="EKS API from the Client VPN endpoint",
            )
        self._outputs()

    def _outputs(self) -> None:
        self.output("endpoint_id", self.vpn.endpoint_id, "Client VPN endpoint")
        self.output("endpoint_dns_name", self.vpn.dns_name, "Endpoint DNS name (*.cvpn-endpoint-...); profiles use a random label in place of '*'")
        self.output("server_name", self.server_name, "Name in the server certificate; profiles check it (verify-x509-name)")
        self.output("client_cidr", self.env.vpn.client_cidr, "Addresses handed to connected clients")
        self.output("ca_certificate_pem", self.authority.certificate_pem, "Root CA certificate (PEM) that client certificates chain to",
                    sensitive=True)
        # Needed by `python -m vault_platform.vpn client` to sign user certificates. It is in
        # this stack's state in any case; keep that state in the encrypted remote backend.
        self.output("ca_private_key_pem", self.authority.private_key_pem, "Root CA private key (PEM): signs client certificates",
                    sensitive=True)
