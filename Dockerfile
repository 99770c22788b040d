# cekura-ci as a Docker container action. The runner mounts the workspace and makes it the working
# directory, so neither USER nor WORKDIR is set here.
FROM python:3.12.8-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Locked, hash-checked runtime dependencies first, so code changes reuse this layer.
COPY requirements/runtime.txt /action/requirements/runtime.txt
RUN pip install --require-hashes --no-deps -r /action/requirements/runtime.txt

# The package runs from source: the slim image has no setuptools to build it, and needs none.
COPY cekura_ci /action/cekura_ci
COPY entrypoint.py /action/entrypoint.py
ENV PYTHONPATH=/action
# PYTHONDONTWRITEBYTECODE keeps containers from writing bytecode, so compile it here, once: without
# it every start compiles the package again. The report templates likewise (Jinja would compile
# them on every run). Then check that the entry points import.
RUN python -m compileall -q /action/cekura_ci \
    && python -c "from cekura_ci.report.templating import precompile; precompile()" \
    && python -c "import cekura_ci.cli, cekura_ci.emulator.cli, cekura_ci.demo"

ENTRYPOINT ["/usr/local/bin/python", "/action/entrypoint.py"]
