#!/usr/bin/env python
"""The cdktf app: synthesize one environment's stacks, or every environment's, into cdktf.out/.

    python main.py                      # the embedded default environment
    python main.py --env staging        # environments/staging.toml
    python main.py --all-envs           # every environments/*.toml, one cdktf.out
    python main.py --env staging --bootstrap   # plus its state-bootstrap stack ([state] table)
    python main.py --env multi --list-stacks clusters   # print stack ids, synthesize nothing

The cdktf CLI runs this file too (cdktf.json "app"); it passes no flags, so there the
environment comes from VAULT_PLATFORM_ENV, e.g. `VAULT_PLATFORM_ENV=staging cdktf deploy`,
and VAULT_PLATFORM_BOOTSTRAP=1 adds the state-bootstrap stack. Under the cdktf CLI (it sets
CDKTF_OUTDIR) VAULT_PLATFORM_ENV is required: the CLI has no option that reaches this file
(`-c environment=...` is not one: cdktf ignores it, so a cdktf command line that has it is
refused), so falling back to the default environment would deploy another environment than
the one meant. `make deploy ENV=<name>`
(python -m vault_platform.ops.deploy) sets it.

The output appears all at once: a synth that fails leaves the previous output untouched.
A synth whose every input is unchanged since the output in its outdir was written reuses
that output (vault_platform/synth_cache.py); --no-cache or VAULT_PLATFORM_NO_CACHE=1 forces one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vault_platform.cli import OneLineParser, one_line_errors, print_error

ENVIRONMENT_VARIABLE = "VAULT_PLATFORM_ENV"
BOOTSTRAP_VARIABLE = "VAULT_PLATFORM_BOOTSTRAP"
CLI_OUTDIR_VARIABLE = "CDKTF_OUTDIR"  # set by the cdktf CLI when it runs this file
LISTS = ("all", "clusters")


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    from vault_platform.config.names import DEFAULT_ENVIRONMENT

    parser = OneLineParser(prog="python main.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default=None,
                        help=f"environment file name under environments/ (default: ${ENVIRONMENT_VARIABLE} or '{DEFAULT_ENVIRONMENT}')")
    parser.add_argument("--all-envs", action="store_true",
                        help="every environment under environments/, into one output (stack ids namespaced per environment)")
    parser.add_argument("--outdir", default=os.environ.get(CLI_OUTDIR_VARIABLE, "cdktf.out"),
                        help="where to write the stacks (the cdktf CLI sets CDKTF_OUTDIR)")
    parser.add_argument("--allow-destroy", action="store_true",
                        help="lift prevent_destroy and deletion protection, for a deliberate teardown only")
    parser.add_argument("--bootstrap", action="store_true", default=os.environ.get(BOOTSTRAP_VARIABLE) == "1",
                        help=f"add the state-bootstrap stack (S3 bucket + KMS key of the [state] table); ${BOOTSTRAP_VARIABLE}=1 too")
    parser.add_argument("--no-cache", action="store_true",
                        help="synthesize even when no input changed since the output in --outdir was written")
    parser.add_argument("--list-stacks", choices=LISTS, default=None,
                        help="print the environment's stack ids in deploy order and synthesize nothing: 'all', or "
                             "'clusters' (each cluster's AWS stack: what CI's deploy job applies)")
    args = parser.parse_args(argv)

    from vault_platform.config.names import environment_names
    from vault_platform.errors import ConfigError

    if args.all_envs and args.env is not None:
        raise ConfigError("--env", args.env, "cannot be combined with --all-envs, which synthesizes every environment",
                          "pass one of the two")
    if not args.all_envs and args.env is None and not os.environ.get(ENVIRONMENT_VARIABLE) and CLI_OUTDIR_VARIABLE in os.environ:
        raise ConfigError(ENVIRONMENT_VARIABLE, "<unset>", "the cdktf CLI runs main.py without flags and has no option that "
                          "selects the environment (-c environment=... is ignored), so it would silently be 'default'",
                          f"name it: {ENVIRONMENT_VARIABLE}=<name> npx cdktf ..., or make deploy ENV=<name> (README \"Environments\")")
    context = _context_flag(_cdktf_invocation()) if CLI_OUTDIR_VARIABLE in os.environ else None
    if context is not None:
        raise ConfigError(context[0], context[1], "is not an option of the cdktf CLI that reaches "
                          "main.py: cdktf 0.21 ignores it, so it would not select the environment",
                          f"drop it and name the environment: {ENVIRONMENT_VARIABLE}=<name> npx cdktf ..., or make deploy ENV=<name>")
    names = list(environment_names()) if args.all_envs else [args.env or os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_ENVIRONMENT]
    if args.list_stacks:
        from vault_platform.config import load_environment

        # One id per line, for scripts: `cdktf deploy $(python main.py --list-stacks clusters)`.
        print("\n".join(sid for name in names for sid in _listed(args.list_stacks, name, load_environment(name))))
        return 0
    from vault_platform import synth_cache

    cache_key = None
    if not args.no_cache and os.environ.get(synth_cache.NO_CACHE_VARIABLE) != "1":
        # Before anything is loaded: an unchanged synth costs hashing its inputs, nothing more.
        cache_key = synth_cache.key({"environments": names, "outdir": args.outdir,
                                     "allow_destroy": args.allow_destroy, "bootstrap": args.bootstrap})
        summary = synth_cache.cached_summary(Path(args.outdir), cache_key)
        if summary is not None:
            _warn_if_destroyable(args.allow_destroy)
            _print_summary(summary, args.outdir)
            print(f"(no input changed since {args.outdir}/ was written: reused it; --no-cache synthesizes anyway)")
            return 0
    # Every environment is validated in full before any construct exists.
    from vault_platform.config import load_environment

    environments = [(name, load_environment(name)) for name in names]
    if args.bootstrap and not any(env.state for _, env in environments):
        name, env = environments[0]
        raise ConfigError("--bootstrap", True, f"environment '{name}' ({env.source}) has no [state] table, so there is no state bucket to create",
                          "add [state] with bucket, region and kms_key_arn to the file, or drop --bootstrap (local state needs none)")
    # The synth's longest chain is Node's: its start, then the type assemblies' loads.
    # Begun now, on a thread of its own, while this one imports; after the validation
    # (about 10 ms), so that a bad environment file ends without starting Node.
    from vault_platform import provider_imports

    provider_imports.start_kernel()

    from vault_platform.app import synthesize_environments

    summary: dict[str, list] = {}

    def finished(staging: Path, stacks: list) -> None:
        # The report, made once: stored with the output (cache on) and printed below.
        summary.update(_summary_rows(environments, stacks))
        if cache_key is not None:
            synth_cache.write_stamp(staging, cache_key, summary)

    try:
        # Stacks check what only they can (flux/ variables, chart pins) before building.
        synthesize_environments(environments, args.outdir, allow_destroy=args.allow_destroy, bootstrap=args.bootstrap,
                                before_swap=finished)
    except ConfigError as error:
        return print_error(f"{error} ({args.outdir}/ left as it was)")
    _warn_if_destroyable(args.allow_destroy)
    _print_summary(summary, args.outdir)
    return 0


def _warn_if_destroyable(allow_destroy: bool) -> None:
    if allow_destroy:
        print("WARNING: destroy protection is OFF in this synth: KMS keys, EFS, ECR, the database and state buckets can be destroyed.",
              file=sys.stderr)


def _summary_rows(environments: list, stacks: list) -> dict[str, list]:
    """What a synth reports, as data the synth cache can store: per environment its stacks,
    then the commands to run next."""
    written = [stack.stack_id for stack in stacks]
    rows = []
    for name, env in environments:
        ids = _ids_of(name, env)
        rows.append({"name": name, "source": env.source, "region": env.region,
                     "state": f"state s3://{env.state.bucket}" if env.state else "local state",
                     "stacks": [sid for sid in written if sid in ids]})
    from vault_platform.config.validate import kubernetes_notices

    # A version in EKS extended support: its dates and cost, on stderr after the summary.
    notices = [f"NOTICE environment '{name}': {notice}" for name, env in environments for notice in kubernetes_notices(env)]
    return {"environments": rows, "next": next_steps([name for name, _ in environments], [env for _, env in environments]),
            "notices": notices}


def _format_summary(summary: dict[str, list], outdir: str) -> str:
    """What a synth prints on stdout: each environment's stacks and where they are, then what
    to run next."""
    lines = []
    for row in summary["environments"]:
        lines.append(f"Synthesized environment '{row['name']}' ({row['source']}, region {row['region']}, {row['state']}) into {outdir}/:")
        lines.extend(f"  {sid:<32} {Path(outdir) / 'stacks' / sid / 'cdk.tf.json'}" for sid in row["stacks"])
    lines.extend(summary["next"])
    return "\n".join(lines) + "\n"


def _print_summary(summary: dict[str, list], outdir: str) -> None:
    print(_format_summary(summary, outdir), end="")
    for notice in summary.get("notices", ()):
        print(notice, file=sys.stderr)


def _cdktf_invocation() -> list[str] | None:
    """The cdktf CLI's command line when it runs this file (it starts the app through a
    shell): read from /proc on Linux; None elsewhere or when not found."""
    pid = os.getppid()
    for _ in range(4):
        try:
            words = [w.decode(errors="replace") for w in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if w]
            if any(Path(word).name == "cdktf" for word in words[:2]):
                return words
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])  # its parent
        except (OSError, ValueError, IndexError):
            return None
    return None


def _context_flag(words: list[str] | None) -> tuple[str, str] | None:
    """-c / --context on the cdktf command line (what default.toml once documented): the flag
    and its value."""
    words = words or []
    for index, word in enumerate(words):
        if word in ("-c", "--context"):
            return word, words[index + 1] if index + 1 < len(words) else ""
        if word.startswith(("--context=", "-c=")):
            flag, _, value = word.partition("=")
            return flag, value
    return None


def next_steps(names: list[str], environments: list[object]) -> list[str]:
    """What to run next, with the environment named and its real stack ids in deploy order:
    commands that work as printed (tests/test_synth_output.py runs their --dry-run)."""
    from vault_platform.app import PLATFORM_SUFFIX, stack_order
    from vault_platform.config.model import DEPLOY_VIA_VPN

    lines = ["Next (README \"Stacks and deploy order\"):"]
    for name, env in zip(names, environments):
        order = stack_order(env, name)
        platforms = [sid for sid in order if sid.endswith(PLATFORM_SUFFIX)]
        aws = [sid for sid in order if sid not in platforms]
        lines.append(f"  make plan ENV={name}")
        if env.deploy.access == DEPLOY_VIA_VPN:  # the platform stacks reach the private APIs through the VPN
            lines.append(f"  make deploy ENV={name} STACKS=\"{' '.join(aws)}\"")
            lines.append(f"  make vpn-client ENV={name} NAME=deployer   # then connect: sudo openvpn --config deployer.ovpn --daemon")
            lines.append(f"  make deploy ENV={name} STACKS=\"{' '.join(platforms)}\"")
        else:
            lines.append(f"  make deploy ENV={name} STACKS=\"{' '.join(order)}\"")
    return lines


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
