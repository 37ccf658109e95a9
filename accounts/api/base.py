"""The base every tenant's API view builds on.

`TenantAPIView` is the one place a request's tenant comes from: views read `self.tenant`
and hand it to selectors and services, which filter with `Model.objects.for_tenant(...)`.
An object of another tenant is therefore simply not found (404). Once the caller is
authenticated, the view also runs in its tenant's scope (core/tenancy.py): a query that
forgot its filter still sees only this tenant's rows. The tenant-free fields and
helpers are core/api/base.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.views import APIView

from accounts.api.auth import Principal, assert_widget_may_see_agent
from accounts.models import Agent, Team, Tenant
from core import tenancy
from core.api.pagination import CursorPagination
from core.errors import NotFoundError


class TenantAPIView(APIView):
    """An API view acting for the authenticated caller's tenant."""

    # Set `widget_access = True` on read views an agent's widget token may call.
    widget_access = False

    _tenant_token: Any = None

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authenticates: the tenant is known now
        self._tenant_token = tenancy.enter(self.tenant)

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        if self._tenant_token is not None:
            tenancy.leave(self._tenant_token)
            self._tenant_token = None
        return super().finalize_response(request, response, *args, **kwargs)

    @property
    def principal(self) -> Principal:
        principal = self.request.user
        assert isinstance(principal, Principal)  # guaranteed by HasScope
        return principal

    @property
    def tenant(self) -> Tenant:
        return self.principal.tenant

    def get_agent(self, external_id: str) -> Agent:
        """The tenant's agent with this external id (404 otherwise), visible to the caller."""
        queryset = Agent.objects.for_tenant(self.tenant).select_related("team")
        agent = queryset.filter(external_id=external_id).first()
        if agent is None:
            raise NotFoundError(f"No agent with external id {external_id!r}.")
        assert_widget_may_see_agent(self.principal, agent.pk)
        return agent

    def get_team(self, external_id: str) -> Team:
        team = Team.objects.for_tenant(self.tenant).filter(external_id=external_id).first()
        if team is None:
            raise NotFoundError(f"No team with external id {external_id!r}.")
        return team

    def paginate(
        self,
        queryset: QuerySet[Any],
        serializer_class: type[serializers.BaseSerializer[Any]],
        *,
        ordering: str | tuple[str, ...] = "-id",
        context: Mapping[str, Any] | None = None,
    ) -> Any:
        paginator = CursorPagination()
        paginator.ordering = ordering  # type: ignore[assignment]
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        data = serializer_class(page, many=True, context=dict(context or {})).data
        return paginator.get_paginated_response(data)
