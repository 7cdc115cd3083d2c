# meshprober agent image. Two stages: the first builds the project wheel and installs it (with its
# dependencies) into a virtualenv; the final stage copies only that virtualenv, so no compiler,
# build backend or source tree ships. Runs as a non-root numeric user and works with a read-only
# root filesystem (HOME and TMPDIR point at /tmp, which the manifests mount as an emptyDir).
# No Docker engine is needed to check this file: tests/deploy/test_deploy_dockerfile.py does.

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Exactly what setuptools needs to build the agent's wheel: metadata, the readme it references, the
# package, and the pinned runtime packages. The lab (meshlab/) is not copied, so the wheel built here
# holds the agent only: the image carries neither the lab nor its dependencies.
COPY pyproject.toml README.md deploy/constraints.txt ./
COPY agent ./agent
RUN python -m venv /opt/meshprober \
    && /opt/meshprober/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/meshprober/bin/pip install --constraint=constraints.txt /wheels/meshprober-*.whl \
    && /opt/meshprober/bin/pip uninstall --yes pip setuptools wheel \
    && find /opt/meshprober -depth -name '__pycache__' -prune -exec rm -rf {} + \
    && /opt/meshprober/bin/python -m compileall -q /opt/meshprober/lib

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="meshprober" \
      org.opencontainers.image.description="Active mTLS-aware probes for Istio meshes" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/meshprober /opt/meshprober
# Bytecode was compiled at build time; never write .pyc at run time (read-only root).
ENV PATH=/opt/meshprober/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp
WORKDIR /tmp
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["meshprober", "run"]
CMD ["--config", "/etc/meshprober/agent.yaml", "--listen", "0.0.0.0:9090"]
