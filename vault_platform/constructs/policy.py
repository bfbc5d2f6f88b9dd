"""IAM policy documents as JSON strings, written where they are used.

A document is built from Python dicts and serialised with ``json.dumps``; cdktf tokens
(ARNs of resources not created yet) inside the strings resolve to Terraform interpolations
at synth, so the synthesized policy reads like the one AWS will store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

Statement = Mapping[str, object]


def policy_document(statements: Iterable[Statement]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=None, separators=(",", ":"))


def allow(actions: Iterable[str], resources: Iterable[str] | str, sid: str | None = None, **extra: object) -> dict[str, object]:
    """One Allow statement; ``extra`` adds Condition or Principal."""
    statement: dict[str, object] = {}
    if sid:
        statement["Sid"] = sid
    statement["Effect"] = "Allow"
    statement.update(extra)
    statement["Action"] = sorted(actions)
    statement["Resource"] = resources if isinstance(resources, str) else list(resources)
    return statement


# Confused-deputy protection of a role an AWS service assumes: the services whose own guide
# documents aws:SourceAccount / aws:SourceArn in the role's trust policy (the page), and the
# services that document none for the way this project uses them (why). IAM lint
# (ops/iam_lint.py) fails a service trust statement without both keys unless its service
# is in SOURCE_CONDITIONS_NOT_DOCUMENTED, and a service in neither table.
SOURCE_CONDITIONS_DOCUMENTED = {
    "eks.amazonaws.com": "https://docs.aws.amazon.com/eks/latest/userguide/cross-service-confused-deputy-prevention.html "
                         "(cluster role: aws:SourceArn the cluster's ARN, aws:SourceAccount)",
    "vpc-flow-logs.amazonaws.com": "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html "
                                   "(aws:SourceAccount, aws:SourceArn arn:...:ec2:<region>:<account>:vpc-flow-log/*)",
}
SOURCE_CONDITIONS_NOT_DOCUMENTED = {
    "ec2.amazonaws.com":
        "the node role reaches EC2 only through an instance profile; EC2 documents no aws:SourceArn/SourceAccount "
        "for instance-profile credentials (the EKS node role's documented trust policy, "
        "https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html, has no condition), and a condition "
        "EC2 does not send would stop the nodes from getting credentials. The deputy cannot be confused across "
        "accounts: attaching the role to an instance needs iam:PassRole in this account, which cannot be granted "
        "to another account",
}


def service_assume_role_policy(service: str, *, source_account: str | None = None, source_arn: str | None = None) -> str:
    """Trust policy letting one AWS service principal assume a role; source_account and
    source_arn limit it to this account's resources (confused-deputy protection, where the
    service documents them: SOURCE_CONDITIONS_DOCUMENTED)."""
    statement: dict[str, object] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    condition: dict[str, dict[str, str]] = {}
    if source_account:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return policy_document([statement])
