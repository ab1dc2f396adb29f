FROM python:3.11-slim
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
RUN uv sync --locked --no-editable && useradd --uid 10001 --no-create-home raceway
USER 10001
ENV XDG_STATE_HOME=/tmp/raceway-state
EXPOSE 8080
ENTRYPOINT ["raceway"]
CMD ["serve", "-c", "config/gateway.yaml", "--bind", "0.0.0.0:8080"]
