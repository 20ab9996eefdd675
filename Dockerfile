# One image for every Dagster service (webserver, daemon, user-code gRPC server) and the simulator,
# following Dagster's deploy_docker example.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DAGSTER_HOME=/opt/dagster/dagster_home
WORKDIR /opt/dagster/app
COPY pyproject.toml README.md ./
COPY chalkola_pipelines ./chalkola_pipelines
COPY dbt_project ./dbt_project
RUN pip install --no-cache-dir . \
 && mkdir -p $DAGSTER_HOME \
 && cd dbt_project && CHALKOLA_PG_HOST=unused dbt parse --profiles-dir . --project-dir . --quiet
COPY deploy/dagster.yaml $DAGSTER_HOME/dagster.yaml
COPY deploy/workspace.docker.yaml $DAGSTER_HOME/workspace.yaml
EXPOSE 3000 4000 8765
