"""Moving a resource to a new construct id without Terraform destroying the old one.

A resource's Terraform address is its type plus the logical id cdktf derives from its
construct path. When an id changes (here: ids that were list positions and are now the
thing they name), ``moved_from`` writes a Terraform ``moved`` block from the old address,
so state holding it plans as a move, not destroy and create. Terraform ignores a moved
block whose old address is not in state, so a fresh environment is unaffected.

The blocks are the stack's own top-level ``moved`` list (an override of the stack), not
cdktf's ``move_from_id``: with that, cdktf's synth ran ``terraform version`` once per stack
holding a move (its check that Terraform is >= 1.5, which the moves need), so the synth
needed Terraform on the machine and spent 0.07 s of a default synth spawning it. A
Terraform too old for moved blocks (before 1.1) refuses them itself when it plans; the
project asks for 1.10 or later anyway (README, binaries.TERRAFORM_FIX).
"""

from __future__ import annotations

import functools
import hashlib
import re
import weakref

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


def stack_of(scope: Construct) -> TerraformStack:
    """The stack ``scope`` is in: known in Python for a stack, or for one of ours that records
    its own (``self.stack``), else asked of cdktf (round trips, as in path_below_stack)."""
    if isinstance(scope, TerraformStack):
        return scope
    known = getattr(scope, "stack", None)
    return known if isinstance(known, TerraformStack) else TerraformStack.of(scope)


@functools.lru_cache(maxsize=None)
def _resource_type(resource_class: type[TerraformResource]) -> str:
    return str(resource_class.TF_RESOURCE_TYPE)  # a static read from Node: once per class


# Each stack's moved blocks so far, in the order they were recorded.
_MOVED: weakref.WeakKeyDictionary[TerraformStack, list[dict[str, str]]] = weakref.WeakKeyDictionary()


def moved_from(resource: TerraformResource, old_id: str, *, new_id: str, parent_path: str, stack: TerraformStack) -> None:
    """Record that ``resource``, construct id ``new_id`` in a parent whose path below
    ``stack`` is ``parent_path`` (``path_below_stack``), was created under id ``old_id`` there."""
    resource_type = _resource_type(type(resource))

    def address(construct_id: str) -> str:
        return f"{resource_type}.{logical_id([*parent_path.split('/'), construct_id] if parent_path else [construct_id])}"

    moves = _MOVED.setdefault(stack, [])
    moves.append({"from": address(old_id), "to": address(new_id)})
    stack.add_override("moved", list(moves))  # the whole list: an override replaces its value
