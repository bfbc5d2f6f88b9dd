"""Deploy exactly the stacks named, of the environment named, in deploy order.

    python -m vault_platform.ops.deploy --env staging staging-tooling staging-application staging-vpn
    python -m vault_platform.ops.deploy --env staging --dry-run staging-tooling-platform   # check, print, run nothing
    make deploy ENV=staging STACKS="staging-tooling staging-application staging-vpn"

`npx cdktf deploy a b` refuses a list that leaves out a stack one of them depends on ("dependencies
are not included") and synthesizes whatever environment VAULT_PLATFORM_ENV (or nothing) says.
This command: the environment is required (no default to fall back to); every id must be a
stack of that environment (one line listing the valid ids otherwise); it synthesizes that
environment itself, then runs `cdktf deploy --skip-synth --ignore-missing-stack-dependencies`
with the stacks in `app.stack_order`, so cdktf deploys exactly those. A stack left out that a
named one reads must be deployed already (its outputs are read from its state); the command
says which ones it assumes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from vault_platform.cli import OneLineParser, one_line_errors
from vault_platform.errors import ConfigError, ToolError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT_VARIABLE = "VAULT_PLATFORM_ENV"


class DeployFailed(ToolError):
    pass


def ordered_stacks(environment: str, env: object, requested: Sequence[str]) -> list[str]:
    """The requested ids in deploy order (all of them when none is requested); an id that is
    not a stack of this environment is refused before anything runs."""
    from vault_platform.app import stack_order

    order = list(stack_order(env, environment))
    unknown = [sid for sid in requested if sid not in order]
    if unknown:
        raise ConfigError("stacks", " ".join(unknown), f"is not a stack of environment '{environment}'",
                          f"use ids of its stacks, in deploy order: {' '.join(order)}")
    return [sid for sid in order if not requested or sid in requested]


def assumed_deployed(outdir: Path, stacks: Sequence[str]) -> list[str]:
    """Stacks the named ones depend on (cdktf's manifest) that are not named: their state must exist."""
    manifest = json.loads((outdir / "manifest.json").read_text())["stacks"]
    needed = {dep for sid in stacks for dep in manifest[sid].get("dependencies", [])}
    return sorted(needed - set(stacks), key=list(manifest).index)


def cdktf_command(stacks: Sequence[str], outdir: Path, *, auto_approve: bool, cdktf: str = "npx cdktf") -> list[str]:
    return [*cdktf.split(" "), "deploy", *stacks, "--skip-synth", "--ignore-missing-stack-dependencies",
            "--output", str(outdir), *(["--auto-approve"] if auto_approve else [])]


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m vault_platform.ops.deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="environment file name under environments/ (required: no default)")
    parser.add_argument("stacks", nargs="*", help="stack ids of that environment (default: every stack, in deploy order)")
    parser.add_argument("--outdir", type=Path, default=Path("cdktf.out"), help="where to synthesize, from the project root (default cdktf.out)")
    parser.add_argument("--auto-approve", action="store_true", help="pass --auto-approve to cdktf (CI)")
    parser.add_argument("--dry-run", action="store_true", help="check the environment and stack ids, print the command, run nothing")
    parser.add_argument("--require-remote-state", action="store_true",
                        help="refuse an environment without [state] (CI: a job's local state is thrown away with the job)")
    args = parser.parse_args(argv)

    from vault_platform.config import load_environment

    env = load_environment(args.env)
    if args.require_remote_state and env.state is None:
        raise ConfigError("state", "<no [state] table>", f"environment '{args.env}' ({env.source}) keeps local state, which a CI "
                          "job throws away when it ends: the next deploy would create everything again",
                          "deploy an environment with a [state] table from CI (set the ENV variable), or deploy this one by hand")
    stacks = ordered_stacks(args.env, env, args.stacks)
    command = cdktf_command(stacks, args.outdir, auto_approve=args.auto_approve)
    if args.dry_run:
        print(f"{ENVIRONMENT_VARIABLE}={args.env} " + " ".join(command))
        return 0
    from vault_platform.app import synthesize

    outdir = PROJECT_ROOT / args.outdir  # the cdktf CLI runs there: relative paths agree
    synthesize(env, args.env, str(outdir))
    assumed = assumed_deployed(outdir, stacks)
    print(f"Deploying environment '{args.env}' ({env.source}): {' '.join(stacks)}"
          + (f"; assumes already deployed: {' '.join(assumed)}" if assumed else ""), flush=True)
    from vault_platform.ops.emulator_deploy import cdktf_binary

    # The CLI gets the environment too, should anything make it synthesize again.
    result = subprocess.run(cdktf_command(stacks, args.outdir, auto_approve=args.auto_approve, cdktf=cdktf_binary()),
                            cwd=PROJECT_ROOT, env={**os.environ, ENVIRONMENT_VARIABLE: args.env})
    if result.returncode != 0:
        raise DeployFailed(f"cdktf deploy of {' '.join(stacks)} failed (exit {result.returncode}, its output above); "
                           f"fix what it names and run the same command again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
