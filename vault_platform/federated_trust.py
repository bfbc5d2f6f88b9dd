"""Which external identities an environment's synthesized IAM trusts, and whether the
environment file named each of them.

A role trusts a federated principal (``"Principal": {"Federated": ...}`` in its trust policy)
when tokens of that OIDC issuer may assume it. The environment names exactly two kinds:
- its own EKS clusters' issuers (IRSA: the provider's URL is the cluster's own issuer, in the
  same stack), which only that cluster's service accounts can hold;
- with a [ci] table, its GitLab instance, and only for the ``sub`` of the project it names.
Anything else (a literal provider ARN, another issuer, another project's ``sub``, a trust
without a ``sub`` or ``aud`` condition) is an identity nobody chose, and the synth fails
(app.py), as does ``make iam-lint``. The plan summary lists what is trusted (``describe``).

Reads synthesized Terraform JSON only: no cdktf, no jsii.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vault_platform.config.model import EnvironmentConfig

_PROVIDER_REFERENCE = re.compile(r"^\$\{(?P<data>data\.)?aws_iam_openid_connect_provider\.(?P<name>[\w-]+)\.arn\}$")
_EKS_ISSUER = re.compile(r"^\$\{aws_eks_cluster\.(?P<name>[\w-]+)\.identity\[0\]\.oidc\[0\]\.issuer\}$")
_REFERENCE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class FederatedTrust:
    """One statement of one role's trust policy that admits a federated principal."""

    stack: str
    role: str  # the role's IAM name (or its Terraform address when the name is computed)
    principal: str  # as synthesized: a reference to a provider, or a literal ARN
    issuer: str | None  # the provider's URL when the principal is a provider of this stack
    conditions: Mapping[str, Mapping[str, object]]

    def claim(self, claim: str) -> list[str]:
        """Every value the statement's conditions allow for ``<issuer>:<claim>``, any operator."""
        values: list[str] = []
        for block in self.conditions.values():
            for key, value in block.items():
                if key.endswith(f":{claim}"):
                    values += value if isinstance(value, list) else [value]
        return values


def federated_trusts(stack_id: str, stack: Mapping[str, object]) -> list[FederatedTrust]:
    """Every statement of every aws_iam_role in one synthesized stack that trusts a federated principal."""
    resources = stack.get("resource", {})
    data = stack.get("data", {})
    trusts = []
    for address, role in resources.get("aws_iam_role", {}).items():
        # Quotes inside a reference (replace(..., "https://", "")) would break the JSON.
        document = json.loads(_REFERENCE.sub(lambda match: match.group(0).replace('"', "'"), role["assume_role_policy"]))
        for statement in _as_list(document.get("Statement", [])):
            if statement.get("Effect") != "Allow":
                continue
            for principal in _as_list(statement.get("Principal", {}).get("Federated", [])):
                trusts.append(FederatedTrust(stack_id, role.get("name", address), principal,
                                             _issuer(principal, resources, data), statement.get("Condition", {})))
    return trusts


def _issuer(principal: str, resources: Mapping, data: Mapping) -> str | None:
    match = _PROVIDER_REFERENCE.match(principal)
    if match is None:
        return None
    blocks = data if match["data"] else resources
    provider = blocks.get("aws_iam_openid_connect_provider", {}).get(match["name"])
    return None if provider is None else provider.get("url")


def untrusted(env: EnvironmentConfig, trusts: Iterable[FederatedTrust], stack_clusters: Mapping[str, set[str]]) -> list[str]:
    """One line per trust the environment file did not name. stack_clusters: the addresses of
    the aws_eks_cluster resources of each stack (an IRSA provider is trusted only in the stack
    of its cluster)."""
    problems = []
    for trust in trusts:
        where = f"{trust.stack}: role {trust.role} trusts federated principal {trust.principal}"
        eks = _EKS_ISSUER.match(trust.issuer or "")
        if eks is not None and eks["name"] in stack_clusters.get(trust.stack, set()):
            if not trust.claim("sub") or not all(s.startswith("system:serviceaccount:") for s in trust.claim("sub")):
                problems.append(f"{where} (its own cluster) without binding one service account; "
                                "fix: trust it through constructs/iam.py irsa_trust_policy")
            continue
        ci = env.ci
        if ci is None or trust.issuer != ci.gitlab_url:
            named = f"names only {ci.gitlab_url}" if ci is not None else "has no [ci] table, so it trusts no external issuer"
            problems.append(f"{where} (issuer {trust.issuer or 'unknown'}), but {env.source or 'the environment file'} {named}; "
                            "fix: remove that trust, or name the issuer and project in the file's [ci] table")
            continue
        subjects, audiences = trust.claim("sub"), trust.claim("aud")
        prefix = f"project_path:{ci.project_path}:"
        if not subjects or not all(s.startswith(prefix) for s in subjects):
            problems.append(f"{where} for sub {subjects or 'of any project'}, but [ci] names only project {ci.project_path}; "
                            f"fix: bind every subject to '{prefix}...' (constructs/ci_oidc.py)")
        if audiences != [ci.audience]:
            problems.append(f"{where} for aud {audiences or 'of any audience'}; fix: bind aud to [ci] audience '{ci.audience}'")
    return problems


def stack_trust_problems(env: EnvironmentConfig, stacks: Mapping[str, Mapping[str, object]]) -> list[str]:
    """untrusted() over synthesized stacks (stack id -> cdk.tf.json content)."""
    trusts = [trust for stack_id, stack in stacks.items() for trust in federated_trusts(stack_id, stack)]
    clusters = {stack_id: set(stack.get("resource", {}).get("aws_eks_cluster", {})) for stack_id, stack in stacks.items()}
    return untrusted(env, trusts, clusters)


def describe(env: EnvironmentConfig) -> list[str]:
    """The external identities the environment trusts, one line each, for people (plan summary)."""
    lines = ["each EKS cluster's own service accounts, one IRSA role per add-on identity (issuer: the cluster itself)"]
    ci = env.ci
    if ci is None:
        return lines + ["no CI pipeline: the file has no [ci] table, so no GitLab instance or project can assume any role"]
    plan = ", ".join(ci.effective_plan_branches(env.state is not None))
    provider = "created by this environment" if ci.oidc_provider == "create" else "looked up (another environment of the account owns it)"
    return lines + [
        f"GitLab {ci.gitlab_url} (IAM OIDC provider {provider}), project {ci.project_path} "
        f"(project id {ci.project_id}, namespace id {ci.namespace_id}; IAM binds the path, check it still names these ids):",
        f"  {env.name}-ci-plan (ReadOnlyAccess{', plus the remote state' if env.state else ''}): branches {plan}",
        f"  {env.name}-ci-deploy (AdministratorAccess minus the guardrails' denies): branch {ci.deploy_branch}",
    ]


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]
