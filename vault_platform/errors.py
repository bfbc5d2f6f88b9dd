"""The one error type the project raises for input a user can fix."""

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
