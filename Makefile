# Two entry points (see README): `make` sets everything up and runs the main job on the lab
# stack; `make test` sets up and runs every check. Both are safe to repeat.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STACK ?= lab

.PHONY: all setup engine slurm kubernetes system run test lint benchmark clean

all: run

setup: $(VENV)/.installed engine slurm kubernetes system

# Debian packages for the lab and the tests (sshd, iproute2, dpkg-dev, fio, PostgreSQL),
# installed when missing.
system:
	scripts/install-system-packages

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

# The Pulumi engine, built from the Go module proxy unless a pulumi is on PATH.
engine: $(VENV)/.installed
	scripts/build-pulumi

# Slurm 24.11 (topology/block with BlockSizes), built from Debian's source into .tools/slurm
# unless it is there: about 15 minutes the first time. The lab's nodes and the tests marked
# slurm run it.
slurm:
	scripts/build-slurm

# kube-apiserver and etcd 1.37, built from the Go module proxy into .tools/kubernetes unless
# they are there: about 4 minutes the first time. The lab's Kubernetes stacks (lab-k8s) and the
# tests marked kubernetes run them.
kubernetes:
	scripts/build-kubernetes

# The main job on the embedded lab (as root): plan, a fresh lab, then through the engine
# render, provision, burn in, validate and admit each rack; then the scheduler's view: for Slurm,
# sinfo of the lab after admission and a two-node `srun hostname` on admitted nodes (for
# Kubernetes, STACK=lab-k8s: each Node's taints and bringup's condition); then the report, whose
# path it prints (out/report/index.html).
run: setup
	$(BIN)/bringup plan $(STACK)
	$(BIN)/bringup lab down --stack $(STACK)
	$(BIN)/bringup lab up --stack $(STACK)
	$(BIN)/bringup up --stack $(STACK) --admit
	$(BIN)/bringup lab scheduler --stack $(STACK)
	$(BIN)/bringup report --stack $(STACK) --out out/report

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

benchmark: setup
	$(BIN)/python benchmarks/plan_scale.py
	$(BIN)/python benchmarks/engine_scale.py
	$(BIN)/python benchmarks/engine_bare.py
	$(BIN)/python benchmarks/lab_scale.py
	$(BIN)/python benchmarks/provision_scale.py
	$(BIN)/python benchmarks/admission_scale.py
	$(BIN)/python benchmarks/admission_modes.py
	$(BIN)/python benchmarks/drill.py
	$(BIN)/python benchmarks/report_scale.py
	$(BIN)/python benchmarks/kubernetes_lab.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis out
