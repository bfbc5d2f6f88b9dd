"""Moving a resource to a new construct id without Terraform destroying the old one.

A resource's Terraform address is its type plus the logical id cdktf derives from its
construct path. When an id changes (here: ids that were list positions and are now the
thing they name), ``moved_from`` writes a Terraform ``moved`` block from the old address,
so state holding it plans as a move, not destroy and create. Terraform ignores a moved
block whose old address is not in state, so a fresh environment is unaffected.
"""

from __future__ import annotations

import hashlib
import re

from cdktf import TerraformResource, TerraformStack


def logical_id(components: list[str]) -> str:
    """The logical id cdktf 0.21 gives a resource at this construct path below its stack
    (``makeUniqueId`` in cdktf's lib/private/unique.ts): the readable path without repeated
    terms, ``_``, and the first 8 hex digits of the MD5 of the full path. ("Default" counts
    nowhere and "Resource" only in the hash, as there.) tests/test_stable_addresses.py checks
    it against every address of a synthesized stack."""
    components = [component for component in components if component != "Default"]
    if len(components) == 1 and len(_allowed(components[0])) <= 255:
        return _allowed(components[0])
    readable: list[str] = []
    for component in components:
        if not readable or not readable[-1].endswith(component):
            readable.append(component)
    digest = hashlib.md5("/".join(components).encode()).hexdigest()[:8].upper()  # noqa: S324 (not security)
    human = "_".join(_allowed(part) for part in readable if part != "Resource")
    return human[:240] + "_" + digest


def _allowed(component: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "", component)


def moved_from(resource: TerraformResource, old_id: str) -> None:
    """Record that ``resource`` was created under construct id ``old_id`` (same parent)."""
    stack_path = TerraformStack.of(resource).node.path
    parent_path = resource.node.scope.node.path
    below_stack = parent_path[len(stack_path):].strip("/")
    components = [*below_stack.split("/"), old_id] if below_stack else [old_id]
    resource.move_from_id(f"{resource.terraform_resource_type}.{logical_id(components)}")
