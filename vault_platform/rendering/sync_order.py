"""Does a cluster's first sync converge? The order Terraform and Flux install things in,
from the platform stack's chart ``depends_on`` and the Kustomizations' and HelmReleases'
``dependsOn``, checked against what each object needs to exist (and be ready) first:

- the CRD of every custom resource;
- the namespace of every namespaced object (and a HelmRelease's target namespace:
  helm-controller does not create it unless ``install.createNamespace``);
- every admission webhook whose rules select the object (a Pod template counts as its pods):
  its release must be ready, or the API server refuses the object (failurePolicy Fail) or
  lets it through unmutated (Ignore: a pod without its injected agent);
- no dependency cycle, no ``dependsOn`` naming nothing.

"Ready before" is what the installers really wait for. Terraform's helm releases wait for
their workloads and run before Flux exists. A Kustomization's ``dependsOn`` waits for the
other Kustomization to be Ready; with ``wait: true`` that means every object it applied is
healthy *as kstatus judges it*, which is: built-in workloads rolled out, Flux's own kinds
Ready, and for any other custom resource nothing beyond existing (kstatus reads only
observedGeneration and Reconciling/Stalled conditions), unless ``healthCheckExprs`` says
more. ``not_waited`` lists those. Inside one Kustomization, Flux applies CRDs and Namespaces
first and waits for them; inside one Helm release, Helm installs ``crds/`` and then sorts
CRDs and Namespaces first.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault_platform.addons.flux import FLUX_NAMESPACE
from vault_platform.rendering.releases import FLUX, TERRAFORM, ChartRelease, ClusterRender

BUILTIN_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration", "StorageClass", "PersistentVolume", "IngressClass", "PriorityClass", "APIService",
    "CSIDriver", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding"})
# Mutating webhooks that change only objects which opt in, by the annotation on the pod
# template that opts in: any other object passes unchanged, ready or not.
OPT_IN_ANNOTATIONS: dict[str, tuple[str, str]] = {
    # vault-k8s injects only pods annotated vault.hashicorp.com/agent-inject: "true".
    "vault.hashicorp.com": ("vault.hashicorp.com/agent-inject", "true"),
}
WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "CronJob"})
# Groups whose kinds kstatus judges by their Ready condition (Flux's own controllers set
# observedGeneration, Reconciling and Ready as kstatus expects).
KSTATUS_GROUPS = (".toolkit.fluxcd.io",)

# dependsOn edges that order but do not wait (wait: true judges these custom resources by
# existence only, no healthCheckExprs covers them), keyed "<unit> -> <dependency>: <Kind> <name>",
# with why the sync converges anyway. A new one fails until it is fixed or given a reason.
ACCEPTED_NOT_WAITED: dict[str, str] = {
    "gitlab-runner -> external-secrets-store: ClusterSecretStore vault":
        "the ExternalSecret gitlab-runner-token is retried by ESO until the store reaches Vault; until then the "
        "runner pod lacks its Secret and the gitlab-runner Kustomization's wait times out and retries (retryInterval "
        "1m). Converges, not in one pass. A healthCheckExprs on ClusterSecretStore (Ready condition) would make it wait.",
    "vault -> vault-pki: ClusterIssuer vault-ca":
        "the Certificate vault-server-tls is retried by cert-manager until the issuer is ready; Vault's pods wait for "
        "the Secret (volume mount) meanwhile. Converges.",
    "vault-config -> vault: Certificate vault-server-tls":
        "the Jobs only need the Vault pods, which the vault HelmRelease's readiness already waits for; the "
        "Certificate itself is never read by vault-config.",
    "demo -> istio-mesh: AuthorizationPolicy allow-ingress":
        "policies take effect when they exist; nothing to wait for.",
    "demo -> istio-mesh: AuthorizationPolicy deny-all": "as above.",
    "demo -> istio-mesh: PeerAuthentication default": "as above.",
}


@dataclass(frozen=True)
class Origin:
    """Who applies an object: a Terraform chart, a Flux unit's own file, or a Flux HelmRelease."""

    installer: str
    unit: str = ""  # Flux Kustomization
    release: str = ""  # chart release (TF add-on or HelmRelease name)

    def __str__(self) -> str:
        if self.installer == TERRAFORM:
            return f"platform stack chart {self.release}"
        return f"Kustomization {self.unit}" + (f" / HelmRelease {self.release}" if self.release else "")


@dataclass(frozen=True)
class Placed:
    origin: Origin
    obj: dict
    namespace: str  # effective namespace ("" when cluster-scoped)


def _group(obj: dict) -> str:
    return obj.get("apiVersion", "").rpartition("/")[0]


class SyncModel:
    def __init__(self, render: ClusterRender) -> None:
        self.render = render
        self.units = {unit.name: unit for unit in render.units}
        self.releases: dict[str, ChartRelease] = {release.name: release for release in render.releases}
        self.placed: list[Placed] = []
        crd_scopes = {}
        for _, obj in render.all_objects():
            if obj.get("kind") == "CustomResourceDefinition":
                crd_scopes[(obj["spec"]["group"], obj["spec"]["names"]["kind"])] = obj["spec"]
        self.crds = crd_scopes
        entry = Origin(FLUX, unit="<root>")
        for unit in render.units:
            self._place(entry, unit.kustomization, "")
            for obj in unit.objects:
                self._place(Origin(FLUX, unit=unit.name), obj, "")
        for release in render.releases:
            origin = Origin(release.installer, unit=release.unit, release=release.name)
            for obj in render.objects_of(release):
                self._place(origin, obj, release.namespace)

    def _namespaced(self, obj: dict) -> bool:
        spec = self.crds.get((_group(obj), obj.get("kind")))
        if spec is not None:
            return spec.get("scope") == "Namespaced"
        return obj.get("kind") not in CLUSTER_SCOPED

    def _place(self, origin: Origin, obj: dict, default_namespace: str) -> None:
        namespace = (obj.get("metadata") or {}).get("namespace") or default_namespace or "default"
        self.placed.append(Placed(origin, obj, namespace if self._namespaced(obj) else ""))

    # -- what waits for what -------------------------------------------------------------

    def unit_closure(self, name: str) -> set[str]:
        return _closure(name, {unit_name: unit.depends_on for unit_name, unit in self.units.items()})

    def release_closure(self, name: str) -> set[str]:
        return _closure(name, {release_name: r.depends_on for release_name, r in self.releases.items()})

    def ready_before(self, provider: Origin, consumer: Origin, *, needs_ready: bool) -> bool:
        """Is what ``provider`` applies there (and, with needs_ready, ready) before ``consumer`` applies?"""
        if provider == consumer:
            return True
        if provider.installer == TERRAFORM:
            return consumer.installer == FLUX or provider.release in self.release_closure(consumer.release)
        if consumer.installer == TERRAFORM:
            return False
        if consumer.unit == "<root>":
            return False
        if provider.unit == "<root>":
            return True  # the root Kustomization applied the consumer's own Kustomization
        if provider.release and consumer.release and provider.release in self.release_closure(consumer.release):
            return True  # a HelmRelease's dependsOn waits for the other release to be Ready
        if provider.unit == consumer.unit and not provider.release:
            return True  # Flux applies a unit's CRDs and Namespaces first and waits for them
        if provider.unit in self.unit_closure(consumer.unit):
            unit = self.units[provider.unit]
            return not (provider.release or needs_ready) or bool(unit.kustomization["spec"].get("wait"))
        return False

    # -- the checks ----------------------------------------------------------------------

    def cycles(self) -> list[str]:
        found = []
        for graph, kind in ((({n: u.depends_on for n, u in self.units.items()}), "Kustomization"),
                            ({n: r.depends_on for n, r in self.releases.items()}, "release")):
            state: dict[str, int] = {}

            def visit(node: str, path: tuple[str, ...]) -> None:
                if state.get(node) == 2:
                    return
                if state.get(node) == 1:
                    found.append(f"{kind} dependsOn cycle: {' -> '.join((*path[path.index(node):], node))}")
                    return
                state[node] = 1
                for dependency in graph[node]:
                    if dependency not in graph:
                        found.append(f"{kind} {node} dependsOn {dependency}, which this cluster does not have")
                    else:
                        visit(dependency, (*path, node))
                state[node] = 2

            for node in sorted(graph):
                visit(node, ())
        return found

    def _providers(self, predicate) -> list[Origin]:
        return [placed.origin for placed in self.placed if predicate(placed.obj)]

    def missing_crds(self) -> list[str]:
        problems = []
        for placed in self.placed:
            obj = placed.obj
            key = (_group(obj), obj.get("kind"))
            if key not in self.crds:
                continue
            providers = self._providers(lambda o, key=key: o.get("kind") == "CustomResourceDefinition"
                                        and (o["spec"]["group"], o["spec"]["names"]["kind"]) == key)
            if not any(self.ready_before(p, placed.origin, needs_ready=False) for p in providers):
                problems.append(f"{placed.origin}: {obj['kind']} {obj['metadata'].get('name')} may be applied before its "
                                f"CRD ({' or '.join(map(str, providers))}); fix: add a dependsOn on it (with wait: true)")
        return problems

    def missing_namespaces(self, created_by_terraform: frozenset[str] = frozenset({FLUX_NAMESPACE})) -> list[str]:
        """``created_by_terraform``: the platform stack's own namespace resources."""
        problems = []
        needs = [(p.origin, p.namespace, f"{p.obj['kind']} {p.obj['metadata'].get('name')}") for p in self.placed if p.namespace]
        needs += [(Origin(FLUX, unit=r.unit, release=r.name), r.namespace, f"HelmRelease {r.name}'s target namespace")
                  for r in self.releases.values() if r.installer == FLUX]
        for origin, namespace, what in needs:
            if namespace in BUILTIN_NAMESPACES or namespace in created_by_terraform:
                continue
            providers = self._providers(lambda o, ns=namespace: o.get("kind") == "Namespace" and o["metadata"]["name"] == ns)
            if not any(self.ready_before(p, origin, needs_ready=False) for p in providers):
                problems.append(f"{origin}: {what} needs namespace {namespace}, "
                                + (f"made by {' or '.join(map(str, providers))} with no order between them"
                                   if providers else "which nothing creates")
                                + "; fix: create the namespace in the same Kustomization, or dependsOn the one that does")
        return problems

    def _namespace_labels(self, name: str) -> dict:
        for placed in self.placed:
            if placed.obj.get("kind") == "Namespace" and placed.obj["metadata"]["name"] == name:
                return {**(placed.obj["metadata"].get("labels") or {}), "kubernetes.io/metadata.name": name}
        return {"kubernetes.io/metadata.name": name}

    def _resource(self, obj: dict) -> str:
        spec = self.crds.get((_group(obj), obj.get("kind")))
        if spec is not None:
            return spec["names"]["plural"]
        kind = obj["kind"].lower()
        return kind[:-1] + "ies" if kind.endswith("y") else kind + ("es" if kind.endswith("s") else "s")

    def unadmitted(self) -> list[str]:
        """Objects a webhook of another release must admit, applied before that release is ready."""
        problems = []
        for config in self.placed:
            if config.obj.get("kind") not in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
                continue
            for webhook in config.obj.get("webhooks") or ():
                for placed in self.placed:
                    if placed.origin == config.origin or not placed.namespace:
                        continue
                    if placed.origin.installer == TERRAFORM and config.origin.installer == FLUX:
                        continue  # installed before Flux exists: no webhook of Flux's is called for it
                    metadata = placed.obj.get("metadata") or {}
                    subjects = [(placed.obj, metadata.get("labels") or {}, metadata.get("annotations") or {})]
                    if placed.obj.get("kind") in WORKLOADS:
                        spec = placed.obj["spec"]
                        template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template", {})
                        pod = template.get("metadata") or {}
                        subjects.append(({"apiVersion": "v1", "kind": "Pod"}, pod.get("labels") or {}, pod.get("annotations") or {}))
                    for subject, labels, annotations in subjects:
                        opt_in = OPT_IN_ANNOTATIONS.get(webhook["name"])
                        if opt_in is not None and annotations.get(opt_in[0]) != opt_in[1]:
                            continue
                        if not rules_match(webhook, _group(subject), self._resource(subject)):
                            continue
                        if not (selects(webhook.get("namespaceSelector"), self._namespace_labels(placed.namespace))
                                and selects(webhook.get("objectSelector"), labels)):
                            continue
                        if not self.ready_before(config.origin, placed.origin, needs_ready=True):
                            problems.append(
                                f"{placed.origin}: {placed.obj['kind']} {placed.obj['metadata'].get('name')}"
                                f"{' (its pods)' if subject is not placed.obj else ''} is admitted by webhook "
                                f"{webhook['name']} ({config.origin}, failurePolicy {webhook.get('failurePolicy', 'Fail')}) "
                                "but does not wait for it to be ready; fix: dependsOn its Kustomization (wait: true) or HelmRelease")
        return sorted(set(problems))

    def problems(self) -> list[str]:
        return [*self.cycles(), *self.missing_crds(), *self.missing_namespaces(), *self.unadmitted()]

    def not_waited(self) -> list[str]:
        """dependsOn edges whose target applies custom resources that wait: true does not
        judge beyond existence (and that no healthCheckExprs covers): ordered, not waited for."""
        found = []
        for unit in self.units.values():
            for dependency in unit.depends_on:
                target = self.units.get(dependency)
                if target is None:
                    continue
                exprs = {(e.get("apiVersion", "").rpartition("/")[0], e.get("kind"))
                         for e in target.kustomization["spec"].get("healthCheckExprs") or ()}
                for obj in target.objects:
                    key = (_group(obj), obj.get("kind"))
                    if key in self.crds and not key[0].endswith(KSTATUS_GROUPS) and key not in exprs:
                        found.append(f"{unit.name} -> {dependency}: {obj['kind']} {obj['metadata']['name']}")
        return sorted(set(found))


def _closure(name: str, graph: dict[str, tuple[str, ...]]) -> set[str]:
    """Everything ``name`` depends on, directly or not (names the graph lacks left out)."""
    seen, todo = set(), [name]
    while todo:
        for dependency in graph.get(todo.pop(), ()):
            if dependency in graph and dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


def rules_match(webhook: dict, group: str, resource: str) -> bool:
    for rule in webhook.get("rules") or ():
        operations = rule.get("operations") or ()
        if not ({"CREATE", "*"} & set(operations)):
            continue
        groups, resources = rule.get("apiGroups") or (), rule.get("resources") or ()
        if ("*" in groups or group in groups) and ("*" in resources or resource in resources):
            return True
    return False


def selects(selector: dict | None, labels: dict) -> bool:
    if not selector:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or ():
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or ()
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True
