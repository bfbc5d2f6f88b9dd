"""Render and check one environment's Kubernetes layer (docs/kubernetes-rendering.md).

    python -m vault_platform.rendering --env default

Every chart release of every cluster rendered with the project's Helm, every object checked
against its schema, the first sync's order, and the workload demand against the committed
file the synth-time schedulability check reads. Prints one line per problem; exit 1 if any,
2 if it cannot run (a chart archive or a program missing: one line with the fix).
"""

from __future__ import annotations

import json
import sys

from vault_platform.cli import EXIT_CHECK_FAILED, EXIT_OK, OneLineParser, one_line_errors
from vault_platform.config.load import DEFAULT_ENVIRONMENT, load_environment
from vault_platform.rendering import charts, helm, validate
from vault_platform.rendering.demand import DEMAND_FILE, demand
from vault_platform.rendering.releases import ClusterRender, render_environment
from vault_platform.rendering.sync_order import ACCEPTED_NOT_WAITED, SyncModel


def problems(render: ClusterRender) -> list[str]:
    found = []
    for release in render.releases:
        rendered = render.rendered[release.name]
        if rendered is not None:
            found += [f"{release.source}: helm warns: {line}"
                      for line in helm.unexplained_warnings(release.chart, release.version, rendered)]
    objects = render.all_objects()
    crds = validate.crd_versions(obj for _, obj in objects)
    for source, obj in objects:
        found += [f"{source}: {obj['kind']} {obj['metadata'].get('name')}: {problem}"
                  for problem in validate.validate(obj, crds, render.cluster.kube_version.removeprefix("v"))]
    model = SyncModel(render)
    found += model.problems()
    found += [f"dependsOn orders but does not wait: {edge}" for edge in model.not_waited() if edge not in ACCEPTED_NOT_WAITED]
    if demand(render) != json.loads(DEMAND_FILE.read_text())[render.cluster.role]:
        found.append("vault_platform/gitops/workload_demand.json is stale; fix: python -m vault_platform.rendering.demand --write")
    return found


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m vault_platform.rendering", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=DEFAULT_ENVIRONMENT, help="environments/<name>.toml")
    args = parser.parse_args(argv)
    failed = False
    print(f"charts from {charts.charts_dir()}")
    for render in render_environment(load_environment(args.env)):
        for release in render.releases:
            rendered = render.rendered[release.name]
            state = f"{len(rendered.objects)} objects" if rendered else f"not rendered: {release.unavailable}"
            print(f"{render.cluster.key}: {release.installer} {release.name} ({release.chart} {release.version}): {state}")
        for problem in problems(render):
            failed = True
            print(f"{render.cluster.key}: {problem}")
    return EXIT_CHECK_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
