#!/usr/bin/env python
"""The cdktf app: synthesize one environment's stacks, or every environment's, into cdktf.out/.

    python main.py                      # the embedded default environment
    python main.py --env staging        # environments/staging.toml
    python main.py --all-envs           # every environments/*.toml, one cdktf.out
    python main.py --env staging --bootstrap   # plus its state-bootstrap stack ([state] table)
    python main.py --env multi --list-stacks clusters   # print stack ids, synthesize nothing

The cdktf CLI runs this file too (cdktf.json "app"); it passes no flags, so there the
environment comes from VAULT_PLATFORM_ENV, e.g. `VAULT_PLATFORM_ENV=staging cdktf deploy`,
and VAULT_PLATFORM_BOOTSTRAP=1 adds the state-bootstrap stack.

The output appears all at once: a synth that fails leaves the previous output untouched.
"""

from __future__ import annotations

import os
import sys

from vault_platform.cli import OneLineParser, one_line_errors, print_error

ENVIRONMENT_VARIABLE = "VAULT_PLATFORM_ENV"
BOOTSTRAP_VARIABLE = "VAULT_PLATFORM_BOOTSTRAP"
LISTS = ("all", "clusters")


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    # The jsii runtime (node) warns about its own use of deprecated Node APIs on every run;
    # that says nothing to a user of this app. Set NODE_OPTIONS yourself to see it.
    os.environ.setdefault("NODE_OPTIONS", "--no-deprecation")
    from vault_platform.config.load import DEFAULT_ENVIRONMENT

    parser = OneLineParser(prog="python main.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default=None,
                        help=f"environment file name under environments/ (default: ${ENVIRONMENT_VARIABLE} or '{DEFAULT_ENVIRONMENT}')")
    parser.add_argument("--all-envs", action="store_true",
                        help="every environment under environments/, into one output (stack ids namespaced per environment)")
    parser.add_argument("--outdir", default=os.environ.get("CDKTF_OUTDIR", "cdktf.out"),
                        help="where to write the stacks (the cdktf CLI sets CDKTF_OUTDIR)")
    parser.add_argument("--allow-destroy", action="store_true",
                        help="lift prevent_destroy and deletion protection, for a deliberate teardown only")
    parser.add_argument("--bootstrap", action="store_true", default=os.environ.get(BOOTSTRAP_VARIABLE) == "1",
                        help=f"add the state-bootstrap stack (S3 bucket + KMS key of the [state] table); ${BOOTSTRAP_VARIABLE}=1 too")
    parser.add_argument("--list-stacks", choices=LISTS, default=None,
                        help="print the environment's stack ids in deploy order and synthesize nothing: 'all', or "
                             "'clusters' (each cluster's AWS stack: what CI's deploy job applies)")
    args = parser.parse_args(argv)

    from vault_platform.config import environment_names, load_environment
    from vault_platform.errors import ConfigError

    if args.all_envs and args.env is not None:
        raise ConfigError("--env", args.env, "cannot be combined with --all-envs, which synthesizes every environment",
                          "pass one of the two")
    names = list(environment_names()) if args.all_envs else [args.env or os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_ENVIRONMENT]
    if args.list_stacks:
        # One id per line, for scripts: `cdktf deploy $(python main.py --list-stacks clusters)`.
        print("\n".join(sid for name in names for sid in _listed(args.list_stacks, name, load_environment(name))))
        return 0
    # Every environment is validated in full before any construct exists.
    environments = [(name, load_environment(name)) for name in names]
    if args.bootstrap and not any(env.state for _, env in environments):
        name, env = environments[0]
        raise ConfigError("--bootstrap", True, f"environment '{name}' ({env.source}) has no [state] table, so there is no state bucket to create",
                          "add [state] with bucket, region and kms_key_arn to the file, or drop --bootstrap (local state needs none)")

    from vault_platform.app import synthesize_environments

    try:
        # Stacks check what only they can (flux/ variables, chart pins) before building.
        stacks = synthesize_environments(environments, args.outdir, allow_destroy=args.allow_destroy, bootstrap=args.bootstrap)
    except ConfigError as error:
        return print_error(f"{error} ({args.outdir}/ left as it was)")
    if args.allow_destroy:
        print("WARNING: destroy protection is OFF in this synth: KMS keys, EFS, ECR, the database and state buckets can be destroyed.",
              file=sys.stderr)
    for name, env in environments:
        state = f"state s3://{env.state.bucket}" if env.state else "local state"
        print(f"Synthesized environment '{name}' ({env.source}, region {env.region}, {state}) into {args.outdir}/:")
        ids = _ids_of(name, env)
        for stack in stacks:
            if stack.stack_id in ids:
                print(f"  {stack.stack_id:<32} {stack.path}")
    from vault_platform.config.validate import kubernetes_notices

    for name, env in environments:
        for notice in kubernetes_notices(env):  # a version in EKS extended support: dates and cost
            print(f"NOTICE environment '{name}': {notice}", file=sys.stderr)
    print("Next: terraform validate/plan in each stack directory, or `npx cdktf deploy <stack>`.")
    return 0


def _listed(which: str, environment_file: str, env: object) -> list[str]:
    from vault_platform.app import cluster_stacks, stack_order

    if which == "clusters":
        return [cluster.aws for cluster in cluster_stacks(env, environment_file)]
    return list(stack_order(env, environment_file))


def _ids_of(environment_file: str, env: object) -> set[str]:
    from vault_platform.app import STATE_BOOTSTRAP, stack_id, stack_order

    return {stack_id(environment_file, STATE_BOOTSTRAP), *stack_order(env, environment_file)}


if __name__ == "__main__":
    sys.exit(main())
