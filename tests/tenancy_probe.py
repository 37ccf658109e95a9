"""Code that forgets its tenant filter, on purpose, for tests/accounts/test_tenancy.py.

Not test code: tests/conftest.py tells core/tenancy to treat this file as application code
(the rest of tests/ may read across tenants), so these show what a forgotten filter does in
a view, in a Celery task and in plain code.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db.models import Count
from django.http import HttpRequest, JsonResponse
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from accounts.models import Team


def team_names() -> list[str]:
    """Every team's name: the filter on the tenant is forgotten."""
    return sorted(Team.objects.values_list("name", flat=True))


class ForgetfulTeams(TenantAPIView):
    """An API view that forgot `for_tenant`: its tenant scope still limits it."""

    def get(self, request: HttpRequest) -> Response:
        return Response({"teams": team_names()})


def forgetful_page(request: HttpRequest) -> JsonResponse:
    """A page outside every scope that forgot its filter: refused."""
    return JsonResponse({"teams": team_names()})


@shared_task(name="tests.tenancy.team_names_of")
def team_names_of(tenant_id: int) -> list[str]:
    """A task naming its tenant: run in that tenant's scope."""
    return team_names()


@shared_task(name="tests.tenancy.team_names_anywhere")
def team_names_anywhere(label: str) -> list[str]:
    """A task naming no tenant: the forgotten filter is refused, as on a worker."""
    return team_names()


def evaluate(queryset: Any, how: str) -> Any:
    """Run a queryset here, in application code, in one of the ways a query can run."""
    if how == "list":
        return list(queryset)
    if how == "iterator":
        return list(queryset.iterator())
    if how == "aggregate":
        return queryset.aggregate(n=Count("id"))
    if how == "update":
        return queryset.update(name="renamed") if queryset.model is Team else queryset.update()
    if how == "delete":
        return queryset.delete()
    return getattr(queryset, how)()
