"""Platform vars the flux/ tree uses that vault_platform/gitops/platform_vars.py does not list yet.

Requested from the Terraform side (issue 5 report). Each entry is allowed here only until
it lands in platform_vars.py; test_requested_vars_are_not_yet_in_the_contract then fails
and asks for it to be removed from this file.
"""

REQUESTED: dict[str, tuple[tuple[str, ...], str]] = {}


def keys_for(cluster: str) -> set[str]:
    return {key for key, (clusters, _) in REQUESTED.items() if cluster in clusters}
