#!/usr/bin/env python
"""The cdktf app: synthesize one environment's stacks into cdktf.out/.

    python main.py                 # the embedded default environment
    python main.py --env staging   # environments/staging.toml

The cdktf CLI runs this file too (cdktf.json "app"); it passes no flags, so there the
environment comes from VAULT_PLATFORM_ENV, e.g. `VAULT_PLATFORM_ENV=staging cdktf deploy`.
"""

from __future__ import annotations

import argparse
import os
import sys

ENVIRONMENT_VARIABLE = "VAULT_PLATFORM_ENV"


def main(argv: list[str] | None = None) -> int:
    # The jsii runtime (node) warns about its own use of deprecated Node APIs on every run;
    # that says nothing to a user of this app. Set NODE_OPTIONS yourself to see it.
    os.environ.setdefault("NODE_OPTIONS", "--no-deprecation")
    from vault_platform.config.load import DEFAULT_ENVIRONMENT

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default=os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_ENVIRONMENT,
                        help=f"environment file name under environments/ (default: ${ENVIRONMENT_VARIABLE} or '{DEFAULT_ENVIRONMENT}')")
    parser.add_argument("--outdir", default=os.environ.get("CDKTF_OUTDIR", "cdktf.out"),
                        help="where to write the stacks (the cdktf CLI sets CDKTF_OUTDIR)")
    parser.add_argument("--allow-destroy", action="store_true",
                        help="lift prevent_destroy and deletion protection, for a deliberate teardown only")
    args = parser.parse_args(argv)

    from vault_platform.config import load_environment
    from vault_platform.errors import ConfigError

    try:
        env = load_environment(args.env)  # validated in full before any construct exists
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    from vault_platform.app import synthesize

    try:
        # Stacks check what only they can (flux/ variables, chart pins) before building.
        stacks = synthesize(env, args.env, args.outdir, allow_destroy=args.allow_destroy)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.allow_destroy:
        print("WARNING: destroy protection is OFF in this synth: KMS keys, EFS, ECR and the database can be destroyed.",
              file=sys.stderr)
    print(f"Synthesized environment '{args.env}' ({env.source}, region {env.region}) into {args.outdir}/:")
    for stack in stacks:
        print(f"  {stack.stack_id:<24} {stack.path}")
    print("Next: terraform validate/plan in each stack directory, or `npx cdktf deploy <stack>`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
