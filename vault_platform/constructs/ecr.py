"""ECR repositories for images the GitLab runner builds: immutable tags, scanned on push,
KMS-encrypted, untagged images expired."""

from __future__ import annotations

import json

from cdktf_cdktf_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktf_cdktf_provider_aws.ecr_repository import (
    EcrRepository,
    EcrRepositoryEncryptionConfiguration,
    EcrRepositoryImageScanningConfiguration,
)
from constructs import Construct

from vault_platform.constructs.protection import protected_lifecycle

UNTAGGED_IMAGE_DAYS = 14


class EcrRepositories(Construct):
    def __init__(self, scope: Construct, id: str, *, names: tuple[str, ...], prefix: str) -> None:
        super().__init__(scope, id)
        self.repositories: dict[str, EcrRepository] = {}
        expire_untagged = json.dumps({"rules": [{
            "rulePriority": 1,
            "description": f"expire untagged images after {UNTAGGED_IMAGE_DAYS} days",
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                          "countNumber": UNTAGGED_IMAGE_DAYS},
            "action": {"type": "expire"},
        }]})
        for name in names:
            repository = EcrRepository(
                self, name.replace("/", "-"), name=f"{prefix}/{name}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=EcrRepositoryImageScanningConfiguration(scan_on_push=True),
                encryption_configuration=[EcrRepositoryEncryptionConfiguration(encryption_type="KMS")],
                force_delete=False,  # a repository with images is not deleted by a destroy
                lifecycle=protected_lifecycle(self),
            )
            EcrLifecyclePolicy(self, f"{name.replace('/', '-')}-lifecycle", repository=repository.name, policy=expire_untagged)
            self.repositories[name] = repository
        self.arns = [repository.arn for repository in self.repositories.values()]
