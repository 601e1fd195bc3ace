"""The OCI distribution client and the registry protocols; importable without Airflow.

:class:`~regrep.registry.client.RegistryClient` is the one way regrep talks to a registry;
planning and the copy engine know it only as :mod:`~regrep.registry.protocols`; its failures
are the typed errors of :mod:`regrep.registry.errors`. Nothing is imported here, so reading
the errors or the protocols does not load ``requests``.
"""
