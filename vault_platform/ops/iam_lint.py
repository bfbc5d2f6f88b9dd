"""IAM lint: every policy the stacks write, checked against AWS's documented rules.

    python -m vault_platform.ops.iam_lint --env staging     # one environment; exit 1 on a finding

Three checks over the synthesized JSON of an environment's stacks:

1. parliament (PyPI, version below) on each statement of each identity, trust and resource
   policy (KMS key, S3 bucket, EFS file system): unknown actions or condition keys, actions
   whose resource types no listed ARN matches, type mismatches. A finding fails unless a
   reason accepts it: ``PARLIAMENT_ACCEPTED`` in the construct or stack module that writes
   the statement, keyed by (issue, Sid). An accepted finding that no environment produces
   is stale (tests/test_iam_lint.py fails on it).
2. Resource coverage, stricter than parliament (which only checks resource types its data
   marks required): a statement that names ARNs must name one of each action's resource
   types, else IAM authorizes the call against a resource the statement never names
   (``CreateListener`` is authorized on the load balancer, not on a listener).
4. Confused-deputy protection (check 4, below check 3 in the code): a role an AWS service
   assumes carries aws:SourceAccount and aws:SourceArn where the service documents them
   (constructs/policy.py SOURCE_CONDITIONS_DOCUMENTED, a page per service), or its service
   is listed with the reason it cannot (SOURCE_CONDITIONS_NOT_DOCUMENTED); a service in
   neither table fails until someone reads its page.
5. Grants no manifest consumes: an identity policy allowing secretsmanager:GetSecretValue
   fails unless a manifest under flux/ reads AWS Secrets Manager (an External Secrets
   SecretStore or ClusterSecretStore with provider aws, service SecretsManager): a standing
   read of a secret nothing reads is a grant nobody uses (the External Secrets role's old
   read of the RDS master secret). A reason may accept one (a reader outside flux/).
6. Read-only roles: the role of an add-on declared ``read_only`` (vault_platform/addons/) grants
   only actions of AWS's List and Read access levels (parliament's copy of the Service
   Authorization Reference), and names Resource "*" only for actions AWS cannot scope to a
   resource (ecr:GetAuthorizationToken). No reason accepts either: the add-on's declaration is
   the place to change.
7. Key grants nothing uses (check 5's class, for KMS keys): a statement allowing a key's use
   (kms:Decrypt, Encrypt, GenerateDataKey*, ReEncrypt*, CreateGrant) on a key of the
   environment, to a role (an identity policy of the role, or a key-policy statement naming
   it), fails unless the key reaches what that role runs: a platform var whose value is the
   key and that a manifest under flux/ reads as ``${VAR}`` (Vault's awskms seal), a
   Kubernetes object the platform stack writes that names the key (the EBS CSI driver's
   StorageClass), or an AWS resource that names the key and that the role is granted on or
   named by (the snapshot bucket's default encryption; the EKS cluster's envelope key and
   its cluster role). A reason may accept one.
3. Principals that exist on a fresh account: KMS, S3 and IAM refuse a policy naming a
   principal that does not exist (KMS: MalformedPolicyDocumentException). A principal must
   be ``*``, a service, the account (root or id), or a reference to a resource Terraform
   creates first (same stack: the reference is the dependency; an earlier stack's output).

Terraform references (``${...}``) are replaced, for parliament only, by typed placeholder
ARNs in the ARN format the AWS Service Authorization Reference documents for that resource
type (``PLACEHOLDERS``): a reference nobody typed fails the lint, so a new resource type in
a policy is typed before it is linted, never guessed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vault_platform.cli import OneLineParser, one_line_errors
from vault_platform.errors import ToolError
from vault_platform.ops.accepted_findings import collect, resources, triage

if TYPE_CHECKING:
    from vault_platform.config.model import EnvironmentConfig

PARLIAMENT_VERSION = "1.6.4"

# Which attribute of which resource type holds which kind of policy. A policy document in
# any other attribute fails the lint: add its kind here.
POLICY_ATTRIBUTES: Mapping[tuple[str, str], str] = {
    ("aws_iam_role", "assume_role_policy"): "trust",
    ("aws_iam_role_policy", "policy"): "identity",
    ("aws_iam_policy", "policy"): "identity",
    ("aws_kms_key", "policy"): "resource",
    ("aws_s3_bucket_policy", "policy"): "resource",
    ("aws_efs_file_system_policy", "policy"): "resource",
}

_ACCOUNT = "123456789012"  # an environment without account_id: a documentation account
_OIDC_ISSUER = "https://oidc.eks.{region}.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
# (resource type, attribute) -> placeholder in the documented ARN format of that type.
PLACEHOLDERS: Mapping[tuple[str, str], str] = {
    ("aws_caller_identity", "account_id"): "{account}",
    ("aws_kms_key", "arn"): "arn:{partition}:kms:{region}:{account}:key/0e2f1a9c-4b7d-4e55-9c1a-5d8b6f3e2a10",
    ("aws_iam_role", "arn"): "arn:{partition}:iam::{account}:role/{name}",
    ("aws_iam_openid_connect_provider", "arn"): "arn:{partition}:iam::{account}:oidc-provider/placeholder.example.com",
    ("aws_eks_cluster", "identity[0].oidc[0].issuer"): _OIDC_ISSUER,
    ("aws_cloudwatch_log_group", "arn"): "arn:{partition}:logs:{region}:{account}:log-group:{name}",
    ("aws_db_instance", "master_user_secret[0].secret_arn"):
        "arn:{partition}:secretsmanager:{region}:{account}:secret:rds!db-placeholder-AbCdEf",
    ("aws_ecr_repository", "arn"): "arn:{partition}:ecr:{region}:{account}:repository/{name}",
    ("aws_efs_file_system", "arn"): "arn:{partition}:elasticfilesystem:{region}:{account}:file-system/fs-0123456789abcdef0",
    ("aws_route53_zone", "arn"): "arn:{partition}:route53:::hostedzone/Z0123456789PLACEHOLDER",
    ("aws_s3_bucket", "arn"): "arn:{partition}:s3:::{name}",
}

# Findings that come from parliament not knowing trust policies: (kind, issue, detail
# pattern) -> reason. Only these exact findings; anything else still fails.
_KIND_RULES: tuple[tuple[str, str, re.Pattern[str], str], ...] = (
    ("trust", "UNKNOWN_FEDERATION_SOURCE", re.compile(r'^"arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider/[^"]+"$'),
     "an IAM OIDC provider ARN, which parliament does not know as a federation source"),
    # Only aud, sub and amr, and only on AssumeRoleWithWebIdentity: a misspelt claim still fails.
    ("trust", "UNKNOWN_CONDITION_FOR_ACTION",
     re.compile(r'^"Unknown condition [a-z0-9.-]+(/[A-Za-z0-9/_-]+)?:(aud|sub|amr) for action sts:AssumeRoleWithWebIdentity"$'),
     "<issuer>:aud, :sub and :amr are the condition keys IAM documents for an OIDC identity provider "
     "(IAM user guide, condition keys for OIDC federation); parliament has no provider-named keys"),
)


def _kind_rule(finding: Finding) -> str | None:
    return next((reason for kind, issue, detail, reason in _KIND_RULES
                 if finding.policy.kind == kind and finding.issue == issue and detail.match(finding.detail)), None)

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_DEPENDENCY_FREE = re.compile(r"^(\*|[0-9]{12}|arn:aws[a-z-]*:iam::[0-9]{12}:root)$")


class IamLintInputError(ToolError):
    """A policy the lint cannot read (an untyped reference, an unknown attribute): one line."""


@dataclass(frozen=True)
class Policy:
    stack_id: str
    address: str  # Terraform address, e.g. aws_kms_key.ebs-key_key_0A1B2C3D
    construct_path: str
    kind: str  # identity, trust or resource
    text: str  # as synthesized, with ${...} references


@dataclass(frozen=True)
class Finding:
    policy: Policy
    sid: str  # the statement's Sid, or "#<index>" without one
    issue: str
    detail: str

    def line(self) -> str:
        return (f"{self.issue} {self.policy.stack_id}: {self.policy.construct_path} statement {self.sid}: {self.detail}")


@dataclass(frozen=True)
class LintResult:
    failed: tuple[Finding, ...]
    accepted: tuple[tuple[Finding, str], ...]
    used_keys: frozenset[Hashable]


@dataclass(frozen=True)
class Placement:
    """Where placeholders put the policies: the environment's partition, region and account."""

    region: str
    account: str = _ACCOUNT
    partition: str = "aws"


def policies(stack_id: str, stack_json: Mapping) -> Iterator[Policy]:
    for resource_type, name, body, path in resources(stack_json):
        for attribute, value in body.items():
            if not (isinstance(value, str) and '"Statement"' in value):
                continue
            kind = POLICY_ATTRIBUTES.get((resource_type, attribute))
            if kind is None:
                raise IamLintInputError(
                    f"{stack_id}: {resource_type}.{name}.{attribute} holds a policy of no known kind; "
                    "add it to POLICY_ATTRIBUTES in vault_platform/ops/iam_lint.py")
            yield Policy(stack_id, f"{resource_type}.{name}", path, kind, value)


def _literal_names(stack_json: Mapping) -> dict[tuple[str, str], str]:
    """(type, resource name) -> the literal name AWS gives it (name or bucket)."""
    names = {}
    for resource_type, name, body, _ in resources(stack_json):
        literal = body.get("name") or body.get("bucket")
        if isinstance(literal, str) and "${" not in literal:
            names[(resource_type, name)] = literal
    return names


def resolve(text: str, stack_id: str, stack_json: Mapping, where: Placement) -> str:
    """The policy with each ${...} replaced by its typed placeholder."""
    names = _literal_names(stack_json)

    def placeholder(resource_type: str, name: str, attribute: str, expression: str) -> str:
        template = PLACEHOLDERS.get((resource_type, attribute))
        if template is None:
            raise IamLintInputError(
                f"{stack_id}: ${{{expression}}} has no typed placeholder; add ({resource_type!r}, {attribute!r}) "
                "with the ARN format of the AWS Service Authorization Reference to PLACEHOLDERS in vault_platform/ops/iam_lint.py")
        return template.format(partition=where.partition, region=where.region, account=where.account,
                               name=names.get((resource_type, name), name))

    def reference(expression: str) -> str:
        replace = re.fullmatch(r'replace\((.+), "([^"]*)", "([^"]*)"\)', expression)
        if replace:
            return reference(replace.group(1)).replace(replace.group(2), replace.group(3))
        remote = re.fullmatch(r"data\.terraform_remote_state\.[^.]+\.outputs\.cross-stack-output-(.+)", expression)
        if remote:  # cdktf names the output <type><construct id><attribute>
            output = remote.group(1)
            for resource_type, attribute in PLACEHOLDERS:
                if output.startswith(resource_type) and output.endswith(attribute.replace(".", "")):
                    return placeholder(resource_type, output, attribute, expression)
            raise IamLintInputError(f"{stack_id}: ${{{expression}}} is an earlier stack's output of no typed placeholder; "
                                    "add its (type, attribute) to PLACEHOLDERS in vault_platform/ops/iam_lint.py")
        parts = re.fullmatch(r"(?:data\.)?([a-z0-9_]+)\.([^.]+)\.(.+)", expression)
        if not parts:
            raise IamLintInputError(f"{stack_id}: ${{{expression}}} is no reference the lint can type; "
                                    "write the policy with plain resource references")
        return placeholder(parts.group(1), parts.group(2), parts.group(3), expression)

    return _REFERENCE.sub(lambda match: reference(match.group(1)), text)


def _statements(text: str) -> list[dict]:
    statements = json.loads(text)["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _sid(statement: Mapping, index: int) -> str:
    return str(statement.get("Sid") or f"#{index}")


def parliament_findings(policy: Policy, resolved: str, where: Placement) -> Iterator[Finding]:
    """parliament on each statement alone, so every finding belongs to one Sid. A trust
    policy's statements name no Resource (the role is it), and parliament stops at a
    statement without one: it gets the role's ARN as its Resource, so its actions,
    conditions and principals are checked like any other statement's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources, deprecated by setuptools
        from parliament import analyze_policy_string
    owner = f"arn:{where.partition}:iam::{where.account}:role/trust-policy-owner"
    for index, statement in enumerate(_statements(resolved)):
        if policy.kind == "trust" and "Resource" not in statement and "NotResource" not in statement:
            statement = {**statement, "Resource": owner}
        single = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        for found in analyze_policy_string(single).findings:
            yield Finding(policy, _sid(statement, index), found.issue, json.dumps(found.detail, sort_keys=True))


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def coverage_findings(policy: Policy, resolved: str) -> Iterator[Finding]:
    """Actions whose every resource type the statement's ARNs miss (check 2)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from parliament import expand_action, is_arn_match
        from parliament.statement import get_arn_format, get_privilege_info
    for index, statement in enumerate(_statements(resolved)):
        resources = _as_list(statement.get("Resource", []))
        if statement.get("Effect") != "Allow" or not resources or "*" in resources:
            continue
        for action in _as_list(statement.get("Action", [])):
            for expanded in expand_action(action, raise_exceptions=False):
                info = get_privilege_info(expanded["service"], expanded["action"])
                types = [t["resource_type"] for t in info["resource_types"] if t["resource_type"]]
                formats = [(t.rstrip("*"), get_arn_format(t.rstrip("*"), info["service_resources"])) for t in types]
                if formats and not any(is_arn_match(t, f, r) for t, f in formats for r in resources):
                    yield Finding(policy, _sid(statement, index), "RESOURCE_NOT_COVERED",
                                  f"{expanded['service']}:{expanded['action']} is authorized on "
                                  f"{' or '.join(sorted({f for _, f in formats}))}, which Resource does not name")


def _unquoted(policy: Policy) -> str:
    """The policy as it is written, with quotes inside a reference (function arguments) made
    single, so the JSON parses."""
    return _REFERENCE.sub(lambda match: match.group(0).replace('"', "'"), policy.text)


def principal_findings(policy: Policy) -> Iterator[Finding]:
    """Principals a fresh account has before this policy is created (check 3). Not acceptable
    by a reason: AWS refuses such a policy outright."""
    if policy.kind == "identity":
        return
    for index, statement in enumerate(_statements(_unquoted(policy))):
        principal = statement.get("Principal", {})
        entries = [("AWS", principal)] if principal == "*" else [
            (kind, value) for kind, values in principal.items() if kind != "Service" for value in _as_list(values)]
        for kind, value in entries:
            if _exists_first(value):
                continue
            role = value.rsplit("/", 1)[-1]
            fix = (f"{role} is a service-linked role a new account lacks until the service first creates it: match it "
                   "with aws:PrincipalArn under Principal '*' and kms:CallerAccount (stacks/base.py ebs_key)"
                   if "/aws-service-role/" in value else
                   "reference the principal's resource (its arn attribute), so Terraform creates it first")
            yield Finding(policy, _sid(statement, index), "PRINCIPAL_MAY_NOT_EXIST",
                          f"{kind} principal {value} may not exist when the policy is created; fix: {fix}")


SOURCE_KEYS = ("aws:SourceAccount", "aws:SourceArn")
UNACCEPTABLE = ("PRINCIPAL_MAY_NOT_EXIST", "CONFUSED_DEPUTY", "READ_ONLY_ROLE_WRITES", "READ_ONLY_ROLE_UNSCOPED")
READ_LEVELS = ("List", "Read")


def read_only_construct_ids() -> tuple[str, ...]:
    """The construct ids of the roles their add-ons declare read-only (stacks/addon_roles.py builds them)."""
    from vault_platform.addons import registry, with_irsa

    return tuple(addon.irsa.construct_id for addon in with_irsa(registry().values()) if addon.read_only)


def read_only_findings(policy: Policy, read_only_ids: tuple[str, ...]) -> Iterator[Finding]:
    """Check 6: a read-only role's statements, action by action, against AWS's access levels."""
    if policy.kind != "identity" or not any(f"/{cid}/" in f"/{policy.construct_path}/" for cid in read_only_ids):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from parliament import expand_action, iam_definition
    privileges = {(service["prefix"], privilege["privilege"]): privilege
                  for service in iam_definition for privilege in service["privileges"]}
    for index, statement in enumerate(_statements(policy.text)):
        if statement.get("Effect") != "Allow":
            continue
        sid = _sid(statement, index)
        wildcard = "*" in _as_list(statement.get("Resource", []))
        for action in _as_list(statement.get("Action", [])):
            for expanded in expand_action(action, raise_exceptions=False) or ():
                privilege = privileges.get((expanded["service"], expanded["action"]), {})
                level = privilege.get("access_level")
                name = f"{expanded['service']}:{expanded['action']}"
                if level not in READ_LEVELS:
                    yield Finding(policy, sid, "READ_ONLY_ROLE_WRITES",
                                  f"grants {name} (access level {level}) to a role its add-on declares read-only; "
                                  "fix: drop the action, or the add-on's read_only")
                scoped = any(t.get("resource_type") for t in privilege.get("resource_types", ()))
                if wildcard and scoped:
                    yield Finding(policy, sid, "READ_ONLY_ROLE_UNSCOPED",
                                  f"grants {name} on Resource \"*\" though AWS scopes it to resources; "
                                  "fix: name the platform's resources")


def confused_deputy_findings(policy: Policy) -> Iterator[Finding]:
    """Service trust statements without the source conditions their service documents (check 4).
    Not acceptable by a reason: the exception is the service's row in constructs/policy.py."""
    from vault_platform.constructs.policy import SOURCE_CONDITIONS_DOCUMENTED, SOURCE_CONDITIONS_NOT_DOCUMENTED

    if policy.kind != "trust":
        return
    for index, statement in enumerate(_statements(_unquoted(policy))):
        principal = statement.get("Principal", {})
        if statement.get("Effect") != "Allow" or not isinstance(principal, dict):
            continue
        keys = {key for operator in (statement.get("Condition") or {}).values() for key in operator}
        for service in _as_list(principal.get("Service", [])):
            if service in SOURCE_CONDITIONS_NOT_DOCUMENTED:
                continue
            if service not in SOURCE_CONDITIONS_DOCUMENTED:
                yield Finding(policy, _sid(statement, index), "CONFUSED_DEPUTY",
                              f"service principal {service} assumes this role and constructs/policy.py does not say whether "
                              "it documents aws:SourceAccount/aws:SourceArn; fix: read its confused-deputy page and add a "
                              "row to SOURCE_CONDITIONS_DOCUMENTED (then set both keys) or SOURCE_CONDITIONS_NOT_DOCUMENTED")
                continue
            missing = [key for key in SOURCE_KEYS if key not in keys]
            if missing:
                yield Finding(policy, _sid(statement, index), "CONFUSED_DEPUTY",
                              f"service principal {service} may assume this role without {' and '.join(missing)}, which "
                              f"the service documents ({SOURCE_CONDITIONS_DOCUMENTED[service].split(' ')[0]}); fix: "
                              "service_assume_role_policy(service, source_account=..., source_arn=...)")


SECRET_READ = "secretsmanager:GetSecretValue"
FLUX_ROOT = Path(__file__).resolve().parents[2] / "flux"


def flux_reads_secrets_manager(flux_root: Path = FLUX_ROOT) -> bool:
    """True when a manifest under flux_root declares an External Secrets store on AWS Secrets Manager."""
    import yaml

    for path in sorted(flux_root.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not isinstance(document, dict) or document.get("kind") not in ("SecretStore", "ClusterSecretStore"):
                continue
            aws = ((document.get("spec") or {}).get("provider") or {}).get("aws") or {}
            if aws.get("service") == "SecretsManager":
                return True
    return False


def unconsumed_secret_findings(policy: Policy, consumed: bool) -> Iterator[Finding]:
    """Secrets Manager reads granted while nothing in flux/ reads Secrets Manager (check 5)."""
    import fnmatch

    if policy.kind != "identity" or consumed:
        return
    for index, statement in enumerate(_statements(_unquoted(policy))):
        actions = _as_list(statement.get("Action", []))
        if statement.get("Effect") == "Allow" and any(fnmatch.fnmatch(SECRET_READ, a) for a in actions):
            yield Finding(policy, _sid(statement, index), "SECRET_GRANT_UNCONSUMED",
                          f"grants {SECRET_READ} on {statement.get('Resource')} but no manifest under flux/ reads AWS "
                          "Secrets Manager; fix: drop the grant, or add the store that reads it")


KEY_USE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
           "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant")
_RESOURCE_REFERENCE = re.compile(r"\$\{(?:(data\.terraform_remote_state\.[^.}]+\.outputs\.[^}]+)|([a-z0-9_]+)\.([^.}]+)(?:\.[^}]*)?)\}")
_REMOTE_STATE = re.compile(r"data\.terraform_remote_state\.cross-stack-reference-input-([^.]+)\.outputs\.(.+)")

Address = tuple[str, str, str]  # (stack id, resource type, resource name)


def flux_variables(flux_root: Path = FLUX_ROOT) -> frozenset[str]:
    """Every ${VAR} a manifest under flux_root reads (Flux's postBuild substitution), by the
    grammar the platform stack's contract check uses (gitops/substitution.py)."""
    from vault_platform.gitops.substitution import variable_names

    return frozenset(name for path in sorted(flux_root.rglob("*.yaml")) for name in variable_names(path.read_text()))


class _References:
    """What each resource of an environment refers to, across stacks: an earlier stack's
    output (cdktf's cross-stack-output-...) is followed to the resource it exports."""

    def __init__(self, stacks: Mapping[str, Mapping]) -> None:
        self.stacks = stacks
        self.bodies: dict[Address, dict] = {(sid, rtype, name): body for sid, stack in stacks.items()
                                            for rtype, name, body, _ in resources(stack)}
        self._of: dict[Address, set[Address]] = {}

    def of_text(self, stack_id: str, text: str) -> set[Address]:
        found: set[Address] = set()
        for remote, rtype, name in _RESOURCE_REFERENCE.findall(text):
            if rtype:
                found.add((stack_id, rtype, name))
                continue
            parts = _REMOTE_STATE.fullmatch(remote)
            if not parts:
                continue
            # A stack id is "<environment>-<stack>" except in the default environment.
            source = next((sid for sid in self.stacks if sid == parts.group(1) or sid.endswith(f"-{parts.group(1)}")), None)
            output = ((self.stacks.get(source) or {}).get("output") or {}).get(parts.group(2)) or {}
            if source is not None and isinstance(output.get("value"), str):
                found |= self.of_text(source, output["value"])
        return found

    def of(self, address: Address) -> set[Address]:
        if address not in self._of:
            body = {k: v for k, v in self.bodies[address].items() if k not in ("//", "depends_on", "lifecycle", "provider")}
            self._of[address] = self.of_text(address[0], json.dumps(body))
        return self._of[address]


def _grants_key_use(statement: Mapping) -> bool:
    import fnmatch

    actions = _as_list(statement.get("Action", []))
    return statement.get("Effect") == "Allow" and any(fnmatch.fnmatch(use, a) for use in KEY_USE for a in actions)


def key_grants(stacks: Mapping[str, Mapping], refs: _References) -> Iterator[tuple[Policy, str, Address, Address]]:
    """(policy, Sid, key, role) of every statement that lets a role of the environment use
    one of its keys: an identity policy's Resource naming the key, or a key policy's AWS
    principal naming the role."""
    for stack_id, stack_json in stacks.items():
        for policy in policies(stack_id, stack_json):
            if policy.kind not in ("identity", "resource"):
                continue
            rtype, name = policy.address.split(".", 1)
            body = refs.bodies[(stack_id, rtype, name)]
            for index, statement in enumerate(_statements(_unquoted(policy))):
                if not _grants_key_use(statement):
                    continue
                if policy.kind == "identity" and rtype == "aws_iam_role_policy":
                    roles = [a for a in refs.of_text(stack_id, json.dumps(body.get("role"))) if a[1] == "aws_iam_role"]
                    keys = [a for a in refs.of_text(stack_id, json.dumps(statement.get("Resource")).replace("'", '"'))
                            if a[1] == "aws_kms_key"]
                elif policy.kind == "resource" and rtype == "aws_kms_key":
                    principal = statement.get("Principal")
                    aws = principal.get("AWS") if isinstance(principal, dict) else None
                    roles = [a for a in refs.of_text(stack_id, json.dumps(aws)) if a[1] == "aws_iam_role"]
                    keys = [(stack_id, rtype, name)]
                else:
                    continue
                for key in keys:
                    for role in roles:
                        yield policy, _sid(statement, index), key, role


def _consumed(key: Address, role: Address, refs: _References, variables: frozenset[str]) -> bool:
    naming = {address for address in refs.bodies if key in refs.of(address)}
    for address in naming:
        stack_id, rtype, name = address
        if rtype == "kubernetes_config_map_v1":
            data = refs.bodies[address].get("data") or {}
            if any(var in variables and key in refs.of_text(stack_id, json.dumps(value)) for var, value in data.items()):
                return True
        elif rtype.startswith("kubernetes_"):
            return True
    # An AWS resource that names the key (and what it configures: a bucket's encryption
    # names its bucket), named by the role or by the role's own policies.
    touched = {a for a in naming if not a[1].startswith(("aws_iam_", "aws_kms_", "kubernetes_"))}
    touched |= {b for a in touched for b in refs.of(a) if not b[1].startswith(("aws_iam_", "aws_kms_"))}
    role_policies = [a for a in refs.bodies if a[1] == "aws_iam_role_policy" and role in refs.of(a)]
    granted = {b for a in role_policies for b in refs.of(a)}
    return any(role in refs.of(a) for a in touched) or bool(touched & granted)


def unconsumed_key_findings(stacks: Mapping[str, Mapping], variables: frozenset[str]) -> Iterator[Finding]:
    """Key grants to a role whose key never reaches what the role runs (check 7)."""
    refs = _References(stacks)
    for policy, sid, key, role in key_grants(stacks, refs):
        if not _consumed(key, role, refs, variables):
            yield Finding(policy, sid, "KEY_GRANT_UNCONSUMED",
                          f"lets {role[2]} use {key[1]}.{key[2]}, which no platform var read under flux/, no Kubernetes "
                          "object of the platform and no AWS resource that role uses names; fix: drop the grant, or "
                          "hand the key to what uses it")


def _exists_first(value: str) -> bool:
    if re.fullmatch(r"\$\{[^}]*\}", value):
        return True  # a reference: created first (this stack: the reference orders it) or before (an earlier stack)
    account_only = re.sub(r"\$\{data\.aws_caller_identity\.[^.}]+\.account_id\}", _ACCOUNT, value)
    return bool(_DEPENDENCY_FREE.match(account_only))


def lint_stacks(stacks: Mapping[str, Mapping], where: Placement,
                accepted: Mapping[Hashable, tuple[str, str]] | None = None,
                secrets_consumed: bool | None = None, flux_vars: frozenset[str] | None = None) -> LintResult:
    """stacks: stack id -> synthesized JSON, of one environment. secrets_consumed: whether
    flux/ reads Secrets Manager; flux_vars: the ${VAR}s flux/ reads (default: read the tree)."""
    registry = collect("PARLIAMENT_ACCEPTED") if accepted is None else accepted
    consumed = flux_reads_secrets_manager() if secrets_consumed is None else secrets_consumed
    findings: list[Finding] = list(unconsumed_key_findings(stacks, flux_variables() if flux_vars is None else flux_vars))
    read_only_ids = read_only_construct_ids()
    for stack_id, stack_json in stacks.items():
        for policy in policies(stack_id, stack_json):
            resolved = resolve(policy.text, stack_id, stack_json, where)
            # dict.fromkeys: parliament's wildcard expansion repeats actions, so findings too.
            findings += dict.fromkeys([*parliament_findings(policy, resolved, where), *coverage_findings(policy, resolved),
                                       *principal_findings(policy), *confused_deputy_findings(policy),
                                       *unconsumed_secret_findings(policy, consumed),
                                       *read_only_findings(policy, read_only_ids)])
    # No reason excuses a principal that may not exist: AWS refuses the policy until it does;
    # nor a missing confused-deputy condition: the service's row in constructs/policy.py is the place.
    sorted_out = triage(findings, registry, standing=_kind_rule,
                        keys=lambda f: [] if f.issue in UNACCEPTABLE else [(f.issue, f.sid)])
    return LintResult(sorted_out.failed, sorted_out.accepted, sorted_out.used)


def placement_of(env: EnvironmentConfig) -> Placement:
    return Placement(region=env.region, account=env.account_id or _ACCOUNT, partition=env.partition)


def report_lines(result: LintResult, *, list_accepted: bool = False) -> list[str]:
    lines = [f"IAM lint (parliament {PARLIAMENT_VERSION}): {len(result.failed)} failed, "
             f"{len(result.accepted)} accepted with a reason" + ("" if list_accepted or not result.accepted else
                                                              " (--list-accepted, or make iam-lint LIST=1, shows them)")]
    if list_accepted:
        for finding, reason in result.accepted:
            lines.append(f"  accepted {finding.line()}")
            lines.append(f"           because: {reason}")
    for finding in result.failed:
        lines.append(f"  FAILED {finding.line()}")
        if finding.issue not in UNACCEPTABLE:
            lines.append(f"         fix the statement, or add {(finding.issue, finding.sid)!r}: \"<reason>\" to "
                         "PARLIAMENT_ACCEPTED in the module that writes it")
    return lines


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    from vault_platform.config import load_environment
    from vault_platform.config.load import DEFAULT_ENVIRONMENT
    from vault_platform.ops.plan import synthesize_into

    parser = OneLineParser(prog="python -m vault_platform.ops.iam_lint", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default=os.environ.get("VAULT_PLATFORM_ENV") or DEFAULT_ENVIRONMENT)
    parser.add_argument("--list-accepted", action="store_true", help="also list each accepted finding with its reason")
    args = parser.parse_args(argv)
    env = load_environment(args.env)
    with tempfile.TemporaryDirectory(prefix="vault-platform-iam-") as name:
        ids = synthesize_into(args.env, Path(name))
        stacks = {s: json.loads((Path(name) / "stacks" / s / "cdk.tf.json").read_text()) for s in ids}
    result = lint_stacks(stacks, placement_of(env))
    print("\n".join(report_lines(result, list_accepted=args.list_accepted)))
    return 0 if not result.failed else 1


if __name__ == "__main__":
    sys.exit(main())
