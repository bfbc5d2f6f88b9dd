"""The network-flow matrix of one environment: `make flows ENV=staging`, or
``python -m vault_platform.flows --env staging [--synth-dir DIR] [--save FILE] [--base FILE]``.

Synthesizes the environment (or reads --synth-dir), checks every declared flow, prints the
matrix; --save writes it as JSON, --base prints the changes from a saved one. Exit status 1
when a flow is blocked, an opening is undeclared, a stack deploys before its flows open, or
a create-time precondition AWS enforces is no edge of the Terraform graph (creation_order.py).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from vault_platform.cli import OneLineParser, one_line_errors

if TYPE_CHECKING:
    from vault_platform.config.model import EnvironmentConfig

REPO_ROOT = Path(__file__).resolve().parents[2]


def report_for(environment: str, synth_dir: Path | None = None, env: EnvironmentConfig | None = None):
    """(report, synthesized stacks) of an environment, synthesizing it into a temporary
    directory when no directory is given. env: the environment's config, when the caller
    has loaded it already (or built it in memory: ops/bench.py)."""
    from vault_platform.config import load_environment
    from vault_platform.flows.check import check, model_of
    from vault_platform.flows.synthesized import Synthesized

    env = env or load_environment(environment)
    if synth_dir is None:
        from vault_platform.app import synthesize

        with tempfile.TemporaryDirectory(prefix="flows-synth-") as scratch:
            synthesize(env, environment, scratch)
            synth = Synthesized.read(Path(scratch))
    else:
        synth = Synthesized.read(synth_dir)
    return check(model_of(synth, env, environment, REPO_ROOT), env, environment), synth


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    from vault_platform.config.load import DEFAULT_ENVIRONMENT

    parser = OneLineParser(prog="python -m vault_platform.flows", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default=os.environ.get("VAULT_PLATFORM_ENV") or DEFAULT_ENVIRONMENT)
    parser.add_argument("--synth-dir", type=Path, help="read this synthesized output instead of synthesizing")
    parser.add_argument("--save", type=Path, help="write the matrix as JSON here")
    parser.add_argument("--base", type=Path, help="a matrix saved before: print what changed since")
    args = parser.parse_args(argv)
    from vault_platform.flows.deploy_order import unreachable_at_deploy
    from vault_platform.flows.matrix import changes, matrix, render

    report, synth = report_for(args.env, args.synth_dir)
    data = matrix(report)
    print(render(data))
    late = unreachable_at_deploy(report, synth)
    for line in late:
        print(f"DEPLOY ORDER {line}")
    from vault_platform.flows.creation_order import unordered_preconditions

    unordered = unordered_preconditions(synth)
    for line in unordered:
        print(f"CREATION ORDER {line}")
    if args.base is not None:
        base = json.loads(args.base.read_text()) if args.base.is_file() else None
        print("\nChanges since the base matrix:")
        print("\n".join(f"  {line}" for line in changes(base, data)) or "  none")
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return 1 if report.problems() or late or unordered else 0


if __name__ == "__main__":
    sys.exit(main())
