# Minimal image for now; hardened (multi-stage, pinned, read-only root) in the deploy issue.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY agent ./agent
RUN pip install --no-cache-dir .
USER 65532:65532
ENTRYPOINT ["meshprober", "run"]
