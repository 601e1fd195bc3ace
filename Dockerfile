# The Airflow image of the scaled deployment (docker-compose.yaml) with regrep installed.
# Installing regrep as a distribution registers its provider entry point, so its connection
# types show up in the Connections UI on every component.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root pyproject.toml README.md /opt/regrep/
COPY --chown=airflow:root plugins /opt/regrep/plugins
RUN pip install --no-cache-dir "apache-airflow==3.3.2" /opt/regrep
