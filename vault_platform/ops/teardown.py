"""Destroy an environment on purpose: every stack, last deployed first, after you type its name.

    python -m vault_platform.ops.teardown --env staging --confirm staging        # the environment's `name`
    python -m vault_platform.ops.teardown --env staging --confirm staging --rehearse   # up to `plan -destroy`
    make destroy ENV=staging CONFIRM=staging

`npx cdktf destroy` cannot do this as written: each cdktf command synthesizes again without
--allow-destroy (no variable carries it), so the lifted protection is put back, and it refuses
to destroy a stack others depend on. This command synthesizes the environment once with
--allow-destroy, then runs the teardown the test suite rehearses on the emulator
(emulator_deploy.teardown_stacks): per stack, last deployed first, `terraform init`, an apply
of just the resources with deletion protection (the database: a destroy never updates it
first), then `terraform destroy` (or, with --rehearse, `terraform plan -destroy`). The state
bucket and key (`<env>-state-bootstrap`) stay: empty and destroy them last, by hand (README
"Destroying on purpose"). Nothing runs unless --confirm equals the environment's `name`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vault_platform.cli import OneLineParser, one_line_errors
from vault_platform.errors import ConfigError, ToolError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class TeardownIncomplete(ToolError):
    pass


def check_confirmation(env: object, environment: str, confirm: str | None) -> None:
    """The environment's `name` (the prefix of every AWS name it owns), typed by the operator."""
    if confirm != env.name:  # type: ignore[attr-defined]
        raise ConfigError("--confirm", confirm or "<missing>",
                          f"does not match the name of environment '{environment}' ({env.source}), whose every resource "  # type: ignore[attr-defined]
                          "this destroys", f"type --confirm {env.name} (make destroy ENV={environment} CONFIRM={env.name})")  # type: ignore[attr-defined]


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m vault_platform.ops.teardown", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="environment file name under environments/ (required: no default)")
    parser.add_argument("--confirm", help="the environment's name (its `name` key): nothing runs without it")
    parser.add_argument("--rehearse", action="store_true", help="every step, but `terraform plan -destroy` instead of the destroy")
    parser.add_argument("--outdir", type=Path, default=Path("cdktf.out"), help="where to synthesize, from the project root")
    args = parser.parse_args(argv)

    from vault_platform.app import stack_order, synthesize
    from vault_platform.config import load_environment
    from vault_platform.ops.emulator_deploy import teardown_stacks
    from vault_platform.ops.terraform_cli import find_mirror, missing_providers, required_providers

    env = load_environment(args.env)
    check_confirmation(env, args.env, args.confirm)
    stacks = list(stack_order(env, args.env))
    outdir = PROJECT_ROOT / args.outdir  # local state paths are relative to the project root
    print(f"Synthesizing environment '{args.env}' with --allow-destroy (destroy protection lifted)", flush=True)
    synthesize(env, args.env, str(outdir), allow_destroy=True)
    stack_json = {sid: json.loads((outdir / "stacks" / sid / "cdk.tf.json").read_text()) for sid in stacks}
    # Every provider first: a teardown that stops halfway for a missing one leaves a half environment.
    missing = {sid: [f"{r.source} {r.version}" for r in missing_providers(data)] for sid, data in stack_json.items()}
    if any(missing.values()):
        raise TeardownIncomplete("providers missing from the local mirror, nothing destroyed: " + "; ".join(
            f"{sid}: {', '.join(names)}" for sid, names in missing.items() if names) + "; fix: make install")
    mirror = find_mirror(required_providers(stack_json[stacks[0]])[0])
    outcomes = teardown_stacks(outdir, stacks, mirror, {}, PROJECT_ROOT, rehearse=args.rehearse, forget=())
    protected = {sid: still for sid, (_, still) in outcomes.items() if still}
    if protected:
        raise TeardownIncomplete(f"deletion protection still on after the lift: {protected}; fix: check the plan of those stacks")
    print(("Teardown rehearsed (plan -destroy) for: " if args.rehearse else "Destroyed: ") + " ".join(reversed(stacks)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
