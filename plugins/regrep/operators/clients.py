"""The two registry clients of a rule, built from its connections by the hooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from regrep.hooks import registry_hook
from regrep.registry.cancellation import Cancellation
from regrep.registry.protocols import DestinationRegistry, SourceRegistry
from regrep.rules import Rule
from regrep.rules.modes import check_destination


@contextmanager
def rule_clients(
    rule: Rule, stop: Cancellation | None = None
) -> Iterator[tuple[SourceRegistry, DestinationRegistry]]:
    """Yield ``(source, destination)`` clients for ``rule`` and close them afterwards.

    A destination that can never receive content is refused first (:mod:`regrep.rules.modes`).
    Both clients are built with ``stop`` (the task's): a stopped task does not sit out a
    ``Retry-After``, and its transfers are broken off.
    """
    stop = stop or Cancellation()
    destination_hook = registry_hook(rule.destination)
    check_destination(rule, destination_hook)
    with ExitStack() as stack:
        source = stack.enter_context(registry_hook(rule.source).get_client(stop))
        destination = stack.enter_context(destination_hook.get_destination(stop))
        yield source, destination
