"""Every bad input the project rejects, in one place: environment fields of every table
(incl. vpn, gitops, state and the assume-role), environment names, command-line flags, and
outputs of a stack that was never deployed. Each is refused with one line that names the
field, the value and the fix. The environment-file cases of tests/test_config.py are part
of the catalogue (imported, not repeated)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.test_config import BAD_INPUT as CORE_CONFIG_CASES
from tests.helpers import ENVIRONMENTS_DIR, drop, set_at, with_change
from vault_platform.config import load_environment, parse_environment
from vault_platform.errors import ConfigError

ROLE = "arn:aws:iam::111122223333:role/deployer"
KEY = "arn:aws:kms:eu-west-1:111122223333:alias/tfstate"


# A complete [ci] table (the default environment has none), for cases about one of its keys.
CI_TABLE = {"gitlab_url": "https://gitlab.example.com", "project_path": "platform/vault-platform", "project_id": 4242,
            "namespace_id": 1717, "oidc_provider": "create"}


def with_ci(change: Callable[[dict], None]) -> Callable[[dict], None]:
    def both(data: dict) -> None:
        data["ci"] = dict(CI_TABLE)
        change(data)
    return both


def with_state(**fields: object) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        data["account_id"] = "111122223333"
        data["state"] = {"bucket": "acme-tfstate", "region": "eu-west-1", "kms_key_arn": KEY, **fields}
        for key in [k for k, v in fields.items() if v is None]:
            del data["state"][key]
    return change


def both(*changes: Callable[[dict], None]) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        for each in changes:
            each(data)
    return change


def clusters(*changes: dict) -> Callable[[dict], None]:
    """The file in list form: the default's application cluster, then one more cluster per
    change (a dict merged into a copy of it, with its own name and range unless given)."""
    def change(data: dict) -> None:
        first = data.pop("application")
        data["application_clusters"] = [first]
        for index, extra in enumerate(changes, start=1):
            table = json.loads(json.dumps(first))
            table.pop("database", None)
            table["cluster"]["name"] = f"team{index}"
            table["network"]["cidr"] = f"10.{20 + index}.0.0/16"
            for key, value in extra.items():
                *parents, last = key.split(".")
                node = table
                for part in parents:
                    node = node.setdefault(part, {})
                node[last] = value
            data["application_clusters"].append(table)
    return change


def many_clusters(count: int) -> Callable[[dict], None]:
    return clusters(*({"network.cidr": f"10.{100 + index}.0.0/16"} for index in range(count - 1)))


# (case, change, field named, value named, words of the fix)
CONFIG_CASES = [
    *CORE_CONFIG_CASES,
    ("assume_role_arn not a role ARN", set_at("assume_role_arn", "deployer"), "assume_role_arn", "deployer", "arn:aws:iam::"),
    ("assume_role_arn of a user", set_at("assume_role_arn", "arn:aws:iam::111122223333:user/bob"), "assume_role_arn",
     "arn:aws:iam::111122223333:user/bob", "role/<name>"),
    ("assume_role_arn in another account", both(set_at("account_id", "444455556666"), set_at("assume_role_arn", ROLE)),
     "assume_role_arn", ROLE, "correct account_id"),
    ("state table missing its bucket", with_state(bucket=None), "state.bucket", "<missing>", "add 'bucket = ...'"),
    ("state table with a DynamoDB lock table", with_state(dynamodb_table="locks"), "state.dynamodb_table", "locks", "remove it"),
    ("state bucket with dots", with_state(bucket="acme.tfstate"), "state.bucket", "acme.tfstate", "acme-vault-platform-tfstate"),
    ("vault backup schedule not cron", set_at("tooling.vault_backup.schedule", "hourly"), "tooling.vault_backup.schedule",
     "hourly", '"0 * * * *"'),
    ("vault backup schedule out of range", set_at("tooling.vault_backup.schedule", "0 24 * * *"),
     "tooling.vault_backup.schedule", "0 24 * * *", "five fields"),
    ("vault backup retention of 0", set_at("tooling.vault_backup.retention_days", 0), "tooling.vault_backup.retention_days",
     "0", "write e.g. 30"),
    ("vault backup bucket not a bucket name", set_at("tooling.vault_backup.bucket", "Vault_Backups"),
     "tooling.vault_backup.bucket", "Vault_Backups", "acme-vault-backup"),
    ("state bucket with capitals", with_state(bucket="Acme-TFState"), "state.bucket", "Acme-TFState", "e.g."),
    ("state region not a region", with_state(region="Ireland"), "state.region", "Ireland", "e.g. eu-west-1"),
    ("state key not an ARN", with_state(kms_key_arn="alias/tfstate"), "state.kms_key_arn", "alias/tfstate", "arn:aws:kms:"),
    ("state key in another region", with_state(kms_key_arn=KEY.replace("eu-west-1", "us-east-1")), "state.kms_key_arn",
     KEY.replace("eu-west-1", "us-east-1"), "use a key in eu-west-1"),
    ("state key in another account", with_state(kms_key_arn=KEY.replace("111122223333", "999999999999")), "state.kms_key_arn",
     KEY.replace("111122223333", "999999999999"), "own account"),
    ("state as a value, not a table", set_at("state", "s3://acme-tfstate"), "state", "s3://acme-tfstate", "[state]"),
    ("VPN range overlapping a VPC", set_at("vpn.client_cidr", "10.10.0.0/22"), "vpn.client_cidr", "10.10.0.0/22", "outside every VPC"),
    ("VPN range too small", set_at("vpn.client_cidr", "172.16.0.0/24"), "vpn.client_cidr", "172.16.0.0/24", "172.16.0.0/22"),
    ("VPN session length", set_at("vpn.session_timeout_hours", 6), "vpn.session_timeout_hours", "6", "(8, 10, 12, 24)"),
    ("VPN associations beyond the zones", set_at("vpn.association_count", 5), "vpn.association_count", "5", "from 1 to 3"),
    ("VPN log retention", set_at("vpn.log_retention_days", 45), "vpn.log_retention_days", "45", "use one of"),
    ("deploy access unknown", set_at("deploy.access", "bastion"), "deploy.access", "bastion", "vpn, public-endpoint"),
    ("deploy through public endpoints that are off", set_at("deploy.access", "public-endpoint"),
     "tooling.cluster.public_access_cidrs", "[]", "deploy.access = 'vpn'"),
    ("scp-style Git URL", set_at("gitops.url", "git@gitlab.example.com:platform/repo.git"), "gitops.url",
     "git@gitlab.example.com:platform/repo.git", "ssh://git@"),
    ("plain http Git URL", set_at("gitops.url", "http://gitlab.example.com/platform/repo.git"), "gitops.url",
     "http://gitlab.example.com/platform/repo.git", "https://"),
    ("Git branch with ..", set_at("gitops.branch", "release..1"), "gitops.branch", "release..1", "e.g. main"),
    ("GitOps path leaving the repository", set_at("gitops.path", "./flux/../../etc"), "gitops.path", "./flux/../../etc", "./flux/clusters"),
    ("Flux interval in words", set_at("gitops.interval", "5 minutes"), "gitops.interval", "5 minutes", "5m"),
    ("ssh URL without a deploy key", set_at("gitops.secret_name", ""), "gitops.secret_name", "", "flux-git-deploy-key"),
    ("no branch may plan", with_ci(set_at("ci.plan_branches", [])), "ci.plan_branches", "[]", '["*"] for any branch'),
    ("plan branch with a space", with_ci(set_at("ci.plan_branches", ["main", "my branch"])), "ci.plan_branches[1]", "my branch",
     '"release/*"'),
    ("plan branch with IAM's '?' wildcard", with_ci(set_at("ci.plan_branches", ["release-?"])), "ci.plan_branches[0]", "release-?",
     '"release/*"'),
    ("plan branches leaving out the deploy branch", with_ci(set_at("ci.plan_branches", ["release/*"])), "ci.plan_branches",
     "['release/*']", 'add "main" to plan_branches'),
    ("plan branches as one string", with_ci(set_at("ci.plan_branches", "main")), "ci.plan_branches", "main", "plan_branches = ["),
    ("accepted policy finding that is not a check id", set_at("policy.accepted.multi-az", "staging trades availability for cost"),
     "policy.accepted.multi-az", "staging trades availability for cost", "e.g. CKV_AWS_157"),
    ("accepted policy finding without a real reason", set_at("policy.accepted.CKV_AWS_157", "ok"),
     "policy.accepted.CKV_AWS_157", "ok", "say why this environment accepts the finding"),
    ("AWS-reserved tag key", set_at("tags.aws:owner", "me"), "tags.aws:owner", "me", "rename the tag"),
    ("environment name with capitals", set_at("name", "Prod"), "name", "Prod", "rename it"),
    ("unknown ECR repository name", set_at("tooling.ecr_repositories", ["Demo App"]), "tooling.ecr_repositories[0]", "Demo App", "lower-case"),
    ("EKS admin not an ARN", set_at("application.cluster.admin_principal_arns", ["alice"]), "application.cluster.admin_principal_arns[0]",
     "alice", "arn:aws:iam::"),
    ("two EKS admins with one access-entry id",
     set_at("application.cluster.admin_principal_arns", ["arn:aws:iam::123456789012:role/ops/admin",
                                                         "arn:aws:iam::210987654321:role/admin"]),
     "application.cluster.admin_principal_arns[1]", "arn:aws:iam::210987654321:role/admin", "list each role or user once"),
    ("database engine version", set_at("application.database.engine_version", "9.6"), "application.database.engine_version", "9.6", "16"),
    # 1.33 left standard support on 2026-07-29 and is in extended support (a notice, not an
    # error); 1.31 left extended support on 2026-11-26.
    ("Kubernetes past EKS extended support", set_at("tooling.cluster.kubernetes_version", "1.31"), "tooling.cluster.kubernetes_version",
     "1.31", "use one in standard support: "),
    ("database pinned to a minor version", set_at("application.database.engine_version", "16.8"), "application.database.engine_version",
     "16.8", 'write the major version "16"'),
    ("storage above its maximum", set_at("application.database.allocated_storage_gib", 500), "application.database.allocated_storage_gib",
     "500", "raise max_allocated_storage_gib"),
    ("spot spelled wrong", set_at("application.cluster.node_groups", [{"name": "workers", "capacity_type": "spot"}]),
     "application.cluster.node_groups[0].capacity_type", "spot", "ON_DEMAND or SPOT"),
    ("missing tooling table", drop("tooling"), "tooling", "<missing>", "add 'tooling = ...'"),
    # Several application clusters ([[application_clusters]], issue 15).
    ("legacy [application] next to [[application_clusters]]", both(clusters({}), set_at("application", {"network": {}})),
     "application", "<table>", "move [application...] into one more [[application_clusters]] table"),
    ("no application cluster at all", drop("application"), "application_clusters", "<missing>", "add a [[application_clusters]] table"),
    ("two clusters with one name", clusters({"cluster.name": "application"}), "application_clusters[1].cluster.name",
     "application", "give each application cluster its own name"),
    ("application VPCs overlapping each other", clusters({"network.cidr": "10.20.128.0/17"}), "application_clusters[1].network.cidr",
     "10.20.128.0/17", "outside the application_clusters[0] VPC (10.20.0.0/16)"),
    ("third VPC overlapping the second", clusters({}, {"network.cidr": "10.21.0.0/20"}), "application_clusters[2].network.cidr",
     "10.21.0.0/20", "outside the application_clusters[1] VPC"),
    ("VPN range overlapping the second application VPC", both(clusters({"network.cidr": "172.16.0.0/16"})),
     "vpn.client_cidr", "172.16.0.0/22", "outside every VPC"),
    ("cluster named like the vpn stack", clusters({"cluster.name": "vpn"}), "application_clusters[1].cluster.name", "vpn",
     "not one of tooling, vpn, state-bootstrap"),
    ("cluster named like a platform stack", clusters({"cluster.name": "search-platform"}), "application_clusters[1].cluster.name",
     "search-platform", "nor ending in '-platform'"),
    ("cluster name too long for its IAM roles", clusters({"cluster.name": "a" * 31}), "application_clusters[1].cluster.name",
     "a" * 31, "within 35 characters"),
    ("second demo database", clusters({"database": {}}), "application_clusters[1].database", "<table>",
     "remove the table from application_clusters[1]"),
    ("no demo database", both(drop("application.database"), clusters({})), "application_clusters[].database", "<none>",
     "add an [application_clusters.database] table to one cluster"),
    ("second cluster's API private while deploying through public endpoints",
     both(set_at("deploy.access", "public-endpoint"), set_at("tooling.cluster.public_access_cidrs", ["203.0.113.0/24"]),
          set_at("application.cluster.public_access_cidrs", ["203.0.113.0/24"]), clusters({"cluster.public_access_cidrs": []})),
     "application_clusters[1].cluster.public_access_cidrs", "[]", "deploy.access = 'vpn'"),
    ("more clusters than peering connections per VPC", many_clusters(51), "application_clusters", "51 clusters",
     "quota code L-7E9ECCDB"),
    ("more clusters than routes per route table", many_clusters(48), "application_clusters", "48 clusters",
     "quota code L-93826ACB"),
    ("more NAT gateways than a fresh account has Elastic IPs", drop("quotas"), "quotas.elastic_ips_per_region", "5",
     "quota code L-0263D0A3"),
]


def assert_one_line(message: str, field: str, value: str, fix: str) -> None:
    assert "\n" not in message.rstrip("\n"), message
    assert f"{field} = " in message, message
    assert repr(value) in message or value in message, message
    assert "; fix: " in message and fix in message.split("; fix: ", 1)[1], message


@pytest.mark.parametrize(("case", "change", "field", "value", "fix"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_environment_file(case: str, change: Callable, field: str, value: str, fix: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_environment(with_change(change), source="environments/test.toml")
    assert raised.value.field == field, str(raised.value)
    assert str(raised.value).startswith(f"environments/test.toml: {field} = ")
    assert_one_line(str(raised.value), field, value, fix)


ENVIRONMENT_NAMES = [
    ("path instead of a name", "../../etc/passwd", "without directory"),
    ("file name with extension", "staging.toml", "without directory or .toml"),
    ("capitals", "Staging", "one of: default"),
    ("no such file", "qa", "create environments/qa.toml"),
]


@pytest.mark.parametrize(("case", "name", "fix"), ENVIRONMENT_NAMES, ids=[c[0] for c in ENVIRONMENT_NAMES])
def test_environment_name(case: str, name: str, fix: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_environment(name)
    assert raised.value.field == "environment"
    assert_one_line(str(raised.value), "environment", name, fix)


def test_an_environment_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    """It crashed with a UnicodeDecodeError traceback."""
    (tmp_path / "latin.toml").write_bytes((ENVIRONMENTS_DIR / "default.toml").read_bytes().replace(b'"demo"', b'"d\xe9mo"'))
    with pytest.raises(ConfigError) as raised:
        load_environment("latin", tmp_path)
    assert_one_line(str(raised.value), "file", "environments/latin.toml", "save the file as UTF-8")
    assert "byte 0xe9 on line" in str(raised.value)


def test_bootstrap_needs_an_alias_it_can_create() -> None:
    from vault_platform.stacks.state_bootstrap import state_key_alias

    key_arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    env = parse_environment(with_change(with_state(kms_key_arn=key_arn)))
    with pytest.raises(ConfigError) as raised:
        state_key_alias(env)
    assert_one_line(str(raised.value), "state.kms_key_arn", key_arn, ":alias/terraform-state")


# (case, argv, field, value, fix): main.py refuses these before writing anything.
COMMAND_LINES = [
    ("--all-envs with --env", ["--all-envs", "--env", "staging"], "--env", "staging", "pass one of the two"),
    ("--bootstrap without a [state] table", ["--bootstrap"], "--bootstrap", "True", "add [state]"),
    ("--env naming no file", ["--env", "qa"], "environment", "qa", "pick one of"),
    ("--env with a path", ["--env", "../default"], "environment", "../default", "without directory"),
]


@pytest.mark.parametrize(("case", "argv", "field", "value", "fix"), COMMAND_LINES, ids=[c[0] for c in COMMAND_LINES])
def test_command_line(case: str, argv: list[str], field: str, value: str, fix: str, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    import main

    outdir = tmp_path / "out"
    assert main.main([*argv, "--outdir", str(outdir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert_one_line(err, field, value, fix)
    assert not outdir.exists(), "a refused command must write nothing"


def test_unknown_flag_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    import main

    with pytest.raises(SystemExit) as exited:
        main.main(["--enviroment", "staging"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--enviroment" in err and "; fix: see `python main.py --help`" in err, err


# Outputs of the vpn stack that `python -m vault_platform.vpn client` needs.
NOT_DEPLOYED = [
    ("outputs of a stack never deployed", {}, "lack endpoint_dns_name"),
    ("state file of a stack never deployed", {"version": 4, "outputs": {}}, "lack endpoint_dns_name"),
    ("outputs not an object", [], "is not a JSON object of outputs"),
]


@pytest.mark.parametrize(("case", "content", "problem"), NOT_DEPLOYED, ids=[c[0] for c in NOT_DEPLOYED])
def test_vpn_client_on_a_stack_never_deployed(case: str, content: object, problem: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from vault_platform.vpn.__main__ import main

    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(content))
    assert main(["client", "alice", "--stack-state", str(outputs), "--out", str(tmp_path / "profiles")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err, err
    assert_one_line(err, "stack outputs", str(outputs), "cdktf deploy vpn")
    assert not (tmp_path / "profiles" / "alice.ovpn").exists()


def test_vpn_client_without_saved_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vault_platform.vpn.__main__ import main

    missing = tmp_path / "nowhere.json"
    assert main(["client", "alice", "--stack-state", str(missing)]) == 2
    assert_one_line(capsys.readouterr().err, "--stack-state", str(missing), "cdktf deploy vpn")


def test_vpn_client_bad_user_name(capsys: pytest.CaptureFixture[str]) -> None:
    from vault_platform.vpn.__main__ import main

    assert main(["client", "../alice", "--stack-state", "unused.json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "user = '../alice'" in err and "; fix: " in err, err


def test_catalogue_is_at_least_25_distinct_cases() -> None:
    cases = [c[0] for c in CONFIG_CASES] + [c[0] for c in ENVIRONMENT_NAMES] + [c[0] for c in COMMAND_LINES] + \
        [c[0] for c in NOT_DEPLOYED]
    assert len(cases) == len(set(cases)) and len(cases) >= 25 + len(CORE_CONFIG_CASES)
