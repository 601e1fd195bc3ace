"""The two registry clients of a rule, built from its connections by the hooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from regrep.cancellation import Cancellation
from regrep.hooks import registry_hook
from regrep.registry import RegistryClient
from regrep.rules import Rule
from regrep.rules.modes import check_destination


@contextmanager
def rule_clients(
    rule: Rule, stop: Cancellation | None = None
) -> Iterator[tuple[RegistryClient, RegistryClient]]:
    """Yield ``(source, destination)`` clients for ``rule`` and close them afterwards.

    A destination that can never receive content is refused first (:mod:`regrep.rules.modes`).
    With ``stop`` (the task's), the clients wait out their retries on it, so a stopped task
    does not sit out a ``Retry-After``.
    """
    destination_hook = registry_hook(rule.destination)
    check_destination(rule, destination_hook)
    with ExitStack() as stack:
        source = stack.enter_context(registry_hook(rule.source).get_client())
        destination = stack.enter_context(destination_hook.get_client())
        if stop is not None:
            source.pause_retries_with(stop.wait)
            destination.pause_retries_with(stop.wait)
        yield source, destination
