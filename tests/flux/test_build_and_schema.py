"""Every kustomization builds, and every object it renders is valid for its kind."""

import pytest

import flux_checks
import flux_schemas

DIRS = flux_checks.kustomization_dirs()


@pytest.mark.parametrize("directory", DIRS, ids=[flux_checks.rel(d) for d in DIRS])
def test_kustomization_builds_and_validates(rendered, directory):
    problems = [f"{flux_checks.rel(directory)}: {flux_checks.describe(obj)}: {p}"
                for obj in rendered.objects(directory) for p in flux_schemas.validate(flux_checks.with_boolean_defaults(obj))]
    assert not problems, "\n".join(problems)


def test_the_tree_has_the_expected_shape():
    names = {flux_checks.rel(d) for d in DIRS}
    for expected in ("flux/clusters/tooling", "flux/clusters/application",
                     "flux/infrastructure/vault", "flux/apps/demo"):
        assert expected in names
