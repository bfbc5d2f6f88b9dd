"""How every command ends on an error it expects: `python main.py`, `python -m vault_platform.*`.

One line on stderr, ``error: <message>``, and no traceback. The message is a ConfigError's
``<field> = <value>: <problem>; fix: <fix>`` or a ToolError's one line with its fix.

Exit codes, the same for every command:

- 0 (EXIT_OK): done, and every check it ran passed.
- 1 (EXIT_CHECK_FAILED): it ran to the end and a check failed (a finding without a reason, a
  failed plan, a blocked flow, an unexplained re-plan); its report says which.
- 2 (EXIT_CANNOT_RUN): it did not do its job: bad input (ConfigError, a bad command line), a
  program it needs is missing, or a tool or step it runs failed (ToolError).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, ParamSpec

from vault_platform.errors import ConfigError, ToolError

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_CANNOT_RUN = 2

P = ParamSpec("P")


def print_error(message: object) -> int:
    """The one error ending: ``error: <message>`` on stderr; returns EXIT_CANNOT_RUN."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_CANNOT_RUN


def print_findings(findings: Sequence[str]) -> int:
    """A check command's ending: each finding on its own line on stdout; EXIT_CHECK_FAILED
    when there is one, else EXIT_OK."""
    for line in findings:
        print(line)
    return EXIT_CHECK_FAILED if findings else EXIT_OK


def one_line_errors(main: Callable[P, int]) -> Callable[P, int]:
    """A command's ``main``, ending on ConfigError or ToolError with one line and exit 2.
    Anything else is a bug and keeps its traceback."""

    @functools.wraps(main)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except (ConfigError, ToolError) as error:
            return print_error(error)

    return run


class OneLineParser(argparse.ArgumentParser):
    """argparse's refusal as one line like every other (instead of its usage block), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CANNOT_RUN, f"error: command line: {message}; fix: see `{self.prog} --help`\n")
