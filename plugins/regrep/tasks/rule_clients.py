"""The two registry clients of a rule, built from its connections by the hooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from regrep.hooks import registry_hook
from regrep.hooks.base import RegistryHook
from regrep.registry.cancellation import Cancellation
from regrep.registry.errors import ConnectionConfigError
from regrep.registry.protocols import DestinationRegistry, SourceRegistry
from regrep.rules import Rule
from regrep.rules.modes import destination_role


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


def check_destination(rule: Rule, destination: RegistryHook) -> None:
    """Refuse, before anything is listed, a destination that can never receive content.

    Raises :class:`~regrep.registry.errors.ConnectionConfigError` naming the rule, the connection,
    the role the rule's mode gives it, and the provider's reason.
    """
    reason = destination.cannot_push(destination.get_endpoint())
    if reason is not None:
        raise ConnectionConfigError(
            f"rule {rule.name!r}: connection {rule.destination!r} cannot be "
            f"{destination_role(rule)}: {reason}"
        )
