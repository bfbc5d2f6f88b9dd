"""Run the real Terraform binary on synthesized stacks, with providers from a local mirror.

Nothing here downloads a provider. Terraform is pointed at a filesystem mirror: the one
named by ``TF_PROVIDER_MIRROR`` (a directory holding ``registry.terraform.io/...``), else
the first of Terraform's own implied mirror directories, else one found by a shallow
look under the usual install prefixes. A user's own ``TF_CLI_CONFIG_FILE`` is never
overwritten: the generated config lives in a temporary directory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vault_platform.binaries import find_terraform
from vault_platform.errors import ToolError

MIRROR_ENV = "TF_PROVIDER_MIRROR"
REGISTRY = "registry.terraform.io"

# Terraform's implied local mirror directories on Linux (its CLI configuration docs).
_IMPLIED_MIRRORS = ("~/.terraform.d/plugins", "~/.local/share/terraform/plugins",
                    "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins")
# Install prefixes searched two levels deep when neither of the above has providers.
_SEARCH_ROOTS = ("/opt", "/usr/local", "/srv")


class TerraformUnavailable(ToolError):
    """Terraform or a provider cannot be had on this machine; the message says which and why."""


@dataclass(frozen=True)
class ProviderRequirement:
    source: str  # e.g. "hashicorp/aws"
    version: str

    @property
    def address(self) -> str:
        return f"{REGISTRY}/{self.source}"


def terraform_binary() -> str:
    return str(find_terraform("validate and plan run it"))


def _has_provider(mirror: Path, requirement: ProviderRequirement) -> bool:
    return (mirror / requirement.address / requirement.version).is_dir()


def find_mirror(requirement: ProviderRequirement) -> Path:
    """The mirror directory that holds ``requirement``, or a TerraformUnavailable naming the fix."""
    configured = os.environ.get(MIRROR_ENV)
    if configured:
        mirror = Path(configured).expanduser()
        if not _has_provider(mirror, requirement):
            raise TerraformUnavailable(
                f"{MIRROR_ENV}={configured} has no {requirement.address}/{requirement.version}; "
                f"point it at a directory in Terraform's filesystem-mirror layout that does")
        return mirror
    candidates = [Path(p).expanduser() for p in _IMPLIED_MIRRORS]
    for root in map(Path, _SEARCH_ROOTS):
        if root.is_dir():
            candidates += [registry.parent for registry in root.glob(f"*/{REGISTRY}")]
            candidates += [registry.parent for registry in root.glob(f"*/*/{REGISTRY}")]
    for mirror in candidates:
        if _has_provider(mirror, requirement):
            return mirror
    raise TerraformUnavailable(
        f"no local mirror holds {requirement.address} {requirement.version}; set {MIRROR_ENV} to a "
        "filesystem-mirror directory (the public registry is not used)")


def required_providers(stack_json: dict) -> list[ProviderRequirement]:
    """The providers a synthesized stack declares, normalised to namespace/type."""
    requirements = []
    for name, spec in stack_json.get("terraform", {}).get("required_providers", {}).items():
        source = spec.get("source", name)
        if "/" not in source:
            source = f"hashicorp/{source}"
        requirements.append(ProviderRequirement(source=source.removeprefix(f"{REGISTRY}/"), version=spec["version"]))
    return requirements


def missing_providers(stack_json: dict) -> list[ProviderRequirement]:
    """The stack's providers that no local mirror has (these stacks are checked at synth level only)."""
    missing = []
    for requirement in required_providers(stack_json):
        try:
            find_mirror(requirement)
        except TerraformUnavailable:
            missing.append(requirement)
    return missing


def missing_providers_reason(stack_json: dict) -> str | None:
    """Why this machine cannot run Terraform on the stack (providers no local mirror has), or None."""
    missing = missing_providers(stack_json)
    if not missing:
        return None
    names = ", ".join(f"{r.source} {r.version}" for r in missing)
    return f"provider(s) {names} not in any local mirror on this machine"


class Terraform:
    """Terraform commands in one stack directory, offline, against the local mirror."""

    def __init__(self, stack_dir: Path, mirror: Path, *, env: dict[str, str] | None = None) -> None:
        self.stack_dir = stack_dir
        self.binary = terraform_binary()
        self._config_dir = tempfile.TemporaryDirectory(prefix="tf-cli-config-")
        config = self.cli_config = Path(self._config_dir.name) / "terraform.rc"
        # Only the mirror: a provider it lacks fails at init instead of reaching for the network.
        config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = {json.dumps(str(mirror))}\n  }}\n}}\n')
        self.env = {**os.environ, **(env or {}), "TF_CLI_CONFIG_FILE": str(config), "CHECKPOINT_DISABLE": "1",
                    "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        # -no-color straight after the subcommand: Terraform stops reading flags at the
        # first positional argument (a plan file), so it cannot go last.
        words = 2 if args[0] in ("state", "providers", "workspace") else 1  # `state list`: flags after both
        result = subprocess.run([self.binary, *args[:words], "-no-color", *args[words:]], cwd=self.stack_dir,
                                env=self.env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(result.returncode, result.args, result.stdout, result.stderr)
        return result

    def init(self, *, backend: bool = False) -> None:
        self.run("init", f"-backend={'true' if backend else 'false'}", "-input=false")

    def validate(self) -> dict:
        return json.loads(self.run("validate", "-json", check=False).stdout)

    def plan(self, out: str, *, destroy: bool = False) -> subprocess.CompletedProcess[str]:
        """``plan -out``; the caller reads returncode/stderr (a failed plan is a result, not a crash)."""
        return self.run("plan", f"-out={out}", "-input=false", "-lock-timeout=30s", *(["-destroy"] if destroy else []),
                        check=False)

    def show_json(self, planfile: str) -> dict:
        return json.loads(self.run("show", "-json", planfile).stdout)

    def apply(self, planfile: str | None = None) -> subprocess.CompletedProcess[str]:
        """Apply a saved plan, or the configuration as it is (auto-approved) without one."""
        target = [planfile] if planfile else ["-auto-approve"]
        return self.run("apply", "-input=false", "-lock-timeout=30s", *target, check=False)

    def close(self) -> None:
        self._config_dir.cleanup()

    def __enter__(self) -> Terraform:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def validate_directory(directory: Path, mirror: Path) -> tuple[bool, list[str]]:
    """``init`` (no backend) and ``validate`` in one directory of synthesized JSON.

    Returns whether it is valid and every diagnostic as ``severity: summary: detail``.
    """
    with Terraform(directory, mirror) as terraform:
        terraform.init()
        result = terraform.validate()
    problems = [f"{d['severity']}: {d['summary']}: {d.get('detail', '')}" for d in result.get("diagnostics", [])]
    return result["valid"], problems


def first_error(result: subprocess.CompletedProcess[str]) -> str:
    """The first ``Error: ...`` of Terraform's (or cdktf's) output and the line after it, as one line."""
    lines = [line.strip(" │╷╵") for line in (result.stderr + "\n" + result.stdout).splitlines()]
    lines = [line for line in lines if line]
    for index, line in enumerate(lines):
        found = re.search(r"Error: .*", line)
        if found:
            following = lines[index + 1] if index + 1 < len(lines) else ""
            following = re.sub(r"^\S+\s+│\s*", "", following)  # cdktf prefixes the stack name
            return f"{found.group(0)} {following}".strip()
    return lines[-1] if lines else f"exit code {result.returncode}"


def planned_actions(json_ui: str) -> tuple[dict[str, str], str | None]:
    """What ``terraform plan -json`` printed (its machine-readable UI: one JSON object per
    line): the planned action of each resource instance by address ("delete", "update", ...),
    and the first error diagnostic as one line (None without one). A plan read this way
    needs no ``show -json``, which starts the provider again to decode the plan file."""
    actions: dict[str, str] = {}
    error = None
    for line in json_ui.splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if message.get("type") == "planned_change":
            actions[message["change"]["resource"]["addr"]] = message["change"]["action"]
        elif message.get("type") == "diagnostic" and error is None and message["diagnostic"].get("severity") == "error":
            diagnostic = message["diagnostic"]
            error = " ".join(f"Error: {diagnostic.get('summary', '')} {diagnostic.get('detail', '')}".split())
    return actions, error

