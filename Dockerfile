# One image for the code location, the webserver, the daemon and the ticker sampler.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /opt/bitso-platform
COPY pyproject.toml README.md ./
COPY bitso_platform ./bitso_platform
COPY sql ./sql
RUN pip install --no-cache-dir . \
    && mkdir -p "$DAGSTER_HOME" \
    && useradd --create-home --uid 1000 bitso \
    && chown -R bitso "$DAGSTER_HOME"
COPY deploy/dagster.yaml deploy/workspace.yaml "$DAGSTER_HOME"/
USER bitso

EXPOSE 3000 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "bitso_platform.definitions"]
