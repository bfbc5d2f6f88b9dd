"""python -m vault_platform.vaultlab: the local Vault demo (`make vault-demo`)."""

from vault_platform.vaultlab.demo import main

raise SystemExit(main())
