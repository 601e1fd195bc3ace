"""The OCI content model: media types, digests, descriptors, manifests, platforms, referrers.

Pure data and parsing: no I/O and no Airflow.
"""
