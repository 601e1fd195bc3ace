"""The copy engine: copy one resource (manifests, blobs, referrers) between two registries.

Importable without Airflow: it speaks to registries only through :mod:`regrep.registry`.
"""
