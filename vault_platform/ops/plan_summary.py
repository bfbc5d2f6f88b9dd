"""Turn ``terraform show -json <plan>`` into what a reviewer reads: counts per action and
resource type, and the replacements and deletions of protected (stateful) resources called
out first, because those are the changes that lose data."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

CREATE, UPDATE, REPLACE, DELETE = "create", "update", "replace", "delete"
ACTIONS = (CREATE, UPDATE, REPLACE, DELETE)


def action_of(actions: list[str]) -> str | None:
    """Terraform's action list as one word; None for no-op and data-source reads."""
    if "delete" in actions and "create" in actions:
        return REPLACE
    for name in (CREATE, UPDATE, DELETE):
        if actions == [name]:
            return name
    return None


def protected_addresses(stack_json: dict) -> frozenset[str]:
    """Resources whose lifecycle comes from constructs/protection.py: they carry a
    ``prevent_destroy`` key (true normally, false in an --allow-destroy synth)."""
    return frozenset(
        f"{rtype}.{name}"
        for rtype, block in stack_json.get("resource", {}).items()
        for name, body in block.items()
        if "prevent_destroy" in body.get("lifecycle", {})
    )


@dataclass(frozen=True)
class Change:
    address: str
    resource_type: str
    action: str
    why: str = ""  # for a replacement or deletion: what Terraform says causes it (change_reason)


# Terraform's action_reason values (`terraform show -json`, "resource_changes"), said for people.
_REASONS = {
    "replace_because_tainted": "the object is tainted",
    "replace_by_request": "-replace was requested",
    "replace_by_triggers": "a replace_triggered_by reference changed",
    "delete_because_no_resource_config": "no longer in the configuration (removed, or its address changed without a move)",
    "delete_because_no_module": "its module is no longer in the configuration",
    "delete_because_wrong_repetition": "count/for_each was added or removed",
    "delete_because_count_index": "its count index is out of range now",
    "delete_because_each_key": "its for_each key is gone",
    "delete_because_no_move_target": "a moved block points at an address that does not exist",
}


def change_reason(resource: dict) -> str:
    """Why a replacement or deletion happens: Terraform's action_reason, and for a replacement
    the attributes that cannot change in place (replace_paths)."""
    paths = [".".join(str(step) for step in path) for path in resource["change"].get("replace_paths") or []]
    reason = _REASONS.get(resource.get("action_reason", ""), "")
    if paths:
        forced = f"{', '.join(paths)} cannot change in place"
        return f"{reason}; {forced}" if reason else forced
    return reason


@dataclass(frozen=True)
class StackPlan:
    stack_id: str
    status: str  # "planned", "skipped" or "failed"
    reason: str = ""  # why skipped or failed
    changes: tuple[Change, ...] = ()
    protected: frozenset[str] = field(default_factory=frozenset)
    note: str = ""  # e.g. "applied to the emulator for the stacks after it"

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)

    def by_type(self) -> dict[str, Counter[str]]:
        table: dict[str, Counter[str]] = {}
        for change in self.changes:
            table.setdefault(change.resource_type, Counter())[change.action] += 1
        return dict(sorted(table.items()))

    def dangerous(self) -> list[Change]:
        """Replacements and deletions of protected resources."""
        return [c for c in self.changes if c.action in (REPLACE, DELETE) and c.address in self.protected]

    def one_line(self) -> str:
        if self.status != "planned":
            return f"{self.stack_id}: {self.status.upper()} - {self.reason}"
        counts = ", ".join(f"{self.count(action)} to {action}" for action in ACTIONS)
        return f"{self.stack_id}: {counts}"


def summarize(stack_id: str, plan_json: dict, protected: frozenset[str] = frozenset()) -> StackPlan:
    changes = []
    for resource in plan_json.get("resource_changes", []):
        if resource.get("mode") != "managed":
            continue
        action = action_of(resource["change"]["actions"])
        if action is not None:
            why = change_reason(resource) if action in (REPLACE, DELETE) else ""
            changes.append(Change(resource["address"], resource["type"], action, why))
    return StackPlan(stack_id, "planned", changes=tuple(changes), protected=protected)


def render_markdown(plans: list[StackPlan], *, title: str, flow_changes: list[str] | None = None,
                    flow_base: str = "", object_changes: list[str] | None = None,
                    trusted_identities: list[str] | None = None, notices: tuple[str, ...] = ()) -> str:
    """flow_changes: lines of vault_platform.flows.matrix.changes over every cluster's flows
    (and the checker's problems), shown as their own section; None leaves it out.
    flow_base: where the matrix compared with came from, said under the heading.
    trusted_identities: federated_trust.describe() of the environment, said first: who
    outside the account can act in it is what a reviewer must see before any count.
    notices: Kubernetes versions in EKS extended support (config/validate.py kubernetes_notices)."""
    lines = [f"# {title}", ""]
    if trusted_identities is not None:
        lines += ["## External identities this environment trusts", ""]
        lines += [f"- {line}" if not line.startswith("  ") else f"  - {line.strip()}" for line in trusted_identities]
        lines.append("")
    if notices:
        lines += ["> **Kubernetes versions in EKS extended support:**", ">"]
        lines += [f"> - {notice}" for notice in notices]
        lines.append("")
    dangerous = [(plan.stack_id, change) for plan in plans for change in plan.dangerous()]
    failed = [plan for plan in plans if plan.status == "failed"]
    if dangerous:
        lines += [f"> **Warning: {len(dangerous)} protected resource(s) would be replaced or destroyed.** "
                  "Data (keys, file systems, images, the database) is lost; approve only a deliberate teardown.", ">"]
        lines += [f"> - `{stack}`: **{change.action}** `{change.address}`" + _because(change) for stack, change in dangerous]
        lines.append("")
    if failed:
        lines += [f"> **{len(failed)} stack(s) failed to plan:** " + ", ".join(f"`{p.stack_id}`" for p in failed), ""]
    unplanned = [plan for plan in plans if plan.status == "skipped"]
    if unplanned:
        lines += [f"> **{len(unplanned)} stack(s) NOT planned: nothing of theirs is reviewed here, and the plan "
                  "command exits 1.**", ">"]
        lines += [f"> - `{plan.stack_id}`: {plan.reason}" for plan in unplanned]
        lines.append("")
    lines += ["| stack | status | create | update | replace | delete |", "|---|---|---:|---:|---:|---:|"]
    for plan in plans:
        if plan.status == "planned":
            counts = " | ".join(str(plan.count(action)) for action in ACTIONS)
        else:
            counts = " | ".join("-" for _ in ACTIONS)
        lines.append(f"| `{plan.stack_id}` | {plan.status} | {counts} |")
    lines.append("")
    for plan in plans:
        lines.append(f"## `{plan.stack_id}`")
        lines.append("")
        if plan.status != "planned":
            lines += [f"**{plan.status}**: {plan.reason}", ""]
            continue
        if plan.note:
            lines += [f"_{plan.note}_", ""]
        table = plan.by_type()
        if not table:
            lines += ["No changes.", ""]
            continue
        lines += ["| resource type | create | update | replace | delete |", "|---|---:|---:|---:|---:|"]
        for rtype, counts in table.items():
            lines.append(f"| `{rtype}` | " + " | ".join(str(counts[action]) for action in ACTIONS) + " |")
        others = [c for c in plan.changes if c.action != CREATE]
        if others:
            lines += ["", "Changes to existing resources:", ""]
            lines += [f"- **{c.action}** `{c.address}`" + (" (protected)" if c.address in plan.protected else "") + _because(c)
                      for c in others]
        lines.append("")
    if flow_changes is not None:
        lines += ["## Network flows (`make flows`)", ""]
        if flow_base:
            lines += [f"_{flow_base[0].upper()}{flow_base[1:]}._", ""]
        lines += [f"- {line}" for line in flow_changes] or ["No change to the flow matrix."]
        lines.append("")
    if object_changes is not None:
        # vault_platform/rendering/diff.py: what helm upgrade will do to each cluster's objects.
        lines += ["## Kubernetes objects (charts rendered by Helm v4, `make render`)", ""]
        lines += [f"- {line}" for line in object_changes] or ["No change to any rendered object."]
        lines.append("")
    return "\n".join(lines)


def _because(change: Change) -> str:
    return f": {change.why}" if change.why else ""
