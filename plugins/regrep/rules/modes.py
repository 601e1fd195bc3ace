"""Rule modes: which side of a rule is your own registry, and what that asks of each side.

Harbor always stands on one side of its rules: a pull-based rule copies a remote registry
into it, a push-based rule copies it to a remote one. A regrep rule names two connections,
so ``mode`` (:data:`regrep.rules.Mode`) says which one is yours. It changes nothing in what
is copied; it lets regrep check more, and say more:

- in the rule itself: a pull-mode rule cannot be event based (see ``Rule``), since a remote
  source does not report its pushes to you;
- against the connections, when planning: the destination must accept pushes (a Helm chart
  repository or an anonymous Docker Hub never does), and the error names the role the rule
  gives it (:func:`destination_role`, used by ``regrep.tasks.rule_clients``);
- in the DAG's description (:func:`describe`).

Nothing here imports Airflow: the DAG factory uses :func:`describe` while Airflow parses DAG
files, which must stay cheap.
"""

from __future__ import annotations

from regrep.rules.model import Rule

_DESTINATION_ROLE = {
    "pull": "the local registry of this pull-mode rule",
    "push": "the remote registry this push-mode rule pushes to",
    None: "a replication destination",
}


def describe(rule: Rule) -> str:
    """The DAG description: the rule's own, led by its direction in Harbor's words."""
    if rule.mode == "pull":
        direction = f"Pull-based: remote {rule.source} into local {rule.destination}"
    elif rule.mode == "push":
        direction = f"Push-based: local {rule.source} to remote {rule.destination}"
    else:
        return rule.description or f"Replicate {rule.source} to {rule.destination}"
    return f"{direction}. {rule.description}" if rule.description else direction


def mode_row(rule: Rule) -> str:
    """The mode as the DAG documentation's table shows it."""
    if rule.mode == "pull":
        return f"pull-based (local: `{rule.destination}`)"
    if rule.mode == "push":
        return f"push-based (local: `{rule.source}`)"
    return "not set"


def destination_role(rule: Rule) -> str:
    """The role the rule's mode gives its destination, in an error's words."""
    return _DESTINATION_ROLE[rule.mode]
