"""Permissions of the AWS load balancer controller, scoped to what it creates for one cluster.

Reads are unscoped (EC2 and ELB describe calls cannot be limited to resources). Every
write is limited to load balancers, target groups and security groups that carry the
controller's cluster tag, ``elbv2.k8s.aws/cluster``, which the controller sets on create,
so the role cannot touch load balancers of the other cluster or anything created by hand.
"""

from __future__ import annotations

from vault_platform.constructs.policy import Statement, allow

_CLUSTER_TAG = "elbv2.k8s.aws/cluster"

_READ_ONLY = (
    "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections", "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups", "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags",
    "ec2:DescribeCoipPools", "ec2:GetCoipPoolUsage", "ec2:DescribeRouteTables", "ec2:GetSecurityGroupsForVpc",
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


def load_balancer_controller_statements(cluster_name: str) -> tuple[Statement, ...]:
    own_tag = {f"aws:ResourceTag/{_CLUSTER_TAG}": cluster_name}
    tag_on_create = {f"aws:RequestTag/{_CLUSTER_TAG}": cluster_name}
    elb = "arn:aws:elasticloadbalancing:*:*"
    return (
        allow(["iam:CreateServiceLinkedRole"], "*", sid="ElbServiceLinkedRole",
              Condition={"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}),
        allow(_READ_ONLY, "*", sid="Describe"),
        # Security groups: create only tagged for this cluster, change only its own.
        allow(["ec2:CreateSecurityGroup"], "*", sid="CreateSecurityGroup"),
        allow(["ec2:CreateTags"], "arn:aws:ec2:*:*:security-group/*", sid="TagNewSecurityGroup",
              Condition={"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup", **tag_on_create}}),
        allow(["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DeleteSecurityGroup",
               "ec2:CreateTags", "ec2:DeleteTags"], "arn:aws:ec2:*:*:security-group/*",
              sid="ChangeOwnSecurityGroups", Condition={"StringEquals": own_tag}),
        # Load balancers and target groups: created with the cluster tag, changed only when they carry it.
        allow(["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"], "*",
              sid="CreateTaggedLoadBalancers", Condition={"StringEquals": tag_on_create}),
        allow(["elasticloadbalancing:AddTags"],
              [f"{elb}:targetgroup/*/*", f"{elb}:loadbalancer/net/*/*", f"{elb}:loadbalancer/app/*/*"],
              sid="TagOnCreate", Condition={"StringEquals": {
                  "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"], **tag_on_create}}),
        allow(["elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
               "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
               "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
               "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
               "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:ModifyCapacityReservation",
               "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
              [f"{elb}:targetgroup/*/*", f"{elb}:loadbalancer/net/*/*", f"{elb}:loadbalancer/app/*/*"],
              sid="ChangeOwnLoadBalancers", Condition={"StringEquals": own_tag}),
        allow(["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
              f"{elb}:targetgroup/*/*", sid="RegisterTargets", Condition={"StringEquals": own_tag}),
        # Listeners and rules belong to the controller's load balancers; ELB does not tag-scope them.
        allow(["elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
               "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule",
               "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyRule",
               "elasticloadbalancing:SetWebAcl", "elasticloadbalancing:AddListenerCertificates",
               "elasticloadbalancing:RemoveListenerCertificates"],
              [f"{elb}:listener/net/*/*/*", f"{elb}:listener/app/*/*/*",
               f"{elb}:listener-rule/net/*/*/*", f"{elb}:listener-rule/app/*/*/*"], sid="Listeners"),
    )
