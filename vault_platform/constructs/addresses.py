"""Moving a resource to a new construct id without Terraform destroying the old one.

A resource's Terraform address is its type plus the logical id cdktf derives from its
construct path. When an id changes (here: ids that were list positions and are now the
thing they name), ``moved_from`` writes a Terraform ``moved`` block from the old address,
so state holding it plans as a move, not destroy and create. Terraform ignores a moved
block whose old address is not in state, so a fresh environment is unaffected.
"""

from __future__ import annotations

import functools
import hashlib
import re

from cdktf import TerraformResource, TerraformStack
from constructs import Construct


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


def path_below_stack(scope: Construct, id: str) -> str:
    """The construct path, below its stack, of a construct ``id`` created in ``scope``.

    Known in Python for a construct made directly in a stack, or in one of ours that records
    its own (``self.path_below_stack``): reading it from cdktf instead costs five round trips
    to its Node process (the stack, node and path of each), which at nine moves an
    environment was an eighth of a synth's round trips (tests/test_synth_cost.py)."""
    if isinstance(scope, TerraformStack):
        return id
    parent = getattr(scope, "path_below_stack", None)
    if isinstance(parent, str):
        return f"{parent}/{id}"
    stack_path = TerraformStack.of(scope).node.path
    return f"{scope.node.path[len(stack_path):].strip('/')}/{id}".strip("/")


@functools.lru_cache(maxsize=None)
def _resource_type(resource_class: type[TerraformResource]) -> str:
    return str(resource_class.TF_RESOURCE_TYPE)  # a static read from Node: once per class


def moved_from(resource: TerraformResource, old_id: str, *, parent_path: str) -> None:
    """Record that ``resource`` was created under construct id ``old_id`` in the same parent,
    whose path below the stack is ``parent_path`` (``path_below_stack``)."""
    components = [*parent_path.split("/"), old_id] if parent_path else [old_id]
    resource.move_from_id(f"{_resource_type(type(resource))}.{logical_id(components)}")
