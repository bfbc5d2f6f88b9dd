"""Flux image automation, in the tooling cluster only: the image-reflector-controller lists the
tags of the platform's ECR repositories (read-only IRSA role below), an ImagePolicy picks one,
and the image-automation-controller commits it to a branch of its own and opens a GitLab merge
request into the branch Flux deploys from (flux/infrastructure/image-automation,
docs/image-automation.md).

Only one cluster runs the controllers: every cluster syncs the one repository, and two
automations pushing to one branch would race. The controllers and their service accounts come
with the flux2 chart the platform stack installs (flux.py turns them on here, off elsewhere,
and annotates the reflector's account with this role); the custom resources are Flux's.
"""

from __future__ import annotations

from vault_platform.addons import TOOLING, Addon, FluxInstalled, IrsaIdentity, PermissionContext, RoleOutput
from vault_platform.addons.flux import FLUX_NAMESPACE
from vault_platform.constructs.policy import allow

# The flux2 chart names the controller's service account after the controller (chart 2.18.0,
# templates/image-reflector-controller-sa.yaml): the role trusts exactly that account.
IDENTITY = IrsaIdentity(FLUX_NAMESPACE, "image-reflector-controller", role_suffix="flux-image-reflector")
# Where the reflector's account is annotated: the flux2 chart's values (flux.py).
CHART_VALUES_KEY = "imageReflectionController"
CONTROLLER_KEYS = ("imageAutomationController", "imageReflectionController")


def _permissions(context: PermissionContext):
    return (
        # ImageRepository provider: aws logs in to the registry with a token (not resource-scoped by AWS).
        allow(["ecr:GetAuthorizationToken"], "*", sid="RegistryLogin"),
        # Read-only, on the platform's repositories only: list the tags (registry API tags/list),
        # read a manifest for the digest of the picked tag. No push, no delete, no policy reads.
        allow(["ecr:ListImages", "ecr:DescribeImages", "ecr:BatchGetImage"],
              list(context.ecr_repository_arns), sid="ReadPlatformRepositories"),
    )


ADDON = Addon(
    name="flux-image-automation",
    install=FluxInstalled("flux/infrastructure/image-automation"),
    cluster_roles=(TOOLING,),
    irsa=IDENTITY,
    permissions=_permissions,
    role_output=RoleOutput("flux_image_reflector_role_arn", note="(ECR read-only)"),
    read_only=True,
)
