# Airflow's official image with regrep installed from the wheel of this checkout, for
# docker-compose.yaml. The first stage builds the wheel; the second installs it as Airflow
# documents for providers: the image's own Airflow pinned, Airflow's constraints file applied.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11

FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION} AS regrep-wheel
COPY --chown=airflow:root pyproject.toml README.md /opt/regrep/
COPY --chown=airflow:root plugins /opt/regrep/plugins
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /opt/regrep/dist /opt/regrep

FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}
ARG AIRFLOW_VERSION
ARG PYTHON_VERSION
COPY --from=regrep-wheel /opt/regrep/dist/ /tmp/regrep-dist/
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /tmp/regrep-dist/regrep-*.whl \
      --constraint "https://raw.githubusercontent.com/apache/airflow/constraints-${AIRFLOW_VERSION}/constraints-${PYTHON_VERSION}.txt"
