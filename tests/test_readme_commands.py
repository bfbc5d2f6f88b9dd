"""The command blocks of README.md and docs/*.md are code (convention: HELPERS' brief, README
"Test tiers"): shell commands a user runs sit in ```sh fences, one per line; a block whose
commands need a real AWS account or cluster has `<!-- needs: real-account -->` on the line
before its fence. Every command of every other block must run as written here: make targets
that exist, `python -m` modules that exist, environments that exist, stack ids of the
environment named, in deploy order, and the cdktf CLI only with the environment named. In a
marked block the same is checked of the parts that can be (a placeholder `<...>` is skipped).

Quick tier: reads files, starts nothing."""

from __future__ import annotations

import importlib.util
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from vault_platform.app import stack_order
from vault_platform.config import environment_names, load_environment

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REAL_ACCOUNT = "<!-- needs: real-account -->"
FENCE = re.compile(r"^(?P<indent> *)```(?P<tag>\S*)\s*$")
MAKE_TARGETS = set(re.findall(r"^([A-Za-z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
ENVIRONMENTS = set(environment_names())
# Commands a runnable block may not hold: they need an account, a cluster or root (mark the block).
NEEDS_MORE = {"sudo", "aws", "kubectl", "terraform", "openvpn", "bao", "vault", "export", "helm", "flux"}


@dataclass(frozen=True)
class Block:
    document: str
    line: int  # of the opening fence
    real_account: bool
    commands: tuple[tuple[int, list[str]], ...]  # (line, words) per command, comments stripped


def blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    found, index = [], 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if fence is None or fence["tag"] != "sh":
            if fence is not None:  # skip any other fenced block whole
                index += 1
                while index < len(lines) and not FENCE.match(lines[index]):
                    index += 1
            index += 1
            continue
        start, marked = index, index > 0 and lines[index - 1].strip() == REAL_ACCOUNT
        body, index = [], index + 1
        while index < len(lines) and not FENCE.match(lines[index]):
            body.append((index + 1, lines[index]))
            index += 1
        found.append(Block(path.name, start + 1, marked, tuple(commands(body))))
        index += 1
    return found


def commands(body: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    """One command per line (a trailing backslash continues it); `a && b` is two."""
    joined: list[tuple[int, str]] = []
    for number, text in body:
        if joined and joined[-1][1].endswith("\\"):
            joined[-1] = (joined[-1][0], joined[-1][1][:-1] + " " + text.strip())
        else:
            joined.append((number, text.strip()))
    out = []
    for number, text in joined:
        if not text or text.startswith("#"):
            continue
        words = shlex.split(text, comments=True)
        while "&&" in words:
            cut = words.index("&&")
            out.append((number, words[:cut]))
            words = words[cut + 1:]
        if words:
            out.append((number, words))
    return out


def problems_of(block: Block) -> list[str]:
    problems = []
    for number, words in block.commands:
        where = f"{block.document}:{number}: {' '.join(words)}"
        problems += [f"{where}: {p}" for p in command_problems(words, runnable=not block.real_account)]
    return problems


def command_problems(words: list[str], *, runnable: bool) -> list[str]:
    assignments = {}
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        key, _, value = words[0].partition("=")
        assignments[key] = value
        words = words[1:]
    if words and words[0] == "exec":
        words = words[1:]
    if not words:
        return []
    program, args = words[0], words[1:]
    if runnable and any(re.search(r"<[^>]+>", word) for word in words):
        return [f"has a placeholder, so it cannot run as written: give a real value or mark the block {REAL_ACCOUNT}"]
    if program == "make":
        return make_problems(args)
    if program in ("python", "python3", ".venv/bin/python"):
        return python_problems(args)
    if program == "npx" and args[:1] == ["cdktf"]:
        return cdktf_problems(args[1:], assignments.get("VAULT_PLATFORM_ENV"))
    if runnable:
        why = "needs an account, a cluster or root" if program in NEEDS_MORE else "is not a command this check knows"
        return [f"'{program}' {why}: mark the block {REAL_ACCOUNT}, or give a make target or python -m command"]
    return []


def placeholder(value: str) -> bool:
    return "<" in value or "$" in value


def environment_problems(name: str | None) -> list[str]:
    if name is None or placeholder(name) or name in ENVIRONMENTS:
        return []
    return [f"environment '{name}' does not exist (environments/: {', '.join(sorted(ENVIRONMENTS))})"]


def stacks_problems(environment: str, ids: list[str], *, whole_prefix: bool = False) -> list[str]:
    """ids: stack ids of the environment, in deploy order; whole_prefix: also every stack before
    them (what `cdktf deploy a b` needs without --ignore-missing-stack-dependencies)."""
    if placeholder(environment) or any(placeholder(i) for i in ids) or environment not in ENVIRONMENTS:
        return []
    order = list(stack_order(load_environment(environment), environment))
    unknown = [i for i in ids if i not in order]
    if unknown:
        return [f"{' '.join(unknown)}: not a stack of environment '{environment}' ({' '.join(order)})"]
    if ids != sorted(ids, key=order.index):
        return [f"stacks out of deploy order; {environment}'s order is {' '.join(order)}"]
    if whole_prefix and ids != order[:len(ids)]:
        return [f"cdktf refuses a stack list missing a dependency; use make deploy ENV={environment} STACKS=\"...\""]
    return []


def make_problems(args: list[str]) -> list[str]:
    options = dict(a.split("=", 1) for a in args if "=" in a and not a.startswith("-"))
    targets = [a for a in args if "=" not in a and not a.startswith("-")] or ["synth"]
    problems = [f"make has no target '{t}'" for t in targets if t not in MAKE_TARGETS]
    problems += environment_problems(options.get("ENV"))
    if "STACKS" in options:
        problems += stacks_problems(options.get("ENV", "default"), options["STACKS"].split())
    return problems


def python_problems(args: list[str]) -> list[str]:
    if args[:1] == ["-m"]:
        module = args[1]
        if importlib.util.find_spec(module) is None:
            return [f"no module {module}"]
    elif args[:1] and args[0].startswith("flux/") and args[0].endswith(".py"):
        # A Job's own script, run by hand as the runbook's check (stdlib only, like the pod).
        return [] if (ROOT / args[0]).is_file() else [f"no script {args[0]} in the repository"]
    elif args[:1] != ["main.py"]:
        return ["run python as `python main.py ...`, `python -m <module>` or `python3 flux/<a Job's script>.py`"]
    if "--env" in args:
        return environment_problems(args[args.index("--env") + 1])
    return []


def cdktf_problems(args: list[str], environment: str | None) -> list[str]:
    if environment is None:
        return ["the cdktf CLI refuses to run without VAULT_PLATFORM_ENV=<name> (main.py): name the environment"]
    problems = environment_problems(environment)
    verb, ids = args[0], [a for a in args[1:] if not a.startswith("-")]
    if ids and ids != ["*"] and verb in ("deploy", "diff", "destroy", "plan"):
        skip_check = "--ignore-missing-stack-dependencies" in args or verb == "diff"
        problems += stacks_problems(environment, ids, whole_prefix=verb == "deploy" and not skip_check)
    return problems


ALL_BLOCKS = [block for document in DOCUMENTS for block in blocks(document)]


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: f"{b.document}:{b.line}")
def test_every_command_block_runs_as_written_or_is_marked(block: Block) -> None:
    assert not problems_of(block), "\n".join(problems_of(block))


def test_the_check_finds_what_it_is_for() -> None:
    """The checker, attacked with the README's own past mistakes (issue 19)."""
    def problems(text: str, marked: bool = False) -> list[str]:
        return problems_of(Block("x.md", 1, marked, tuple(commands([(2, line) for line in text.splitlines()]))))

    assert problems("VAULT_PLATFORM_ENV=staging npx cdktf deploy tooling")[0].endswith("not a stack of environment 'staging' "
                                                                                     "(staging-tooling staging-application "
                                                                                     "staging-vpn staging-tooling-platform "
                                                                                     "staging-application-platform)")
    assert "refuses a stack list missing a dependency" in problems("VAULT_PLATFORM_ENV=default npx cdktf deploy tooling-platform application-platform")[0]
    assert "without VAULT_PLATFORM_ENV" in problems("npx cdktf deploy '*'")[0]
    assert "out of deploy order" in problems('make deploy ENV=default STACKS="vpn tooling"')[0]
    assert "no target 'deploi'" in problems("make deploi ENV=default")[0]
    assert "environment 'stagin' does not exist" in problems("python main.py --env stagin")[0]
    assert "no script flux/infrastructure/vault-config/scripts/snapshots.py" in problems(
        "python3 flux/infrastructure/vault-config/scripts/snapshots.py --verify vault.snap")[0]
    assert not problems("python3 flux/infrastructure/vault-config/scripts/snapshot.py --verify vault.snap")
    assert "no module vault_platform.nope" in problems("python -m vault_platform.nope")[0]
    assert "needs an account" in problems("sudo openvpn --config a.ovpn")[0]
    assert "placeholder" in problems("python -m vault_platform.vpn crl <serial>")[0]
    assert problems("sudo openvpn --config a.ovpn\nmake deploy ENV=<name>", marked=True) == []
    assert "no target 'deploi'" in problems("make deploi ENV=default", marked=True)[0], "a marked block is checked too"


def test_markers_sit_right_before_a_fence() -> None:
    for document in DOCUMENTS:
        lines = document.read_text().splitlines()
        for number, line in enumerate(lines[:-1], start=1):
            if line.strip() == REAL_ACCOUNT:
                assert lines[number].strip() == "```sh", f"{document.name}:{number}: the marker must precede a ```sh fence"
