"""Permissions of the AWS load balancer controller, scoped to what it creates for one cluster.

Derived from what controller v2.13.0 (chart 1.13.0, addons/aws_load_balancer_controller) calls: its published
policy (docs/install/iam_policy.json at tag v2.13.0) and its source at that tag
(pkg/aws/services/*.go, pkg/deploy/elbv2/*, pkg/targetgroupbinding/networking_manager.go).
Reads are unscoped (EC2 and ELB describe calls cannot be limited to resources). Writes are
limited to load balancers, target groups and security groups that carry the controller's
cluster tag, ``elbv2.k8s.aws/cluster``, which the controller sets on create, so the role
cannot touch load balancers of the other cluster or anything created by hand. Differences
from the published policy, on purpose: no WAF, WAF Regional or Shield protection calls and
no SetWebAcl (ALB-only features this platform does not use: its load balancers are the NLBs
of Vault and the Istio gateway); ingress rules only on the cluster's own security groups.
"""

from __future__ import annotations

from vault_platform.constructs.policy import Statement, allow

_CLUSTER_TAG = "elbv2.k8s.aws/cluster"

_READ_ONLY = (
    "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections", "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups", "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags",
    "ec2:DescribeCoipPools", "ec2:GetCoipPoolUsage", "ec2:DescribeRouteTables", "ec2:GetSecurityGroupsForVpc",
    "ec2:DescribeIpamPools",  # v2.13: IPAM pools of a load balancer (ModifyIpPools below)
    "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:DescribeSSLPolicies", "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTrustStores", "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeCapacityReservation",
    "acm:ListCertificates", "acm:DescribeCertificate", "iam:ListServerCertificates", "iam:GetServerCertificate",
    "cognito-idp:DescribeUserPoolClient", "shield:GetSubscriptionState",
)

# IAM lint findings accepted for this policy (vault_platform/ops/iam_lint.py), by issue and Sid.
PARLIAMENT_ACCEPTED = {
    ("RESOURCE_STAR", "ElbServiceLinkedRole"):
        "iam:CreateServiceLinkedRole names no role before it exists; the iam:AWSServiceName condition limits it "
        "to Elastic Load Balancing's own service-linked role",
    ("RESOURCE_STAR", "Describe"):
        "describe and get calls of EC2, ELB, ACM, IAM server certificates and Cognito user pool clients the "
        "controller makes to discover subnets, security groups and certificates; they read, never change",
    ("RESOURCE_STAR", "CreateSecurityGroup"):
        "a new security group has no ARN to name before it exists; TagNewSecurityGroup only lets it be created "
        "with this cluster's tag, and every later change needs that tag",
    ("RESOURCE_STAR", "CreateTaggedLoadBalancers"):
        "a new load balancer or target group has no ARN to name before it exists; the aws:RequestTag condition "
        "only lets them be created with this cluster's tag",
    ("UNKNOWN_CONDITION_FOR_ACTION", "TagOnCreate"):
        "elasticloadbalancing:CreateAction is a documented condition key of AddTags (AWS Service Authorization "
        "Reference, Elastic Load Balancing V2, and the controller's published policy) missing from parliament's "
        "bundled IAM definitions",
    ("UNKNOWN_ACTION", "ChangeOwnLoadBalancers"):
        "elasticloadbalancing:ModifyIpPools (IPAM pools of a load balancer, 2025) is newer than parliament's bundled "
        "IAM definitions; controller v2.13.0 calls it (pkg/deploy/elbv2/load_balancer_manager.go) and its published "
        "policy grants it",
}


def load_balancer_controller_statements(cluster_name: str, partition: str = "aws") -> tuple[Statement, ...]:
    own_tag = {f"aws:ResourceTag/{_CLUSTER_TAG}": cluster_name}
    tag_on_create = {f"aws:RequestTag/{_CLUSTER_TAG}": cluster_name}
    elb = f"arn:{partition}:elasticloadbalancing:*:*"
    load_balancers = [f"{elb}:loadbalancer/net/*/*", f"{elb}:loadbalancer/app/*/*"]
    listeners = [f"{elb}:listener/net/*/*/*", f"{elb}:listener/app/*/*/*"]
    rules = [f"{elb}:listener-rule/net/*/*/*", f"{elb}:listener-rule/app/*/*/*"]
    return (
        allow(["iam:CreateServiceLinkedRole"], "*", sid="ElbServiceLinkedRole",
              Condition={"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}),
        allow(_READ_ONLY, "*", sid="Describe"),
        # Security groups: create only tagged for this cluster, change only its own.
        allow(["ec2:CreateSecurityGroup"], "*", sid="CreateSecurityGroup"),
        allow(["ec2:CreateTags"], f"arn:{partition}:ec2:*:*:security-group/*", sid="TagNewSecurityGroup",
              Condition={"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup", **tag_on_create}}),
        allow(["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup",
               "ec2:CreateTags", "ec2:DeleteTags"], f"arn:{partition}:ec2:*:*:security-group/*",
              sid="ChangeOwnSecurityGroups", Condition={"StringEquals": own_tag}),
        # Backend rules: the controller opens the targets' ports from the load balancer on the
        # nodes' security group, the one tagged kubernetes.io/cluster/<name> (EKS's cluster
        # security group; networking_manager.go, fetchEndpointSGsFromAWS). Without this the
        # NLBs get targets that never become healthy.
        allow(["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
              f"arn:{partition}:ec2:*:*:security-group/*", sid="BackendRulesOnClusterSecurityGroups",
              Condition={"StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": ["owned", "shared"]}}),
        # Load balancers and target groups: created with the cluster tag, changed only when they carry it.
        allow(["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"], "*",
              sid="CreateTaggedLoadBalancers", Condition={"StringEquals": tag_on_create}),
        allow(["elasticloadbalancing:AddTags"], [f"{elb}:targetgroup/*/*", *load_balancers],
              sid="TagOnCreate", Condition={"StringEquals": {
                  "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"], **tag_on_create}}),
        allow(["elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
               "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
               "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
               "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
               "elasticloadbalancing:ModifyCapacityReservation", "elasticloadbalancing:ModifyIpPools",
               "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
              [f"{elb}:targetgroup/*/*", *load_balancers],
              sid="ChangeOwnLoadBalancers", Condition={"StringEquals": own_tag}),
        allow(["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
              f"{elb}:targetgroup/*/*", sid="RegisterTargets", Condition={"StringEquals": own_tag}),
        # A listener is authorized on its load balancer when it is created: only on ours.
        allow(["elasticloadbalancing:CreateListener"], load_balancers, sid="CreateListenersOnOwnLoadBalancers",
              Condition={"StringEquals": own_tag}),
        # Listeners and rules belong to the controller's load balancers. v2.13 tags them on
        # create (feature gate ListenerRulesTagging, on by default), which needs AddTags on them.
        allow(["elasticloadbalancing:DeleteListener", "elasticloadbalancing:ModifyListener",
               "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:AddListenerCertificates",
               "elasticloadbalancing:RemoveListenerCertificates", "elasticloadbalancing:CreateRule",
               "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"], listeners, sid="Listeners"),
        allow(["elasticloadbalancing:DeleteRule", "elasticloadbalancing:ModifyRule",
               "elasticloadbalancing:SetRulePriorities", "elasticloadbalancing:AddTags",
               "elasticloadbalancing:RemoveTags"], rules, sid="ListenerRules"),
    )
