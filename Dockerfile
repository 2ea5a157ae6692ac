# One image for the code location, the webserver, the daemon and the ticker sampler.
# The project is installed as a wheel (not editable) with the locked runtime dependencies
# (uv.lock, no dev extras); the source tree is removed, so services run the installed package.
# Bytecode is compiled at install: the services never write it (PYTHONDONTWRITEBYTECODE, a
# non-root user), and every run worker would otherwise compile Dagster's modules at start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/home \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    PATH=/opt/venv/bin:$PATH

RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /tmp/bitso-platform
COPY pyproject.toml uv.lock README.md ./
# The dependencies alone first: this layer is rebuilt only when the lock changes.
RUN uv sync --frozen --no-dev --no-install-project
COPY bitso_platform ./bitso_platform
COPY sql ./sql
RUN uv sync --frozen --no-dev --no-editable \
    && rm -rf /tmp/bitso-platform \
    && mkdir -p "$DAGSTER_HOME" \
    && useradd --create-home --uid 1000 bitso \
    && chown -R bitso "$DAGSTER_HOME"
COPY deploy/dagster.yaml deploy/workspace.yaml "$DAGSTER_HOME"/
WORKDIR $DAGSTER_HOME
USER bitso

EXPOSE 3000 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "bitso_platform.definitions"]
