"""Which stacks a running `cdktf deploy` has applied so far, read from its log as it grows.

The round trip re-plans (and rehearses the teardown of) each stack as soon as its own apply
has ended, while cdktf is still deploying the others: with the database's 80 s create in
one application stack, the other stacks' re-plans otherwise waited for it doing nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

# The cdktf CLI prefixes each line of a stack's Terraform output with the stack's name and
# redraws its progress with terminal escapes even under --no-color; Terraform prints "Apply
# complete!" after the apply has written its final state.
_ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
_APPLY_COMPLETE = re.compile(rb"^(\S+)\s+Apply complete! Resources: ")


class ApplyProgress:
    """Reads ``log`` from where it last stopped; ``newly_applied`` names the stacks of
    ``stacks`` whose "Apply complete!" line appeared since the last call."""

    def __init__(self, log: Path, stacks: Collection[str]) -> None:
        self._log = log
        self._stacks = set(stacks)
        self._applied: set[str] = set()
        self._offset = 0
        self._partial = b""  # a line not yet ended: the next read completes it

    def newly_applied(self) -> list[str]:
        try:
            with self._log.open("rb") as log:
                log.seek(self._offset)
                data = log.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        found = []
        for line in lines:
            match = _APPLY_COMPLETE.match(_ESCAPE.sub(b"", line).strip())
            stack_id = match.group(1).decode() if match else None
            if stack_id in self._stacks and stack_id not in self._applied:
                self._applied.add(stack_id)
                found.append(stack_id)
        return found
