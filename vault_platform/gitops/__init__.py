"""The contract between Terraform and the GitOps tree in flux/: the platform-vars keys, the ${VAR}
scanner of a cluster's Flux tree, and the offline checks of Vault's configuration in Git."""
