"""Flux's post-build substitution (vault_platform/gitops/flux_envsubst.py) against its
documented behaviour, and both cluster trees as Flux renders them with the default
environment's platform vars: nothing but the intended ``${VAR}`` changes, no value changes
type, and every hostname a client uses to reach Vault is on Vault's certificate.

Expectations come from fluxcd/kustomize-controller docs/spec/v1/kustomizations.md ("Post build
variable substitution", "Post build substitution of numbers and booleans") and fluxcd/pkg
envsubst (README's table; the cases of its eval_test.go, restated here as behaviour).
"""

from __future__ import annotations

import json
import re
import ssl
from pathlib import Path

import pytest
import yaml

import flux_checks

from vault_platform.gitops.flux_envsubst import SubstitutionError, envsubst, substitute_object
from vault_platform.gitops.flux_render import RenderedObject, flux_kustomizations, render_cluster, variables_for
from vault_platform.gitops.standin_values import synthesized_platform_vars, with_standins
from vault_platform.gitops.substitution import variable_names
from vault_platform.vaultlab.tls import write_lab_tls

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"

# --- the substitution itself -------------------------------------------------------------

DOCUMENTED = [
    # (variables, input, output)
    ({}, "abcdEFGH28ij", "abcdEFGH28ij"),
    ({"v": "abcdEFGH28ij"}, "${#v}", "12"),
    ({"v": "abcdEFGH28ij"}, "${v^}", "AbcdEFGH28ij"),
    ({"v": "abcdEFGH28ij"}, "${v^^}", "ABCDEFGH28IJ"),
    ({"v": "ABCDEFGH28IJ"}, "${v,}", "aBCDEFGH28IJ"),
    ({"v": "ABCDEFGH28IJ"}, "${v,,}", "abcdefgh28ij"),
    ({"p": "/home/bozo/ideas/thoughts.for.today"}, "${p:11}", "ideas/thoughts.for.today"),
    ({"p": "/home/bozo/ideas/thoughts.for.today"}, "${p:11:5}", "ideas"),
    ({"v": "abc"}, "${v=xyz}", "abc"),
    ({}, "${v=xyz}", "xyz"),
    ({}, "${v:=xyz}", "xyz"),
    ({}, "${v:-xyz}", "xyz"),
    ({"d": "foo"}, "something ${v=${d}}", "something foo"),
    ({"d": "foo1"}, "foo: ${v=${d}-suffix}", "foo: foo1-suffix"),
    ({"d": "foo1"}, "foo: ${v=prefix${d}-suffix}", "foo: prefixfoo1-suffix"),
    ({"s": "abcABC123ABCabc"}, "${s/%abc/XYZ}", "abcABC123ABCXYZ"),
    ({"s": "abcABC123ABCabc"}, "${s/#abc/XYZ}", "XYZABC123ABCabc"),
    ({"s": "abcABC123ABCabc"}, "${s//abc/xyz}", "xyzABC123ABCxyz"),
    ({"s": "abcABC123ABCabc"}, "${s/abc/xyz}", "xyzABC123ABCabc"),
    ({"f": "bash.string.txt"}, "${f#*.}", "string.txt"),
    ({"f": "/path/to/file"}, "${f#*/}", "path/to/file"),
    ({"f": "bash.string.txt"}, "${f##*.}", "txt"),
    ({"f": "path/to/file"}, "${f##*/}", "file"),
    ({"f": "bash.string.txt"}, "${f%.*}", "bash.string"),
    ({"f": "bash.string.txt"}, "${f%%.*}", "bash"),
    ({"v": "abcdEFGH28ij"}, "${x=${v^^}}", "ABCDEFGH28IJ"),
    ({"s": "foo/bar/baz"}, r"${s//\//-}", "foo-bar-baz"),
    ({"s": "foo.bar"}, "${s/./}", "foobar"),
    # The escape, and what it does to any `$$`.
    ({"v": "x"}, "$${v}", "${v}"),
    ({"v": "abcdEFGH28ij"}, "some text ${v}$${w$${v}$v${v}", "some text abcdEFGH28ij${w${v}$vabcdEFGH28ij"),
    ({"d": "foo"}, "something $${v=${d}}", "something ${v=foo}"),
    ({}, "DO $$ BEGIN NULL; END $$;", "DO $ BEGIN NULL; END $;"),
    ({}, "echo $$ $((1+2)) $(date) $HOME $1 $*", "echo $ $((1+2)) $(date) $HOME $1 $*"),
    ({}, "\\\\something ${v:=foo}", "\\\\something foo"),
    # Undefined: empty (no strict mode).
    ({}, "a${missing}b", "ab"),
]


@pytest.mark.parametrize(("variables", "text", "expected"), DOCUMENTED, ids=[case[1] for case in DOCUMENTED])
def test_envsubst_evaluates_as_documented(variables: dict[str, str], text: str, expected: str) -> None:
    assert envsubst(text, variables) == expected


@pytest.mark.parametrize("text", ["${v-default}", "${v+x}", "${@}", "${!v}", "${a.b}", "${v", "${}", "${v:}"])
def test_what_the_parser_refuses_fails_the_build(text: str) -> None:
    with pytest.raises(SubstitutionError):
        envsubst(text, {"v": "x"})


def test_strict_refuses_a_missing_variable_unless_a_default_covers_it() -> None:
    with pytest.raises(SubstitutionError, match="missing"):
        envsubst("${missing}", {}, strict=True)
    with pytest.raises(SubstitutionError):
        envsubst("${missing^^}", {}, strict=True)
    assert envsubst("${missing:=default}", {}, strict=True) == "default"
    assert envsubst("${foo}", {"foo": ""}, strict=True) == ""


NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  labels:
    environment: ${cluster_env:=dev}
    region: ${cluster_region}
  name: apps
"""


def test_the_documented_namespace_example() -> None:
    obj = substitute_object(NAMESPACE, {"cluster_region": "eu-central-1"})
    assert obj["metadata"]["labels"] == {"environment": "dev", "region": "eu-central-1"}


def test_disabled_objects_and_no_variables_are_left_alone() -> None:
    for field in ("labels", "annotations"):
        text = NAMESPACE.replace("  name: apps", f"  name: apps\n  {field}:\n    kustomize.toolkit.fluxcd.io/substitute: disabled") \
            if field == "annotations" else NAMESPACE.replace("    region:", "    kustomize.toolkit.fluxcd.io/substitute: disabled\n    region:")
        assert substitute_object(text, {"cluster_region": "x"})["metadata"]["labels"]["region"] == "${cluster_region}"
    # WithVariables (the default strategy): no variable, no substitution, defaults included.
    assert substitute_object(NAMESPACE, {})["metadata"]["labels"]["environment"] == "${cluster_env:=dev}"
    assert substitute_object(NAMESPACE, {}, always=True)["metadata"]["labels"]["environment"] == "dev"


def test_numbers_and_booleans_come_back_typed_unless_quoted_by_a_variable() -> None:
    text = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  annotations:\n    id: ${id}\n    enabled: ${quote}${enabled}${quote}\n"
    obj = substitute_object(text, {"id": "123", "enabled": "true", "quote": '"'})
    assert obj["metadata"]["annotations"] == {"id": 123, "enabled": "true"}


def test_variable_names_and_newlines() -> None:
    with pytest.raises(SubstitutionError, match="var name is invalid"):
        substitute_object(NAMESPACE, {"cluster-region": "x"})
    assert substitute_object(NAMESPACE, {"cluster_region": "eu-\ncentral-1"})["metadata"]["labels"]["region"] == "eu-central-1"


# --- both trees, as Flux renders them -----------------------------------------------------

def _platform_vars(cluster: str) -> dict[str, str]:
    """The default environment's platform-vars, as its synth writes them (the reviewed
    snapshot, which test_snapshots.py holds equal to a fresh synth), cross-stack references
    replaced by stand-ins shaped like the real values."""
    stack = json.loads((SNAPSHOTS / f"{cluster}-platform.json").read_text())
    return with_standins(synthesized_platform_vars(stack))


@pytest.fixture(scope="module")
def flux_rendered() -> dict[str, tuple[dict[str, str], list[RenderedObject]]]:
    out = {}
    for cluster in ("tooling", "application"):
        variables = _platform_vars(cluster)
        out[cluster] = (variables, [o for objects in render_cluster(cluster, variables).values() for o in objects])
    return out


def _leaves(value: object, path: str = ""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, f"{path}[{index}]")
    else:
        yield path, value


def _intended(text: str, variables: dict[str, str]) -> str:
    """``text`` with only the project's intended ``${VAR}`` / ``${VAR:=d}`` forms replaced."""
    pattern = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[=-]([^}]*))?\}")
    return pattern.sub(lambda m: variables.get(m.group(1)) or (m.group(2) or ""), text)


@pytest.mark.parametrize("cluster", ["tooling", "application"])
def test_substitution_changes_only_the_intended_variables(flux_rendered, cluster: str) -> None:
    """Every string of every object (ConfigMap-embedded scripts, policies, configs, HCL,
    commands) after Flux equals its source with only its ``${VAR}`` replaced."""
    variables, objects = flux_rendered[cluster]
    kustomization_vars = {k.name: variables_for(k, variables) for k in flux_kustomizations(cluster)}
    changed = []
    for rendered in objects:
        source = dict(_leaves(yaml.safe_load(rendered.source)))
        after = dict(_leaves(rendered.obj))
        for path, value in source.items():
            if not isinstance(value, str) or not isinstance(after.get(path), str):
                continue
            # An inline `quote` is YAML syntax: the read-back consumes it.
            intended = _intended(value, kustomization_vars[rendered.kustomization])
            if after[path] != intended and (
                    "\n" in intended or after[path] != yaml.safe_load(intended)):
                lines = [f"      {a!r} -> {b!r}" for a, b in zip(value.splitlines(), after[path].splitlines()) if a != b]
                changed.append(f"{rendered.kind}/{rendered.name}{path} (Kustomization {rendered.kustomization}):\n"
                               + "\n".join(lines[:3]))
    assert not changed, ("Flux's substitution changes more than the intended ${VAR} (fix: annotate the generated "
                         "ConfigMap kustomize.toolkit.fluxcd.io/substitute: disabled, or write $$ as $$$$):\n  "
                         + "\n  ".join(changed))


@pytest.mark.parametrize("cluster", ["tooling", "application"])
def test_no_value_changes_type(flux_rendered, cluster: str) -> None:
    """kustomize writes ``"${PORT}"`` unquoted, so a substituted number comes back an int:
    the API server then refuses the object (an env value, a ConfigMap value must be strings)."""
    _variables, objects = flux_rendered[cluster]
    retyped = []
    for rendered in objects:
        after = dict(_leaves(rendered.obj))
        for path, value in _leaves(yaml.safe_load(rendered.source)):
            if isinstance(value, str) and variable_names(value) and not isinstance(after.get(path), str) \
                    and not (flux_checks.TYPED_BOOLEAN.match(value) and isinstance(after.get(path), bool)):
                retyped.append(f"{rendered.kind}/{rendered.name}{path}: {value!r} -> {after.get(path)!r}")
    assert not retyped, ("a substituted value is no longer a string (fix: quote it through a variable, "
                         "\"${quote}${VAR}${quote}\" with postBuild.substitute quote: '\"'):\n  " + "\n  ".join(retyped))


def _vault_certificate(objects: list[RenderedObject]) -> dict:
    (certificate,) = [o.obj for o in objects if o.kind == "Certificate" and o.name == "vault-server-tls"]
    return certificate


def _handshake(ca: ssl.SSLContext, server: ssl.SSLContext, hostname: str) -> str | None:
    """A TLS handshake in memory, the client checking ``hostname`` with OpenSSL's rules (the
    Jobs' python image; Go's, in ESO, the injector and raft, accept no name OpenSSL refuses
    here). None if it verifies, else the error."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ca.wrap_bio(c_in, c_out, server_hostname=hostname)
    srv = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for end, out, into in ((client, c_out, s_in), (srv, s_out, c_in)):
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as err:
                return str(err) if end is client else None
            into.write(out.read())
        if client.version() and srv.version():
            return None
    return "handshake did not finish"


def test_every_vault_hostname_in_flux_is_on_the_certificate(flux_rendered, tmp_path: Path) -> None:
    """Each https://<host>:8200 any object of either tree names (Jobs' VAULT_ADDR, the
    ClusterSecretStores, the injector, raft's retry_join) verifies against a certificate with
    exactly the SANs of certificate.yaml as rendered for the tooling cluster."""
    certificate = _vault_certificate(flux_rendered["tooling"][1])
    tls = write_lab_tls(tmp_path, certificate["spec"]["dnsNames"], certificate["spec"].get("ipAddresses", ()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tls.cert, tls.key)
    ca = ssl.create_default_context(cafile=str(tls.ca_cert))
    hosts: dict[str, set[str]] = {}
    for cluster, (_variables, objects) in flux_rendered.items():
        for rendered in objects:
            for _path, value in _leaves(rendered.obj):
                for host in re.findall(r"https://([A-Za-z0-9.-]+):8200", str(value)):
                    hosts.setdefault(host, set()).add(f"{cluster}: {rendered.kind}/{rendered.name}")
    assert {"vault-0.vault-internal", "vault-active.vault.svc", "vault.tooling.internal"} <= set(hosts)
    refused = {host: (_handshake(ca, server, host), sorted(users)) for host, users in sorted(hosts.items())}
    refused = {host: why for host, why in refused.items() if why[0] is not None}
    assert not refused, ("clients reach Vault by names its certificate does not verify for (fix: list them in "
                         "flux/infrastructure/vault/certificate.yaml dnsNames):\n  "
                         + "\n  ".join(f"{h}: {why} (used by {', '.join(users)})" for h, (why, users) in refused.items()))


def test_a_syntax_error_in_a_tree_is_one_line_naming_the_kustomization_and_object(tmp_path: Path) -> None:
    """What Flux reports as "post build failed for ...": the renderer says where, and the fix."""
    from vault_platform.gitops.flux_render import FluxKustomization, RenderError, render_kustomization

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (tmp_path / "app" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\ndata:\n  run.sh: echo ${@}\n")
    kustomization = FluxKustomization("app", "app", True, {}, (("ConfigMap", "platform-vars"),), False)
    with pytest.raises(RenderError) as raised:
        render_kustomization(kustomization, {"X": "1"}, repo_root=tmp_path)
    message = str(raised.value)
    assert "\n" not in message and "ConfigMap/script" in message and "fix:" in message, message
