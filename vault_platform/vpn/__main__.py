"""python -m vault_platform.vpn: client profiles and revocation lists for the vpn stack.

    python -m vault_platform.vpn client alice                 # ./alice.ovpn, from the deployed stack
    python -m vault_platform.vpn client alice --out ~/vpn --days 30
    python -m vault_platform.vpn client alice --stack-state outputs.json   # `terraform output -json` saved
    python -m vault_platform.vpn crl 3f2a... 91bc...  --out crl.pem        # then import it (README)

Without --stack-state the outputs come from `terraform output -json` in the vpn stack's
directory, cdktf.out/stacks/<stack> (after `cdktf deploy vpn`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vault_platform.cli import OneLineParser, one_line_errors
from vault_platform.errors import ConfigError
from vault_platform.vpn.client import (
    DEFAULT_VALIDITY_DAYS,
    VpnStackOutputs,
    create_profile,
    read_outputs_file,
    read_outputs_from_terraform,
    refuse_overwrite,
    revocation_list,
)

ENVIRONMENT_VARIABLE = "VAULT_PLATFORM_ENV"


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m vault_platform.vpn", description=__doc__.split("\n\n")[0],
                           formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    commands = parser.add_subparsers(dest="command", required=True)

    def add_source(command: argparse.ArgumentParser) -> None:
        source = command.add_mutually_exclusive_group()
        source.add_argument("--stack-state", type=Path, metavar="PATH",
                            help="JSON of `terraform output -json` in the vpn stack (or its state file)")
        source.add_argument("--stack-dir", type=Path, metavar="DIR",
                            help="run `terraform output -json` here (default: cdktf.out/stacks/<vpn stack>)")
        command.add_argument("--env", default=os.environ.get(ENVIRONMENT_VARIABLE) or "default",
                             help="environment whose vpn stack to read (default: $VAULT_PLATFORM_ENV or 'default')")

    client = commands.add_parser("client", help="write <user>.ovpn with a new key and certificate embedded")
    client.add_argument("user", help="the person's name: becomes the certificate's CN and the file name")
    client.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="directory for <user>.ovpn (default: .)")
    client.add_argument("--force", action="store_true", help="replace an existing profile of that user")
    client.add_argument("--days", type=int, default=DEFAULT_VALIDITY_DAYS,
                        help=f"certificate validity in days (default {DEFAULT_VALIDITY_DAYS})")
    add_source(client)

    crl = commands.add_parser("crl", help="write a revocation list of the given certificate serials")
    crl.add_argument("serials", nargs="+", metavar="SERIAL", help="hex serials, as each profile's second line shows; list all revoked so far")
    crl.add_argument("--out", type=Path, default=Path("crl.pem"), help="file to write (default: crl.pem)")
    crl.add_argument("--force", action="store_true", help="replace an existing file")
    add_source(crl)
    return parser


def vpn_stack_id(environment: str) -> str:
    """app.stack_id(environment, app.VPN), without importing the app: that loads the cdktf
    bindings and starts node, which a profile never needs (a test keeps the two equal)."""
    from vault_platform.config.load import DEFAULT_ENVIRONMENT

    return "vpn" if environment == DEFAULT_ENVIRONMENT else f"{environment}-vpn"


def _outputs(args: argparse.Namespace) -> VpnStackOutputs:
    if args.stack_state is not None:
        return read_outputs_file(args.stack_state)
    stack_dir = args.stack_dir
    if stack_dir is None:
        stack_dir = Path(os.environ.get("CDKTF_OUTDIR", "cdktf.out")) / "stacks" / vpn_stack_id(args.env)
    from vault_platform.binaries import BinaryNotFound
    from vault_platform.ops.terraform_cli import terraform_binary
    try:
        terraform = terraform_binary()
    except BinaryNotFound as error:
        raise ConfigError("terraform", "<not found>", str(error), "or pass --stack-state with a saved `terraform output -json`") from None
    return read_outputs_from_terraform(stack_dir, terraform)


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "client":
        from vault_platform.vpn.client import check_user_name

        check_user_name(args.user)  # before reading any outputs
        path, issued = create_profile(args.user, _outputs(args), args.out, force=args.force, days=args.days)
        print(f"Wrote {path} (mode 0600): certificate CN={args.user}, serial {issued.certificate.serial_number:x}, "
              f"valid until {issued.certificate.not_valid_after_utc:%Y-%m-%d}.")
        print(f"Connect: sudo openvpn --config {path}")
    else:
        from cryptography.hazmat.primitives import serialization

        from vault_platform.vpn.client import write_profile

        refuse_overwrite(args.out, args.force)
        crl = revocation_list(args.serials, _outputs(args))
        write_profile(args.out, crl.public_bytes(serialization.Encoding.PEM).decode(), force=args.force)
        print(f"Wrote {args.out} revoking {len(args.serials)} certificate(s). Import it (it replaces the endpoint's list):")
        print("  aws ec2 import-client-vpn-client-certificate-revocation-list "
              f"--client-vpn-endpoint-id <endpoint_id output> --certificate-revocation-list file://{args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
