"""The operator of regrep's tasks: ``@task``'s, with no template fields.

A task whose template fields are empty sends Airflow no rendered fields when it starts,
which spares a metadata-database write (and its ``DELETE`` of old records) on every task
start (docs/performance.md, "Per-task overhead").
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, ClassVar

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk.bases.decorator import DecoratedOperator, TaskDecorator, task_decorator_factory


class DataTaskOperator(DecoratedOperator, PythonOperator):
    """``@task``'s operator with no template fields: its arguments are data, never Jinja.

    A task whose template fields are empty sends Airflow no rendered fields when it starts,
    which spares a metadata-database write (and its ``DELETE`` of old records) on every task
    start. The copy's arguments come from the plan's XCom, which Airflow does not render
    anyway; the UI's *Rendered Template* tab shows nothing for these tasks, the map index
    label still shows each copy's resource. Built as Airflow documents custom ``@task``
    decorators (the SDK's ``DecoratedOperator`` over ``PythonOperator``, both public), not on
    the standard provider's private ``@task`` operator.
    """

    template_fields: Sequence[str] = ()
    template_fields_renderers: ClassVar[dict[str, str]] = {}
    custom_operator_name: str = "@task"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            # PythonOperator, after DecoratedOperator in the MRO, takes the callable too.
            kwargs_to_upstream={
                "python_callable": python_callable,
                "op_args": op_args,
                "op_kwargs": op_kwargs,
            },
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            **kwargs,
        )


def data_task(**kwargs: Any) -> TaskDecorator:
    """``@task(**kwargs)`` built on :class:`DataTaskOperator`."""
    return task_decorator_factory(decorated_operator_class=DataTaskOperator, **kwargs)
