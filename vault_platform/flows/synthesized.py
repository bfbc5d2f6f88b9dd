"""The synthesized stacks of one environment as the analyzer reads them: every stack's
cdk.tf.json and the dependencies cdktf recorded in manifest.json, with Terraform references
resolved to one canonical name per value, across stacks.

A cross-stack reference in a consumer reads
``${data.terraform_remote_state.cross-stack-reference-input-<stack>.outputs.<output>}``;
the producing stack's output ``<output>`` holds the real expression. Both resolve to
``<stack>:<resource type>.<name>.<attribute path>``, so a security group id means the same
thing in every stack that names it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

CROSS_STACK = re.compile(r"^\$\{data\.terraform_remote_state\.cross-stack-reference-input-([\w-]+)\.outputs\.([\w.-]+)\}$")
REFERENCE = re.compile(r"^\$\{((?:data\.)?[a-z0-9_]+\.[\w-]+)\.([\w\[\].-]+)\}$")


@dataclass(frozen=True)
class Stack:
    stack_id: str
    data: dict
    dependencies: tuple[str, ...]

    def resources(self, resource_type: str) -> Mapping[str, dict]:
        return self.data.get("resource", {}).get(resource_type, {})

    def all_resources(self) -> Iterator[tuple[str, str, dict]]:
        for resource_type, block in self.data.get("resource", {}).items():
            for name, body in block.items():
                yield resource_type, name, body


@dataclass(frozen=True)
class Synthesized:
    """All stacks of one environment, by stack id."""

    stacks: Mapping[str, Stack]

    @classmethod
    def read(cls, outdir: Path, stack_ids: tuple[str, ...] | None = None) -> Synthesized:
        manifest = json.loads((outdir / "manifest.json").read_text())
        stacks = {}
        for stack_id, entry in manifest["stacks"].items():
            if stack_ids is not None and stack_id not in stack_ids:
                continue
            data = json.loads((outdir / entry["synthesizedStackPath"]).read_text())
            stacks[stack_id] = Stack(stack_id, data, tuple(entry.get("dependencies", ())))
        return cls(stacks)

    def resolve(self, stack_id: str, value: object) -> object:
        """A literal stays as it is; a reference becomes its canonical name (see module doc).
        An expression that is neither (a function call) is returned unchanged."""
        if not isinstance(value, str) or not value.startswith("${"):
            return value
        cross = CROSS_STACK.match(value)
        if cross:
            producer, output = cross.groups()
            if producer not in self.stacks:
                return value
            produced = self.stacks[producer].data.get("output", {}).get(output, {}).get("value")
            return self.resolve(producer, produced)
        plain = REFERENCE.match(value)
        if plain:
            address, attribute = plain.groups()
            # vpc_config[0].x and vpc_config.x name the same value (cdktf writes single
            # blocks as objects, references index them).
            attribute = attribute.replace("[0]", "").replace("..", ".")
            return f"{stack_id}:{address}.{attribute}"
        return value

    def address(self, stack_id: str, resource_type: str, name: str, attribute: str = "id") -> str:
        """The canonical name of a resource's attribute, as ``resolve`` writes references to it."""
        return f"{stack_id}:{resource_type}.{name}.{attribute}"

    def dependency_closure(self, stack_id: str) -> frozenset[str]:
        """The stack and every stack it depends on, directly or not."""
        seen: set[str] = set()
        todo = [stack_id]
        while todo:
            current = todo.pop()
            if current in seen or current not in self.stacks:
                continue
            seen.add(current)
            todo.extend(self.stacks[current].dependencies)
        return frozenset(seen)
