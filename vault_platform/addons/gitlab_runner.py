"""GitLab runner: Kubernetes executor in the tooling cluster; its build pods push images to
the platform's ECR repositories (flux/infrastructure/gitlab-runner)."""

from __future__ import annotations

from vault_platform.addons import TOOLING, Addon, FluxInstalled, IrsaIdentity, PermissionContext, RoleOutput
from vault_platform.constructs.policy import allow


def _permissions(context: PermissionContext):
    return (
        allow(["ecr:GetAuthorizationToken"], "*", sid="RegistryLogin"),  # not resource-scoped by AWS
        allow(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
               "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"],
              list(context.ecr_repository_arns), sid="PushToPlatformRepositories"),
    )


ADDON = Addon(
    name="gitlab-runner",
    install=FluxInstalled("flux/infrastructure/gitlab-runner"),
    cluster_roles=(TOOLING,),
    # The build pods' account, not the runner manager's: only CI jobs push to ECR.
    irsa=IrsaIdentity("gitlab-runner", "gitlab-runner-build", role_suffix="gitlab-runner"),
    permissions=_permissions,
    role_arn_var="GITLAB_RUNNER_ROLE_ARN",
    role_arn_description="IRSA role of the GitLab runner's build pods (gitlab-runner/gitlab-runner-build), ECR push.",
    role_output=RoleOutput("gitlab_runner_role_arn", note="(the build pods)"),
)
