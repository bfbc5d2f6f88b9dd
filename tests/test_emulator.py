"""The emulator starts on a free port, answers, and never outlives its owner."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import pytest

from vault_platform.ops.emulator import HOST, Emulator, EmulatorError, one_request_at_a_time

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose; it only waits to be reaped.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def _wait_dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_started_on_localhost_answers_and_stops_after_the_with_block() -> None:
    with Emulator() as emulator:
        pid = emulator.pid
        assert emulator.endpoint.startswith(f"http://{HOST}:")
        env = emulator.aws_env("eu-west-1")
        assert env["AWS_ENDPOINT_URL"] == emulator.endpoint and env["AWS_MAX_ATTEMPTS"] == "3"
        with urllib.request.urlopen(f"{emulator.endpoint}/moto-api/") as response:
            assert response.status == 200
    assert pid is not None and _wait_dead(pid)


def test_stopped_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError, match="boom"), Emulator() as emulator:
        pid = emulator.pid
        raise RuntimeError("boom")
    assert _wait_dead(pid)


def test_taken_port_is_one_clear_error_and_nothing_starts() -> None:
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        emulator = Emulator(port)
        with pytest.raises(EmulatorError, match=f"port {HOST}:{port} is already in use") as error:
            emulator.start()
        assert "\n" not in str(error.value)
        assert emulator.pid is None


@pytest.mark.parametrize("lost_race", ["before-the-check", "between-the-check-and-the-bind"])
def test_a_picked_port_taken_by_someone_else_is_picked_again(monkeypatch: pytest.MonkeyPatch, lost_race: str) -> None:
    """With no port asked for, a pick that another process takes first (before the emulator's
    check, or after it, so that moto itself fails to bind) costs a new pick, not the run."""
    from vault_platform.ops import emulator as emulator_module

    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        taken = busy.getsockname()[1]
        picks = iter([taken])
        real_free_port = emulator_module.free_port
        monkeypatch.setattr(emulator_module, "free_port", lambda: next(picks, None) or real_free_port())
        if lost_race == "between-the-check-and-the-bind":
            real_check = emulator_module._port_in_use
            monkeypatch.setattr(emulator_module, "_port_in_use", lambda port: port != taken and real_check(port))
        with Emulator() as emulator:
            assert emulator.port not in (None, taken)
            with urllib.request.urlopen(f"{emulator.endpoint}/moto-api/", timeout=5) as response:
                assert response.status == 200


@pytest.mark.parametrize("ending", ["sigterm", "exit-without-with"])
def test_server_does_not_outlive_its_owner_process(ending: str) -> None:
    """SIGTERM (CI cancelling a job) and a plain exit both stop the server (signal handler, atexit)."""
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        from vault_platform.ops.emulator import Emulator
        emulator = Emulator().start()
        print(emulator.pid, flush=True)
        if {ending!r} == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        sys.exit(0)
    """)
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    server_pid = int(process.stdout.split()[0])
    assert process.returncode == (128 + signal.SIGTERM if ending == "sigterm" else 0), process.stderr
    assert _wait_dead(server_pid), "the emulator outlived the process that started it"


def _clients(emulator: Emulator) -> tuple[object, object]:
    import boto3  # a dev dependency: missing, this fails instead of skipping

    options = dict(endpoint_url=emulator.endpoint, region_name="eu-west-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
    return boto3.client("eks", **options), boto3.client("ec2", **options)


def _cluster_in_own_vpc(eks: object, ec2: object, name: str) -> tuple[dict, str]:
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"eu-west-1{zone}")["Subnet"]["SubnetId"]
               for i, zone in enumerate("ab")]
    eks.create_cluster(name=name, roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={"subnetIds": subnets})
    return eks.describe_cluster(name=name)["cluster"], vpc_id


def test_every_eks_cluster_gets_its_own_oidc_issuer() -> None:
    """A correction the emulator process makes (emulator_gaps.PATCHED_ON_EMULATOR)."""
    with Emulator() as emulator:
        eks, ec2 = _clients(emulator)
        issuers = {_cluster_in_own_vpc(eks, ec2, name)[0]["identity"]["oidc"]["issuer"] for name in ("one", "two")}
    assert len(issuers) == 2


def test_every_eks_cluster_gets_a_cluster_security_group_as_on_aws() -> None:
    """GIVEN a cluster created on the emulator, THEN, as EKS documents it, it has its own
    security group in its VPC, named eks-cluster-sg-<name>-<id>, tagged for the cluster,
    admitting all traffic from itself; rules can reference it, and it goes with the cluster."""
    with Emulator() as emulator:
        eks, ec2 = _clients(emulator)
        cluster, vpc_id = _cluster_in_own_vpc(eks, ec2, "demo")
        group_id = cluster["resourcesVpcConfig"]["clusterSecurityGroupId"]
        assert cluster["resourcesVpcConfig"]["vpcId"] == vpc_id
        (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
        assert group["VpcId"] == vpc_id
        assert re.fullmatch(r"eks-cluster-sg-demo-\d{10}", group["GroupName"]), group["GroupName"]
        tags = {tag["Key"]: tag["Value"] for tag in group["Tags"]}
        assert tags["kubernetes.io/cluster/demo"] == "owned" and tags["aws:eks:cluster-name"] == "demo"
        (ingress,) = group["IpPermissions"]
        assert ingress["IpProtocol"] == "-1" and [p["GroupId"] for p in ingress["UserIdGroupPairs"]] == [group_id]
        assert any(rule["IpProtocol"] == "-1" and rule["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}] for rule in group["IpPermissionsEgress"])
        database = ec2.create_security_group(GroupName="database", Description="db", VpcId=vpc_id)["GroupId"]
        from_cluster = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                         "UserIdGroupPairs": [{"GroupId": group_id, "Description": "from the cluster"}]}]
        ec2.authorize_security_group_ingress(GroupId=database, IpPermissions=from_cluster)
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [database]}])["SecurityGroupRules"]
        (rule,) = [r for r in rules if not r["IsEgress"]]
        assert rule.get("Description") == "from the cluster", "a rule referencing a group keeps its description, as on AWS"
        ec2.revoke_security_group_ingress(GroupId=database, IpPermissions=from_cluster)
        eks.delete_cluster(name="demo")
        remaining = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
        assert group_id not in {g["GroupId"] for g in remaining}


def test_the_server_answers_one_request_at_a_time() -> None:
    """moto's backends are not thread-safe; the wrapper the server runs under lets one
    request in at a time, its body included. Unwrapped, the same app overlaps."""
    def overlap(app) -> int:
        inside, most, guard = 0, 0, threading.Lock()

        def slow_app(environ, start_response):
            nonlocal inside, most
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.05)
            yield b"body"  # the body is part of the request: moto renders it from its models
            with guard:
                inside -= 1

        wrapped = app(slow_app)
        threads = [threading.Thread(target=lambda: list(wrapped({}, lambda *a: None))) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return most

    assert overlap(lambda app: app) > 1
    assert overlap(one_request_at_a_time) == 1


def test_a_retry_of_a_call_already_carried_out_gets_the_first_answer() -> None:
    """An SDK retry (same amz-sdk-invocation-id) of a create moto has already carried out
    must not run twice: the second run would answer AlreadyExists. A failed answer is not
    remembered, and a new invocation runs again."""
    runs: list[str] = []

    def create(environ, start_response):
        runs.append(environ.get("HTTP_AMZ_SDK_INVOCATION_ID", ""))
        if environ.get("PATH_INFO") == "/fail":
            start_response("500 Internal Server Error", [])
            return [b"boom"]
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [b"<created n='%d'/>" % len(runs)]

    app = one_request_at_a_time(create)
    statuses: list[str] = []

    def call(invocation: str, path: str = "/") -> bytes:
        environ = {"PATH_INFO": path, "HTTP_AMZ_SDK_INVOCATION_ID": invocation} if invocation else {"PATH_INFO": path}
        return b"".join(app(environ, lambda status, headers, *rest: statuses.append(status)))

    first = call("inv-1")
    assert call("inv-1") == first and runs == ["inv-1"]  # the retry is answered, not run
    assert statuses == ["200 OK", "200 OK"]
    assert call("inv-2") != first and runs == ["inv-1", "inv-2"]
    call("inv-3", "/fail")
    call("inv-3", "/fail")
    assert runs.count("inv-3") == 2  # a failure is retried for real, as on AWS
    call("")
    call("")
    assert runs.count("") == 2  # no invocation id: nothing to match a retry by
