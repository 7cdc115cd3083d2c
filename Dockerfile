# meshprober agent image. Two stages: the first builds the project wheel and installs it (with its
# dependencies) into a virtualenv; the final stage copies only that virtualenv, so no compiler,
# build backend or source tree ships. Runs as a non-root numeric user and works with a read-only
# root filesystem (HOME and TMPDIR point at /tmp, which the manifests mount as an emptyDir).
# No Docker engine is needed to check this file: tests/deploy/test_deploy_dockerfile.py does.

# The base is pinned by digest (a tag can be re-pointed; a digest cannot), at a current 3.11 patch
# release. No registry is reachable where this file is maintained, so the digest was taken from the
# official image's published metadata: docker-library/repo-info, repos/python/remote/3.11-slim-bookworm.md
# (commit 33a22f41ac7bf613bc03380b0317536a9a7fb5e8, image of 25 Aug 2026, PYTHON_VERSION=3.11.16; the
# multi-platform index digest). Re-pin with: docker buildx imagetools inspect python:3.11-slim-bookworm
ARG PYTHON_IMAGE=python:3.11.16-slim-bookworm@sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b

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
# MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own arena (up to 8 per core); the
# probe pool, the watch caches and the API server are dozens of threads, and at 10,000 cached pods
# the extra arenas' fragmentation alone moved RSS between 240 and 390 MB run to run
# (bench/cluster_scale.py). Two arenas keep it steady; the threads mostly wait on I/O anyway.
ENV PATH=/opt/meshprober/bin:$PATH \
    MALLOC_ARENA_MAX=2 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp
WORKDIR /tmp
USER 65532:65532
# 9090: API and status page (bearer token); 9091: /metrics and health (api.metrics_listen).
EXPOSE 9090 9091
ENTRYPOINT ["meshprober", "run"]
CMD ["--config", "/etc/meshprober/agent.yaml", "--listen", "0.0.0.0:9090"]
