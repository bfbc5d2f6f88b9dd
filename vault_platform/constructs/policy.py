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


def service_assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service principal assume a role."""
    return policy_document([{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}])
