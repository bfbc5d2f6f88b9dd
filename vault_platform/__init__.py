"""Vault-centred secret-management platform on AWS, as cdktf stacks.

Importing the package first installs the shallow provider loader (see
``provider_imports``) so that every later ``from cdktf_cdktf_provider_aws.<resource> import``
pays only for what it names (and the jsii runtime's Node loads only the provider modules
the stacks use), and puts the project's own Node first on PATH, with its deprecation warnings
off (see ``node_runtime``), so that the jsii runtime, started at the first cdktf import, runs on it.
"""

from vault_platform import node_runtime as _node_runtime
from vault_platform import provider_imports as _provider_imports

_node_runtime.prefer_project_node()
_node_runtime.quiet_node_warnings()  # before install(), which adds to NODE_OPTIONS
_provider_imports.install()
