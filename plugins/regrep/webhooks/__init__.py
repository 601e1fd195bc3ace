"""The webhook receiver: source registries report pushes and deletions to regrep.

:mod:`~regrep.webhooks.payloads` reads what distribution and Harbor send;
:mod:`~regrep.webhooks.app` is the router of regrep's app in Airflow's API server
(``/regrep/webhooks/<conn id>``, :mod:`regrep.plugin_app`), which authenticates the sender and
records one asset event per image event on the source endpoint's asset.
"""
