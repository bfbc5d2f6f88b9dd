"""The images this repository builds: one build context per image under images/<name>/
(a Containerfile and what it copies), pushed by CI (.gitlab-ci.yml `build-image`) to the
tooling stack's ECR repository of the same name (<environment>/<name>, tooling.ecr_repositories).

What the manifests, the Vault lab and the tests need to know about an image, kept once: where
its context is and where the Containerfile puts its programs, so a command in a Deployment
(``python3 /opt/demo-app/app.py``) maps back to the file in Git that the lab runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

IMAGES_DIR = Path(__file__).resolve().parents[1] / "images"


class ImagePathError(ValueError):
    """A path in a manifest that the image does not hold."""


@dataclass(frozen=True)
class Image:
    """name: the build context's directory and the ECR repository's name (after the environment
    prefix). app_dir: where the Containerfile copies the context's programs."""

    name: str
    app_dir: PurePosixPath

    @property
    def context(self) -> Path:
        return IMAGES_DIR / self.name

    @property
    def containerfile(self) -> Path:
        return self.context / "Containerfile"

    def source_of(self, path_in_image: str) -> Path:
        """The file in Git that the image holds at ``path_in_image`` (a program in app_dir)."""
        path = PurePosixPath(path_in_image)
        source = self.context / path.name
        if path.parent != self.app_dir or not source.is_file():
            raise ImagePathError(f"{path_in_image}: the {self.name} image holds its programs in {self.app_dir}/ "
                                 f"({', '.join(sorted(p.name for p in self.context.glob('*.py')))}); "
                                 f"fix: name one of those, or add the file to images/{self.name}/")
        return source


# The demo app and its client: one image, two Deployments (flux/apps/demo/).
DEMO_APP = Image("demo-app", PurePosixPath("/opt/demo-app"))
