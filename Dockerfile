FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY router ./router
COPY config ./config
RUN pip install --no-cache-dir .
EXPOSE 8080
CMD ["raceway", "serve", "-c", "config/gateway.yaml", "--bind", "0.0.0.0:8080"]
