"""Vault-centred secret-management platform on AWS, as cdktf stacks.

Importing the package first installs the shallow provider loader (see
``provider_imports``) so that every later ``from cdktf_cdktf_provider_aws.<resource> import``
pays only for what it names.
"""

from vault_platform import provider_imports as _provider_imports

_provider_imports.install()
