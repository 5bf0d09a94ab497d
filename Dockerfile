# cot-proxy: mitmdump in reverse mode with the cot-proxy addon, on port 5000.
# Runs with a read-only root filesystem and any uid: it writes only to a private
# directory under $TMPDIR (give it one: --read-only --tmpfs /tmp --user 12345:0).
FROM python:3.12-slim

# The VERSION file's content (tests/test_deploy.py keeps them equal); `docker build
# --build-arg VERSION="$(cat VERSION)"` says the same without relying on that.
ARG VERSION=1.0.0
LABEL org.opencontainers.image.title="cot-proxy" \
      org.opencontainers.image.description="Reverse proxy for OpenAI-compatible LLM servers that removes or relocates the model's reasoning" \
      org.opencontainers.image.version="$VERSION" \
      org.opencontainers.image.base.name="docker.io/library/python:3.12-slim"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp

WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt \
    && useradd --no-create-home --home-dir /tmp --uid 10001 --gid 0 --shell /usr/sbin/nologin cotproxy

COPY entrypoint.sh config.yaml VERSION ./
COPY addon/ ./addon/
COPY docker/healthcheck.py ./docker/healthcheck.py
# entrypoint.sh runs mitmdump under Python's -O (PYTHONOPTIMIZE=1), which reads *.opt-1.pyc:
# written here, once, so that no start compiles mitmproxy (PYTHONDONTWRITEBYTECODE keeps the
# image read-only at run time).
RUN python -O -m compileall -q -j 0 /app/addon \
        "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# OpenShift-style arbitrary uids run in group 0: give the group the owner's read and
# execute rights, never write (g=u-w): nothing here is written at run time, and the code
# must not be changeable by the user it runs as.
RUN chgrp -R 0 /app && chmod -R g=u-w,o-w /app

USER 10001:0
EXPOSE 5000

# The slim image has no curl: a few lines of stdlib Python ask /health.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]

ENTRYPOINT ["/app/entrypoint.sh"]
