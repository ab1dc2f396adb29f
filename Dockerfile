# The base image is pinned by digest: the tag says what it is, the digest is what gets built,
# so every rebuild starts from the same Python and Debian until someone bumps the digest on
# purpose. The digest is the multi-platform index that python:3.11-slim-bookworm pointed to
# in late August 2026 (Python 3.11.16), as recorded by docker-library/repo-info
# (repos/python/remote/3.11-slim-bookworm.md); it was not pulled from the machine that wrote
# this line (no Docker engine, no registry access there). To bump it, take the index's
# "Digest:" line (not one platform's) from
#   docker buildx imagetools inspect python:3.11-slim-bookworm
# and set PYTHON_DIGEST below, or pass --build-arg PYTHON_DIGEST=sha256:... to one build.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG PYTHON_DIGEST=sha256:0bee7276f83efd4a1ee05bbbf4281d95ed28e079220a9457f25a93e3f1e3c31b
FROM ${PYTHON_IMAGE}@${PYTHON_DIGEST}
WORKDIR /app
# Everything comes from the lock, verified by hash; nothing is resolved at build time.
ENV UV_PROJECT_ENVIRONMENT=/opt/raceway \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    PATH=/opt/raceway/bin:$PATH
COPY deploy/uv-requirements.txt deploy/
RUN pip install --no-cache-dir --require-hashes -r deploy/uv-requirements.txt
# Dependencies first (their layer survives code changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-install-project --no-editable
COPY router ./router
COPY config ./config
# The state directory belongs to the gateway's user: a fresh named volume is seeded from the
# image, owner included, so the ledger can be created in it without running as root.
RUN uv sync --locked --no-editable \
    && useradd --uid 10001 --user-group --no-create-home raceway \
    && install -d -o raceway -g raceway -m 0750 /var/lib/raceway
USER 10001
# The spend ledger ($XDG_STATE_HOME/raceway/ledger.sqlite3, local state backend) lives on a
# volume, not in the container's writable layer: mount a named volume or a host directory
# here and budgets survive the container being replaced (docker run -v raceway-state:/var/lib/raceway).
ENV XDG_STATE_HOME=/var/lib/raceway
VOLUME ["/var/lib/raceway"]
EXPOSE 8080
# No curl in the slim image: the probe is the image's own Python. /health answers while the
# gateway runs (/ready turns 503 during a drain, which is not a reason to call it unhealthy).
# The start period covers the workers' imports (litellm takes ~5 s). Kubernetes ignores this
# and uses the Deployment's probes.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]
ENTRYPOINT ["raceway"]
CMD ["serve", "-c", "config/gateway.yaml", "--bind", "0.0.0.0:8080"]
