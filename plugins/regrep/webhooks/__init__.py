"""The webhook receiver: source registries report pushes and deletions to regrep.

:mod:`~regrep.webhooks.payloads` reads what distribution and Harbor send;
:mod:`~regrep.webhooks.app` is the FastAPI app the regrep plugin mounts in Airflow's API
server at ``/regrep``, which authenticates the sender and records one asset event per image
event on the source endpoint's asset.
"""
