FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY router ./router
COPY config ./config
RUN pip install --no-cache-dir . && useradd --uid 10001 --no-create-home raceway
USER 10001
ENV XDG_STATE_HOME=/tmp/raceway-state
EXPOSE 8080
ENTRYPOINT ["raceway"]
CMD ["serve", "-c", "config/gateway.yaml", "--bind", "0.0.0.0:8080"]
