"""What Flux and the platform stacks install into each cluster, rendered by real Helm.

Every HelmRelease of a cluster's Flux tree and every chart a platform stack installs
(``HelmAddonProps`` in vault_platform/addons/) is rendered with ``helm template`` as the
installer would: its values and ``valuesFrom``, the cluster's platform-vars substituted, its
namespace and release name, the cluster's Kubernetes version, CRDs included. The pinned chart
archives come from a directory (``charts.charts_dir()``); docs/kubernetes-rendering.md says
what is rendered and what is not.
"""
