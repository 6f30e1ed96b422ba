# harness — make help lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HARNESS := $(VENV)/bin/harness
CONSTRAINTS := requirements/constraints.txt
EXTRAS ?= torch,tensorflow,docker,slurm,history,dev
# Apache Otava (change points) without its dependencies: its metadata pins numpy 2.2 and pulls
# cloud connectors (BigQuery, Postgres, Slack) that its analysis module never imports.
OTAVA := apache-otava==0.8.0
STAMP := $(VENV)/.installed-$(shell echo "$(EXTRAS)" | tr ',' '-')
RESULTS ?= results
SUITE ?= default
ARGS ?=
BASE ?=
BASE_ARG := $(if $(BASE),--base $(BASE),)
# An extra package index for pip, e.g. PyTorch's CPU wheels on a machine with no GPU:
#   make bench TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
TORCH_INDEX_URL ?=
INDEX_ARG := $(if $(TORCH_INDEX_URL),--extra-index-url $(TORCH_INDEX_URL),)

.DEFAULT_GOAL := help
.PHONY: docs help venv bench bench-cpu bench-gpu bench-harness bench-pytest test test-fast lint images images-cuda base-image wheelhouse lock lock-cuda clean slurm-up slurm-down gpu-check gpu-truth

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check $(INDEX_ARG) -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(OTAVA)
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP) ## Create .venv and install the project with its extras (once)

bench: venv ## Run the default suite locally on CPU and print the report
	$(HARNESS) peaks --results-dir $(RESULTS)
	$(HARNESS) run --suite $(SUITE) --launcher local --device cpu --results-dir $(RESULTS) --report $(ARGS)

test: venv ## Run the test suite
	$(PY) -m pytest $(ARGS)

test-fast: venv ## Run the tests that need neither Docker nor slow framework processes
	$(PY) -m pytest -m "not docker and not slow" $(ARGS)

docs: venv ## Build the documentation site (MkDocs, --strict: a broken link fails) into build/site
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lint: venv ## ruff, mypy and hadolint
	$(VENV)/bin/ruff check harness workloads tests benchmarks scripts
	$(VENV)/bin/ruff format --check harness workloads tests benchmarks scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint docker/cpu.Dockerfile docker/cuda.Dockerfile

base-image: venv ## Bootstrap a Debian base image with no registry (debootstrap + docker import)
	bash docker/bootstrap-base.sh

wheelhouse: venv ## Download every wheel the CPU image needs into docker/wheelhouse
	$(HARNESS) images wheelhouse --target cpu

images: venv ## Build the CPU image (harness:cpu)
	$(HARNESS) images build --target cpu $(BASE_ARG) $(ARGS)

images-cuda: venv ## Build the CUDA image (harness:cuda)
	$(HARNESS) images build --target cuda $(BASE_ARG) $(ARGS)

bench-cpu: venv ## Run the default suite in the CPU container and print the report
	$(HARNESS) images build --target cpu --if-stale $(BASE_ARG)
	$(HARNESS) run --suite $(SUITE) --launcher docker --image cpu --results-dir $(RESULTS) --report $(ARGS)

bench-gpu: ## Run the GPU suite in the CUDA container with all GPUs (peaks measured there first) and print the report
	@PYTHONPATH=. $(PYTHON) -m harness.machine.gpu_preflight
	@$(MAKE) --no-print-directory venv
	$(HARNESS) images build --target cuda --if-stale $(BASE_ARG)
	@# the peaks, measured in the image with the GPUs and the host's name, land under the key
	@# the report looks up for the suite's records (host, CPU, cores, GPU); cached after the first
	@mkdir -p $(RESULTS)/peaks
	docker run --rm --gpus all --network none --hostname "$$(hostname)" --user "$$(id -u):$$(id -g)" \
	    --volume "$(abspath $(RESULTS))/peaks:/results/peaks" --entrypoint python3 harness:cuda \
	    -m harness peaks --results-dir /results
	$(HARNESS) run --suite gpu --launcher docker --image cuda --gpus all --results-dir $(RESULTS) --report $(ARGS)

gpu-check: venv ## Prove the measurement on this GPU (exit 2 without one); results/reference/<gpu>.jsonl
	$(HARNESS) gpu-check $(ARGS)

gpu-truth: ## Every CUDA path on this GPU host, with its own python3 (no venv); OUT=folder, GPU_TRUTH_*
	@OUT="$(or $(OUT),$(CURDIR)/.gpu-out)" GPU_TRUTH_PYTHON="$(PYTHON)" bash scripts/gpu-truth.sh

bench-harness: venv ## Benchmark the harness itself; writes docs/BENCHMARKS.md
	$(PY) -m benchmarks.selfbench --output docs/BENCHMARKS.md $(ARGS)

bench-pytest: venv ## The workloads as pytest-benchmark benchmarks (apart from the unit tests)
	@mkdir -p $(RESULTS)
	$(PY) -m pytest benchmarks/test_numpy_torch_bench.py --benchmark-enable --benchmark-save-data \
	    --benchmark-json=$(RESULTS)/pytest-benchmark-numpy-torch.json -q $(ARGS)
	$(PY) -m pytest benchmarks/test_keras_bench.py --benchmark-enable --benchmark-save-data \
	    --benchmark-json=$(RESULTS)/pytest-benchmark-keras.json -q $(ARGS)
	$(HARNESS) report $(RESULTS)/pytest-benchmark-numpy-torch.json $(RESULTS)/pytest-benchmark-keras.json

slurm-up: ## Start a one-node Slurm cluster here (root; installs slurm-wlm and munge if missing)
	bash slurm/cluster.sh up

slurm-down: ## Stop the one-node Slurm cluster
	bash slurm/cluster.sh down

lock: ## Re-pin requirements/constraints.txt from a fresh resolve (pip, in a throw-away venv)
	PYTHON=$(PYTHON) bash requirements/lock.sh

lock-cuda: ## Re-pin requirements/constraints-cuda.txt (the CUDA image: torch and TensorFlow CUDA wheels)
	PYTHON=$(PYTHON) bash requirements/lock-cuda.sh

clean: ## Remove the virtual environment and build leftovers
	rm -rf $(VENV) build *.egg-info docker/wheelhouse
