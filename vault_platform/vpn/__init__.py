"""Client profiles for the vpn stack's Client VPN endpoint: ``python -m vault_platform.vpn``.

The profile command is the report's ``generate-client.sh`` done in Python: it reads the
root CA and the endpoint's name from the deployed stack's outputs, makes the user's key
on this machine, signs a short-lived client certificate, and writes one ``.ovpn`` file
(mode 0600) with everything embedded. Nothing it makes goes into Terraform.
"""
