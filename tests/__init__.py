"""The test suite. Importing the package first, before any test module or helper imports a
provider binding: its shallow provider loader (vault_platform/provider_imports.py) must be in
place, or `from cdktf_cdktf_provider_aws.<resource> import ...` loads the whole AWS binding
(about 40 s of every pytest process, each xdist worker included)."""

import vault_platform  # noqa: F401 (installs the shallow provider loader and the project's Node)
