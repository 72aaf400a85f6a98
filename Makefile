# opnfv.escalator: developer and CI entry points. Run as root on Debian 12.
#   make demo   build the lab, deploy the old cloud, upgrade it with traffic running
#   make test   unit tests, ansible-test sanity, ansible-lint, lab integration tests,
#               the molecule scenarios
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
export ESCALATOR_CACHE ?= /var/cache/escalator
# The venv is keyed by the pinned requirements, so every clone on this machine shares it
# and a changed pin builds a new one.
REQ_HASH := $(shell cat requirements.txt | sha256sum | cut -c1-12)
VENV ?= $(ESCALATOR_CACHE)/venv-$(REQ_HASH)
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PIP_CACHE_DIR ?= $(ESCALATOR_CACHE)/pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export ANSIBLE_FORCE_COLOR ?= 0

COLLECTION_LINK := .build/collections/ansible_collections/opnfv/escalator
SANITY_VENV := $(ESCALATOR_CACHE)/sanity-venv-$(REQ_HASH)
SANITY_ROOT := $(ESCALATOR_CACHE)/sanity/ansible_collections/opnfv/escalator
DEB_PACKAGES := docker.io debootstrap python3-venv git ca-certificates shellcheck chromium
PROBE_SECONDS ?= 30

.PHONY: ee-context help deps venv venv-path collection artifacts lab-up lab-deploy lab-down demo demo-openstack probe \
	test checks checks-in-background molecule-then-openstack minimal-faults-and-cloud faults-lab-up unit sanity lint integration integration-faults integration-openstack lab-openstack lab-openstack-down molecule changelog-lint benchmarks benchmarks-faults benchmarks-openstack clean

help:
	@echo "make demo | demo-openstack | test | unit | sanity | lint | integration | integration-faults | faults-lab-up | integration-openstack | molecule | benchmarks | benchmarks-faults | benchmarks-openstack | lab-up | lab-openstack | lab-down | clean"

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "[deps] apt-get install $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required, $(PYTHON) is %d.%d" % sys.version_info[:2])'

venv: $(VENV)/.installed collection

$(VENV)/.installed: requirements.txt
	@echo "[venv] $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --upgrade pip
	@$(VENV)/bin/pip install --quiet -r requirements.txt
	@touch $@

# Where the venv is, for running its tools by hand: PATH=$$(make -s venv-path)/bin:$$PATH
venv-path:
	@echo $(VENV)

collection:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(CURDIR) $(COLLECTION_LINK)

artifacts: deps venv
	@lab/build-artifacts.sh $(VENV)/bin/python

lab-up: deps venv artifacts
	@lab/labctl up
	@$(MAKE) --no-print-directory lab-deploy

lab-deploy:
	@ansible-playbook lab/deploy.yml

lab-down:
	@lab/labctl down
	@lab/labctl down faults
	@lab/labctl down openstack
	@lab/labctl down molecule

# The OpenStack lab (inventories/lab-openstack): Keystone, Placement, Glance, neutron-server
# and Nova at 2026.1 behind HAProxy, four fake-driver computes and a workload.
lab-openstack: deps venv artifacts
	@lab/labctl up openstack
	@ansible-playbook -i inventories/lab-openstack lab/deploy-openstack.yml

lab-openstack-down:
	@lab/labctl down openstack

probe:
	@python3 lab/probe.py --url http://127.10.0.10:5000/v3 --duration $(PROBE_SECONDS)

# A fresh lab at Keystone 28.1.0, then the rolling upgrade to 29.1.0 with traffic running.
demo: deps venv artifacts
	@lab/labctl down
	@$(MAKE) --no-print-directory lab-up
	@lab/demo.sh

# The OpenStack lab deployed afresh at 2026.1, then upgraded whole to 2026.2 under its probe.
demo-openstack: deps venv artifacts
	@lab/labctl down openstack
	@$(MAKE) --no-print-directory lab-openstack
	@lab/demo.sh openstack

# UNIT_SELECT: a pytest -m expression, to run part of the unit tests (make test splits them).
UNIT_SELECT ?=
unit: venv
	@pytest -q --durations=8 $(if $(UNIT_SELECT),-m "$(UNIT_SELECT)") tests/unit

# ansible-test wants the collection under ansible_collections/<ns>/<name>: sanity runs
# on a copy of the tracked files laid out that way, in a venv of its own where
# ansible-test installs the sanity tools at the versions it pins.
$(SANITY_VENV)/.installed: requirements.txt
	@$(PYTHON) -m venv $(SANITY_VENV)
	@$(SANITY_VENV)/bin/pip install --quiet "$$(grep '^ansible-core==' requirements.txt)"
	@touch $@

sanity: deps $(SANITY_VENV)/.installed
	@pip_version=$$($(SANITY_VENV)/bin/python -c 'import ansible_test._internal.python_requirements as r, inspect, re; print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r)).group(1))'); \
		mkdir -p ~/.ansible/test/cache && \
		cp tests/sanity/bootstrap_pip.py ~/.ansible/test/cache/get_pip_$${pip_version//./_}.py
	@rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	@git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C $(SANITY_ROOT)
	@cd $(SANITY_ROOT) && PATH=$(SANITY_VENV)/bin:$$PATH \
		ansible-test sanity --requirements --python 3.11 --color no

lint: venv
	@ansible-lint --profile production
	@antsibull-changelog lint

# Always a fresh lab: the tests end by upgrading it, and a lab left over from a demo
# is already upgraded.
integration: deps venv artifacts
	@lab/labctl down
	@$(MAKE) --no-print-directory lab-up
	@rc=0; pytest -q --durations=12 -m "not faults_lab" tests/integration || rc=$$?; lab/labctl down; exit $$rc

# The fault-injection suite (tests/integration/test_faults.py) on a fresh faults lab
# (inventories/lab-faults: the same cloud on containers and addresses of its own, so it can
# run beside the lab of make integration): all thirteen faults, about 25 minutes, or those
# FAULTS_SELECT picks (a pytest -m expression). make test runs the six marked faults_lab here,
# beside the integration tests, which run the other seven on their lab.
FAULTS_SELECT ?=
FAULTS_INVENTORY := inventories/lab-faults
faults-lab-up: deps venv artifacts
	@lab/labctl down faults
	@lab/labctl up faults
	@ansible-playbook -i $(FAULTS_INVENTORY) lab/deploy.yml

integration-faults: faults-lab-up
	@rc=0; ESCALATOR_TEST_INVENTORY=$(FAULTS_INVENTORY) pytest -q --durations=12 $(if $(FAULTS_SELECT),-m "$(FAULTS_SELECT)") \
		tests/integration/test_faults.py || rc=$$?; lab/labctl down faults; exit $$rc

# The OpenStack lab from scratch, tested, then removed. make test runs the lab's checks
# (test_lab.py); OPENSTACK_TESTS=tests/openstack adds the whole upgrade (test_upgrade.py),
# which is not in make test yet: beside the Keystone lab's tests, staging every venv at
# once starved the APIs and passed the install time limit.
OPENSTACK_TESTS ?= tests/openstack/test_lab.py
integration-openstack: deps venv artifacts
	@lab/labctl down openstack
	@rc=0; pytest -q --durations=5 $(OPENSTACK_TESTS) || rc=$$?; lab/labctl down openstack; exit $$rc

# The seeds' three use cases (extensions/molecule): minimal, ha, multisite, each on its
# own containers of the lab image and its own loopback addresses.
MOLECULE_SCENARIOS ?= minimal ha multisite
# Empty: each scenario's output as it comes. make test keeps it in files (see run.sh).
MOLECULE_LOG_DIR ?=
molecule: deps venv artifacts
	@lab/labctl docker
	@extensions/molecule/run.sh $(if $(MOLECULE_LOG_DIR),--log-dir $(MOLECULE_LOG_DIR)) $(MOLECULE_SCENARIOS)

# Two lanes on the two cores, in two parts. First the checks (the unit tests but the
# engine's upgraded twelve-component cloud, sanity, lint, at the lowest CPU priority)
# beside the ha and multisite scenarios and then the OpenStack lab's checks, one after the
# other: each is a lab whose checks want answers within half a second, and beside the
# OpenStack lab's deployment a multisite Keystone took 1.3 s per token for over ten
# seconds. Then the integration tests (with seven faults of the fault-injection suite)
# beside the minimal scenario (lowest priority, its node capped at half a core in
# molecule.yml), the other six faults on the faults lab, and the tests of the upgraded
# cloud (lowest priority too): that lane sat idle for about 15 minutes beside the
# integration tests before the six faults came into it, and the upgraded cloud's tests
# (about 13 minutes) kept the first part's checks lane longer than the labs'. The OpenStack
# lab's deployment is kept away from the integration tests. The lab image is built first, once.
# Each scenario's output is kept in .build/molecule/ and only its result is printed.
# Each part prints how long it took, to see where make test spends its time.
MOLECULE_LOGS := $(CURDIR)/.build/molecule
timed = (start=$$(date +%s); rc=0; $(2) || rc=$$?; echo "[test] $(1): $$(( $$(date +%s) - start )) s"; exit $$rc)
test: deps venv artifacts
	@lab/labctl docker
	@lab/image/build.sh >/dev/null
	@$(call timed,first part (checks beside ha, multisite and the OpenStack lab),$(MAKE) --no-print-directory -j2 checks-in-background molecule-then-openstack)
	@$(call timed,second part (integration beside minimal, six faults and the upgraded cloud),$(MAKE) --no-print-directory -j2 integration minimal-faults-and-cloud)

checks:
	@$(call timed,unit (but the upgraded cloud),$(MAKE) --no-print-directory unit UNIT_SELECT="not shared_upgrade")
	@$(call timed,sanity,$(MAKE) --no-print-directory sanity)
	@$(call timed,lint,$(MAKE) --no-print-directory lint)

molecule-then-openstack:
	@$(MAKE) --no-print-directory molecule MOLECULE_SCENARIOS="ha multisite" MOLECULE_LOG_DIR=$(MOLECULE_LOGS)
	@$(call timed,OpenStack lab,$(MAKE) --no-print-directory integration-openstack)

checks-in-background:
	@nice -n 19 $(MAKE) --no-print-directory checks

minimal-faults-and-cloud:
	@nice -n 19 $(MAKE) --no-print-directory molecule MOLECULE_SCENARIOS=minimal MOLECULE_LOG_DIR=$(MOLECULE_LOGS)
	@$(call timed,faults on the faults lab,$(MAKE) --no-print-directory integration-faults FAULTS_SELECT=faults_lab)
	@$(call timed,unit (the upgraded cloud),nice -n 19 $(MAKE) --no-print-directory unit UNIT_SELECT=shared_upgrade)

# JSON figures: every fault of the fault-injection suite on a fresh faults lab (about 25 minutes).
benchmarks-faults: faults-lab-up
	@rc=0; python benchmarks/faults.py --inventory $(FAULTS_INVENTORY) || rc=$$?; lab/labctl down faults; exit $$rc

# JSON figures: the planner's speed, then the rolling upgrade three ways on the lab.
benchmarks: deps venv artifacts
	@python benchmarks/plan_scale.py
	@$(MAKE) --no-print-directory lab-up
	@python benchmarks/rolling_upgrade.py

# JSON figures: the OpenStack lab upgraded whole three ways, each on a fresh lab (about an hour).
benchmarks-openstack: deps venv artifacts
	@lab/labctl docker
	@python benchmarks/openstack_upgrade.py
	@lab/labctl down openstack

# The execution environment's build context (execution-environment.yml); build the image
# from .build/ee with podman or docker where a registry is reachable.
ee-context: venv
	@rm -rf ee/dist .build/ee
	@ansible-galaxy collection build --output-path ee/dist .
	@ansible-builder create -f execution-environment.yml -c .build/ee --output-filename Containerfile

clean: lab-down
	rm -rf .build
