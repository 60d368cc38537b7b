# The monorepo's commands. `make run` starts the system, `make test` proves it.
# Every target installs what it needs first, so a fresh clone needs nothing else.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SERVICES := model-service app-service app-frontend
# The plumbing the services share, installed by each of them (and each image) from this folder.
SERVICE_KIT := libs/service-kit
INSTALLED := $(VENV)/.installed
# The tooling's one import root (tools/src/sentiment_devtools): every `python -m` below is one of its layers.
TOOLS := sentiment_devtools
TOOLS_SRC := tools/src/$(TOOLS)

# A model release for local runs: trained here, served from var/ through file:// URLs.
MODEL_VERSION ?= v1.0.0
RELEASES := var/releases
# DATA=path/to/reviews.tsv trains on that file instead of the public data.
DATA ?=
# make experiment-report: the Prometheus to ask (make run's, by default) and the experiment's declaration (its
# start is the window's): by default the one k8s/experiments/ says runs.
PROMETHEUS_URL ?= http://127.0.0.1:9090
DECLARATION ?=

# The CRD schemas the Kubernetes manifests are validated against (../shared/schemas/README.md),
# and those of the oldest Istio supported. CI and developer machines have them beside the
# project; where a folder does not exist, make downloads the pinned upstream CRDs and
# extracts the same schemas into var/k8s-schemas/ (python -m $(TOOLS).checks.fetch_schemas).
K8S_SCHEMAS_DIR ?= ../shared/schemas
K8S_SCHEMAS_ISTIO_1_26_DIR ?= ../shared/schemas-istio-1.26
FETCHED_SCHEMAS := var/k8s-schemas
SCHEMA_FETCHES :=
define use_fetched_schemas_if_missing
ifeq ($$(wildcard $$($(1))/.),)
$$(info make: $(1)=$$($(1)) does not exist: using the pinned upstream CRD schemas in $(FETCHED_SCHEMAS)/$(2))
override $(1) := $(FETCHED_SCHEMAS)/$(2)
SCHEMA_FETCHES += $(FETCHED_SCHEMAS)/$(2)/SOURCES.json
endif
endef
$(eval $(call use_fetched_schemas_if_missing,K8S_SCHEMAS_DIR,current))
$(eval $(call use_fetched_schemas_if_missing,K8S_SCHEMAS_ISTIO_1_26_DIR,istio-1.26))
export K8S_SCHEMAS_DIR K8S_SCHEMAS_ISTIO_1_26_DIR
# The Kubernetes project's Pod Security fixtures the restricted-profile check is held to
# (../shared/data/pod-security-fixtures/README.md); where the folder does not exist, make
# downloads the pinned ones into var/pod-security-fixtures/ (python -m $(TOOLS).checks.fetch_fixtures).
POD_SECURITY_FIXTURES_DIR ?= ../shared/data/pod-security-fixtures
FETCHED_FIXTURES := var/pod-security-fixtures
ifeq ($(wildcard $(POD_SECURITY_FIXTURES_DIR)/.),)
$(info make: POD_SECURITY_FIXTURES_DIR=$(POD_SECURITY_FIXTURES_DIR) does not exist: using the pinned upstream fixtures in $(FETCHED_FIXTURES))
override POD_SECURITY_FIXTURES_DIR := $(FETCHED_FIXTURES)
SCHEMA_FETCHES += $(FETCHED_FIXTURES)/SOURCES.json
endif
export POD_SECURITY_FIXTURES_DIR
# Debian packages the tests run: promtool, amtool, docker-compose (which
# validates docker-compose.yml without a Docker engine), Chromium, which
# Playwright drives in the browser tests, wrk (make bench's load generator,
# smoke-tested) and PostgreSQL (the app-service's server store: the tests'
# servers, make run DB=postgres). Add yours to this list.
SYSTEM_PACKAGES := prometheus prometheus-alertmanager docker-compose chromium wrk postgresql
# Debian packages that build and run the images without a Docker engine (make images).
IMAGE_PACKAGES := podman runc debootstrap

.DEFAULT_GOAL := help
.PHONY: help install system-deps k8s-schemas run compose-mesh test test-fast images images-test lint format locks k8s-check model bench experiment-report experiment-figures clean

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

install: $(INSTALLED) ## create .venv with every service and tool installed (editable)

$(INSTALLED): requirements-dev.txt constraints.txt tools/pyproject.toml $(SERVICE_KIT)/pyproject.toml $(foreach s,$(SERVICES),$(s)/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -r requirements-dev.txt \
		-e $(SERVICE_KIT) -e 'model-service[train]' -e app-service -e app-frontend -e tools
	touch $@

k8s-schemas: $(SCHEMA_FETCHES) ## download the pinned CRD schemas and Pod Security fixtures, only where their folders do not exist

# SOURCES.json is written last: a fetch that stopped halfway leaves no folder behind.
$(FETCHED_SCHEMAS)/%/SOURCES.json: $(TOOLS_SRC)/checks/schema_sources.py $(TOOLS_SRC)/checks/fetch_schemas.py | $(INSTALLED)
	$(BIN)/python -m $(TOOLS).checks.fetch_schemas --set $* --out $(FETCHED_SCHEMAS)/$*

$(FETCHED_FIXTURES)/SOURCES.json: $(TOOLS_SRC)/checks/fetch_fixtures.py | $(INSTALLED)
	$(BIN)/python -m $(TOOLS).checks.fetch_fixtures --out $(FETCHED_FIXTURES)

run: install ## start the system on 127.0.0.1 behind Envoy (DATA=file.tsv: train on it; TLS=1: HTTPS; MONITORING=0: no Prometheus; DB=postgres: PostgreSQL, two app-service replicas per arm)
	$(if $(filter postgres,$(DB)),@$(MAKE) --no-print-directory system-deps SYSTEM_PACKAGES=postgresql)
	$(BIN)/python -m $(TOOLS).stack --model-version $(MODEL_VERSION) $(if $(DATA),--data $(DATA)) $(if $(TLS),--tls) \
		$(if $(filter 0,$(MONITORING)),--no-monitoring) $(if $(DB),--database $(DB))

compose-mesh: install ## compile k8s/ into the Envoy config of docker-compose.mesh.yml
	$(BIN)/python -m $(TOOLS).stack.compose_mesh

system-deps: ## install the Debian packages the tests need (as root), or print the command
	@missing="$$(for package in $(SYSTEM_PACKAGES); do dpkg -s $$package >/dev/null 2>&1 || echo $$package; done)"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	command="apt-get install -y --no-install-recommends $$(echo $$missing)"; \
	if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages; install them with: sudo $$command" >&2; exit 1; fi; \
	echo "$$command"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$command

test: lint system-deps k8s-schemas images ## lint, build the images, then run the whole suite, as CI does
	$(BIN)/pytest

test-fast: install system-deps k8s-schemas ## the inner loop: everything but the slow multi-process tests
	$(BIN)/pytest -m "not slow and not images"

images: install ## build the three images here with podman, no Docker engine nor registry (make test does)
	@$(MAKE) --no-print-directory system-deps SYSTEM_PACKAGES="$(IMAGE_PACKAGES)"
	$(BIN)/python -m $(TOOLS).images

images-test: images ## only the image tests: ready, non-root, read-only root, a review end to end
	$(BIN)/pytest -m images tests/images

lint: install ## static checks: ruff, hadolint on every Dockerfile, the workflows, Dependabot's and the compose files against their schemas
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint $(foreach s,$(SERVICES),$(s)/Dockerfile)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml docker-compose.mesh.yml

format: install ## rewrite the code in the project's format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

locks: install ## write each service's hashed requirements.lock (its image's pins) with uv, at constraints.txt's versions (asks PyPI)
	$(BIN)/python -m $(TOOLS).lockfiles

k8s-check: install system-deps k8s-schemas ## render k8s/ and check it offline (schemas, semantics, promtool, amtool), as CI does
	$(BIN)/python -m $(TOOLS).checks k8s --example-secrets
	$(BIN)/python -m $(TOOLS).checks k8s --example-secrets --with components/local-storage
	$(BIN)/python -m $(TOOLS).checks k8s --example-secrets --with components/local-images
	$(BIN)/python -m $(TOOLS).checks k8s --example-secrets --with components/sqlite --with components/local-storage

model: install ## train the model release $(MODEL_VERSION) into var/releases (DATA=file.tsv to choose the data)
	$(BIN)/model-service train --version $(MODEL_VERSION) --out $(RELEASES) --replace $(if $(DATA),--data $(DATA))

experiment-report: install ## print the declared experiment's decision from a Prometheus (PROMETHEUS_URL, DECLARATION), draw it to var/
	$(BIN)/python -m $(TOOLS).experiment $(if $(DECLARATION),--declaration $(DECLARATION)) --prometheus $(PROMETHEUS_URL) --chart var/experiment-report.png

experiment-figures: install ## the decision rule's error rates before and after, by seeded simulation (docs/monitoring.md)
	$(BIN)/python -m $(TOOLS).experiment.figures

bench: install ## the model and the request path under load, on the real system (DATA=file.tsv: the real model); docs/performance.md
	@$(MAKE) --no-print-directory system-deps SYSTEM_PACKAGES=wrk
	$(BIN)/python -m bench $(if $(DATA),--data $(DATA))

clean: ## remove the virtualenv and everything the system wrote under var/
	rm -rf $(VENV) var
