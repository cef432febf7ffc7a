PYTHON ?= python3
PIP := $(PYTHON) -m pip
# Every install takes the versions the suite was tested with (make lock writes them).
LOCKED := -c requirements.lock
# pip before 23.3 compares extras by their spelling, not their normalised name (PEP 685), and so
# warns on every install that lxml "does not provide the extra 'html_clean'": justext asks for it
# so, lxml names it html-clean. Every install first brings pip up to a version that reads both.
NEW_PIP := $(PIP) install -q "pip>=23.3"
QUESTION ?= 镇江提出哪一年实现碳峰值？

.PHONY: install install-dev demo test test-fast lint lock fuzz bench install-local local-model bench-local test-local

# torch first, pinned: the local CPU wheel. Left to sentence-transformers' own requirement,
# pip would fetch the newest CUDA build, several GB.
install:
	$(NEW_PIP)
	$(PIP) install -q $(LOCKED) torch==2.13.0
	$(PIP) install -q $(LOCKED) -e .

install-dev:
	$(NEW_PIP)
	$(PIP) install -q $(LOCKED) torch==2.13.0
	$(PIP) install -q $(LOCKED) -e ".[dev]"

# Installs, indexes the bundled seeds on first use and answers a sample question, offline.
demo: install
	$(PYTHON) -m qa ask "$(QUESTION)"

test: install-dev
	$(PYTHON) -m pytest -q

# The unit tier alone: no model, server, database or qa subprocess, under a minute; make test
# (and CI) still runs every tier.
test-fast: install-dev
	$(PYTHON) -m pytest -q -m unit

# The fuzz tests (loaders, cleaners, bounds, damaged index files) with 5,000 examples each
# instead of the default run's 60 (the index files: 500 instead of 15).
fuzz: install-dev
	HYPOTHESIS_PROFILE=fuzz $(PYTHON) -m pytest -q tests/test_fuzz.py

lint: install-dev
	ruff check . && ruff format --check .

# Resolves every extra for Linux, macOS and Windows, x86-64 and arm64, Python 3.11 and newer, at
# the newest versions pyproject.toml's ranges allow (lock-pins.txt holds what must not move), into
# requirements.lock. Run it to upgrade, then make test before committing the new lock.
lock:
	$(PIP) install -q "uv>=0.5"
	$(PYTHON) -m uv pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
		--fork-strategy fewest -c lock-pins.txt -o requirements.lock

# Every benchmark (about an hour on 2 cores); figures to bench/results.json, see docs/BENCHMARKS.md.
bench:
	$(NEW_PIP)
	$(PIP) install -q $(LOCKED) torch==2.13.0
	$(PIP) install -q $(LOCKED) -e ".[dev,peer]"
	# the real files of issue 33 where a local mirror holds them; bench/natural.py skips them if not
	-$(PYTHON) bench/real_docs_fetch.py
	$(PYTHON) bench/run_all.py

# The optional local chat model (qa/tools/local_model.py), never part of test or CI: the first install
# builds llama-cpp-python from source (about 5 minutes on 2 cores), the first start joins and
# checks the 1.1 GB model file. llama.cpp's default build targets the building CPU, AMX included
# where the CPU reports it; on this project's virtual machines the AMX kernels crash the server
# (SIGSEGV at ldtilecfg). So the build names its instruction sets itself: AVX2 always, the AVX-512
# ones this CPU reports (prompt reading 49 → 96 tokens/s here, docs/BENCHMARKS.md), never AMX.
CPU_FLAGS := $(shell grep -m1 -o -w 'avx512f\|avx512_vnni\|avx512vbmi\|avx512_bf16\|avx_vnni' /proc/cpuinfo 2>/dev/null)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF \
	$(if $(filter avx512f,$(CPU_FLAGS)),-DGGML_AVX512=ON) \
	$(if $(filter avx512_vnni,$(CPU_FLAGS)),-DGGML_AVX512_VNNI=ON) \
	$(if $(filter avx512vbmi,$(CPU_FLAGS)),-DGGML_AVX512_VBMI=ON) \
	$(if $(filter avx512_bf16,$(CPU_FLAGS)),-DGGML_AVX512_BF16=ON) \
	$(if $(filter avx_vnni,$(CPU_FLAGS)),-DGGML_AVX_VNNI=ON)

install-local:
	$(NEW_PIP)
	$(PIP) install -q $(LOCKED) torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -q $(LOCKED) -e ".[local]"

# Serves it on 127.0.0.1:8080 until Ctrl-C and prints the two variables that point qa at it.
local-model: install-local
	$(PYTHON) -m qa.tools.local_model

# The seed questions answered by it, and its time to first token; the naturally worded questions
# of bench/natural.py answered by it; see docs/BENCHMARKS.md.
bench-local: install-local
	$(PYTHON) bench/local_chat.py
	$(PYTHON) bench/natural.py --local

# The one test that asks the real local model a seed question (skipped by `make test`).
test-local: install-local
	QA_LOCAL_MODEL_TESTS=1 $(PYTHON) -m pytest -q tests/test_local_model.py
