"""The error types the project raises: bad input a user can fix, and a tool that could not run."""

from __future__ import annotations


class ConfigError(ValueError):
    """Bad input, reported as one line: where, which field, what value, how to fix it.

    Raised before any construct is built, so a rejected input never produces half a synth.
    """

    def __init__(self, field: str, value: object, problem: str, fix: str, *, source: str = "") -> None:
        self.field = field
        self.value = value
        self.problem = problem
        self.fix = fix
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field} = {value!r}: {problem}; fix: {fix}")


class ToolError(RuntimeError):
    """A command could not do its job for a reason outside the input: a program it needs is
    missing (binaries.BinaryNotFound), a tool it runs failed, the emulator would not start.
    Each subclass's message is one line that ends with the fix; vault_platform/cli.py prints it."""
