# cot-proxy: mitmdump in reverse mode with the cot-proxy addon, on port 5000.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin cotproxy

COPY entrypoint.sh config.yaml ./
COPY addon/ ./addon/
COPY docker/healthcheck.py ./docker/healthcheck.py

USER 10001
EXPOSE 5000

# The slim image has no curl: a few lines of stdlib Python ask /health.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]

ENTRYPOINT ["/app/entrypoint.sh"]
