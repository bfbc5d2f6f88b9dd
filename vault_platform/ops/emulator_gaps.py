"""What the local emulator (moto 5.2.5) cannot do, in one place, with the reason.

Measured on this project's stacks (see the README's "Plan review and the local emulator").
The real configuration is never changed to please the emulator: these resources are
still planned everywhere; only an apply *on the emulator* leaves them out, from a
separate copy of the stack JSON (``emulator_copy``), together with everything that
references them. Re-measured on every `make test`: tests/test_emulator_gaps_still_gaps.py
probes each entry on the emulator, the round trip each perpetual diff, and
tests/test_emulator.py each correction of PATCHED_ON_EMULATOR; each fails when its entry is
no longer needed.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass

# Resource types moto cannot create. Applying them fails the whole apply.
UNSUPPORTED_ON_EMULATOR: dict[str, str] = {
    "aws_ec2_client_vpn_endpoint": "not implemented by moto (HTTP 500)",
    "aws_ec2_client_vpn_network_association": "not implemented by moto (HTTP 500)",
    "aws_ec2_client_vpn_authorization_rule": "not implemented by moto (HTTP 500)",
    "aws_ec2_client_vpn_route": "not implemented by moto (HTTP 500)",
    "aws_eks_addon": "not implemented by moto (404)",
    "aws_eks_access_entry": "not implemented by moto (404)",
    "aws_eks_access_policy_association": "not implemented by moto (404)",
    "aws_efs_backup_policy": "not implemented by moto (500)",
    # moto creates every zone as a public one, so it cannot associate a VPC with it.
    "aws_route53_zone_association": "moto cannot associate a VPC with its (always public) zone",
}

# Data sources whose read moto cannot answer: a plan that reads one fails. Left out like the
# resource types above, with everything that refers to them.
UNSUPPORTED_DATA_ON_EMULATOR: dict[str, str] = {
    "aws_eks_addon_version": "moto has no DescribeAddonVersions (404); only aws_eks_addon reads it, itself left out",
}

# Changes moto cannot apply: planned on the emulator (tests/test_emulator_version_bump.py
# proves a Kubernetes version bump plans as in-place updates), never applied there.
UNAPPLIABLE_ON_EMULATOR: dict[str, str] = {
    "aws_eks_cluster.version": "moto has no UpdateClusterVersion (404): a Kubernetes version bump cannot be applied",
    "aws_eks_node_group.version": "moto has no UpdateNodegroupVersion (404): node groups cannot follow a bump",
}

# Destroy never completes on the emulator: these are forgotten (`terraform state rm`) before
# the destroy of an emulator deployment; moto's memory is thrown away with it anyway.
FORGOTTEN_BEFORE_DESTROY: dict[str, str] = {
    "aws_efs_file_system_policy": "moto answers DeleteFileSystemPolicy with HTTP 500 and still returns the "
                                  "policy, so the provider waits for its deletion for ever",
}

# Corrected in the emulator process itself (vault_platform/ops/emulator_patches.py), so the
# resources that depend on them are applied; tests/test_emulator.py fails without each.
PATCHED_ON_EMULATOR: dict[str, str] = {
    "aws_eks_cluster.identity.oidc.issuer": "moto 5.2.5 gives every cluster of a process the same issuer, so the "
                                            "second cluster's IAM OIDC provider fails with EntityAlreadyExists",
    "aws_eks_cluster.vpc_config.cluster_security_group_id": "moto 5.2.5 creates no cluster security group, so every "
                                                            "rule on or from it failed (InvalidGroup.NotFound); the "
                                                            "emulator now makes one per cluster as EKS does",
    "aws_vpc_security_group_ingress_rule.description": "moto 5.2.5 answers DescribeSecurityGroupRules without the "
                                                       "description of a rule that references a group, so each "
                                                       "such rule showed an update on every re-plan",
}

# Applied on the emulator although moto gets it wrong, because later stacks read it:
# moto creates the private zone as a *public* one and drops its vpc block. The zone's own
# lifecycle.ignore_changes = ["vpc"] (constructs/dns.py, there for the cross-stack
# association on AWS) hides that, so the re-plan stays clean. Kept here so the gap is on
# record; nothing is filtered for it.
APPLIED_WITH_GAPS: dict[str, str] = {
    "aws_route53_zone": "moto makes a private zone public (no vpc block); harmless for the demo",
}

# Attributes that show a diff on every plan against the emulator but not on AWS: moto
# drops or invents them. The re-plan after a deploy tolerates exactly these (type ->
# attribute paths); the round-trip test asserts that each is still seen, so a fixed moto
# shrinks the list instead of hiding real drift.
PERPETUAL_DIFFS: dict[str, dict[str, str]] = {
    "aws_eks_cluster": {"access_config": "moto drops access_config, so Terraform proposes a replacement"},
    "aws_eks_node_group": {
        "remote_access": "moto invents a remote_access block (forces a replacement)",
        "update_config": "moto does not store update_config",
    },
    "aws_launch_template": {
        "tag_specifications": "moto adds a launch-template tag specification from the provider's default tags",
    },
    "aws_db_instance": {
        "performance_insights_enabled": "moto does not store Performance Insights settings",
        "performance_insights_kms_key_id": "moto does not store Performance Insights settings",
    },
    "aws_db_parameter_group": {"parameter": "moto does not return the rds.force_ssl parameter"},
}
# Not listed although EMULATOR.md measured it, because these stacks do not hit it:
# aws_kms_key.rotation_period_in_days (not set here). The dropped description of a
# security-group-referencing rule is corrected in the emulator (PATCHED_ON_EMULATOR).

_IDENTIFIER_TAIL = re.compile(r"[A-Za-z0-9_-]")


@dataclass(frozen=True)
class EmulatorCopy:
    stack_json: dict
    dropped: tuple[str, ...]  # addresses left out (resources, then outputs)

    @property
    def resource_count(self) -> int:
        """Managed resources an apply of the copy creates."""
        return sum(len(block) for block in self.stack_json.get("resource", {}).values())


def _references(text: str, address: str) -> bool:
    start = 0
    while (index := text.find(address, start)) != -1:
        end = index + len(address)
        before_ok = index == 0 or not _IDENTIFIER_TAIL.match(text[index - 1])
        after_ok = end == len(text) or not _IDENTIFIER_TAIL.match(text[end])
        if before_ok and after_ok:
            return True
        start = end
    return False


def emulator_copy(stack_json: dict) -> EmulatorCopy:
    """A copy of a synthesized stack without the resources the emulator cannot create nor the
    data sources it cannot read, nor any resource that refers to one of them (transitively),
    nor outputs that do."""
    data = copy.deepcopy(stack_json)
    resources: dict[str, dict] = data.get("resource", {})
    sources: dict[str, dict] = data.get("data", {})
    unread = [f"data.{dtype}.{name}" for dtype, block in sources.items() for name in block
              if dtype in UNSUPPORTED_DATA_ON_EMULATOR]
    for address in unread:
        _, dtype, name = address.split(".", 2)
        sources[dtype].pop(name)
    for dtype in [t for t, block in sources.items() if not block]:
        del sources[dtype]
    if "data" in data and not sources:
        del data["data"]
    dropped = [*unread, *(f"{rtype}.{name}" for rtype, block in resources.items() for name in block
                          if rtype in UNSUPPORTED_ON_EMULATOR)]
    changed = True
    while changed:
        changed = False
        for rtype, block in resources.items():
            for name, body in block.items():
                address = f"{rtype}.{name}"
                if address in dropped:
                    continue
                text = json.dumps(body)
                if any(_references(text, gone) for gone in dropped):
                    dropped.append(address)
                    changed = True
    for address in dropped:
        if address.startswith("data."):
            continue
        rtype, name = address.split(".", 1)
        resources[rtype].pop(name, None)
    for rtype in [t for t, block in resources.items() if not block]:
        del resources[rtype]
    dropped_outputs = []
    for name, body in list(data.get("output", {}).items()):
        if any(_references(json.dumps(body), gone) for gone in dropped):
            del data["output"][name]
            dropped_outputs.append(f"output.{name}")
    return EmulatorCopy(stack_json=data, dropped=tuple(dropped + dropped_outputs))


def _empty(value: object) -> bool:
    return value is None or value == [] or value == {} or value == ""


def _differs(before: object, after: object, unknown: object) -> bool:
    """Known difference between state and plan; unknown values and null-vs-empty are not."""
    if unknown is True:
        return False
    if _empty(before) and _empty(after):
        return False
    if isinstance(after, dict) and isinstance(before, dict):
        unknown = unknown if isinstance(unknown, dict) else {}
        return any(_differs(before.get(k), v, unknown.get(k)) for k, v in after.items())
    if isinstance(after, list) and isinstance(before, list):
        if len(after) != len(before):
            return True
        unknown = unknown if isinstance(unknown, list) else [None] * len(after)
        return any(_differs(b, a, u) for b, a, u in zip(before, after, unknown + [None] * len(after)))
    return before != after


@dataclass(frozen=True)
class ReplanCheck:
    unexplained: tuple[str, ...]  # "address: what" for every change the allowlist does not cover
    seen: frozenset[tuple[str, str]]  # (type, attribute) of PERPETUAL_DIFFS that showed up


def check_replan(plan_json: dict) -> ReplanCheck:
    """Compare the plan after a deploy with PERPETUAL_DIFFS.

    Allowed: known differences in listed attributes, replacements forced by listed
    attributes, and values that become unknown because a listed replacement happens in
    the same plan (the IRSA roles follow a replaced cluster's new OIDC issuer). Anything
    else, including any create or delete, is unexplained.
    """
    unexplained: list[str] = []
    seen: set[tuple[str, str]] = set()
    cascades: list[str] = []
    allowed_replacement = False
    for resource in plan_json.get("resource_changes", []):
        if resource.get("mode") != "managed":
            continue
        change = resource["change"]
        actions, rtype, address = change["actions"], resource["type"], resource["address"]
        if actions in (["no-op"], ["read"]):
            continue
        allowed = PERPETUAL_DIFFS.get(rtype, {})
        before, after = change.get("before") or {}, change.get("after") or {}
        unknown = change.get("after_unknown") or {}
        known = [k for k in after if _differs(before.get(k), after[k], unknown.get(k))]
        for attribute in known:
            if attribute in allowed:
                seen.add((rtype, attribute))
        if "delete" in actions and "create" in actions:
            causes = sorted({path[0] for path in change.get("replace_paths") or [] if path})
            listed = [c for c in causes if c in allowed]
            seen.update((rtype, c) for c in listed)
            unlisted = [c for c in causes if c not in allowed]
            if listed and not unlisted:
                allowed_replacement = True
            elif unlisted and all(unknown.get(c) is True for c in unlisted):
                cascades.append(address)  # forced by a value another replacement makes unknown
            else:
                unexplained.append(f"{address}: replaced because of {', '.join(causes) or 'unknown'}")
        elif actions == ["update"]:
            unlisted = [k for k in known if k not in allowed]
            if unlisted:
                unexplained.append(f"{address}: update of {', '.join(unlisted)}")
            elif any(unknown.get(k) is True and not _empty(before.get(k)) for k in unknown):
                cascades.append(address)
        else:
            unexplained.append(f"{address}: {'/'.join(actions)}")
    if cascades and not allowed_replacement:
        unexplained += [f"{address}: values become unknown with no listed replacement" for address in cascades]
    return ReplanCheck(tuple(unexplained), frozenset(seen))
