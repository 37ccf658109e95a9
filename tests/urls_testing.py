"""URLs used only by tests: the project's URLs plus views that exercise shared mechanisms."""

import time
import uuid

from django.urls import include, path
from rest_framework import status
from rest_framework.response import Response

from accounts.api.base import TenantAPIView
from accounts.api.idempotency import idempotent
from accounts.models import Team
from core.api.problems import Problem
from tests import tenancy_probe


class Boom(TenantAPIView):
    def get(self, request):
        raise RuntimeError("a bug")


class OutOfLuck(Problem):
    slug = "out-of-luck"
    title = "Out of luck"


class IdempotentCreate(TenantAPIView):
    """Creates a team per executed request, so tests can count executions."""

    @idempotent
    def post(self, request):
        if request.data.get("fail"):
            raise OutOfLuck("try again later")
        if request.data.get("invalid"):
            return Response({"errors": "bad"}, status=400)
        time.sleep(float(request.data.get("sleep", 0)))
        team = Team.objects.create(
            tenant=self.tenant, external_id=uuid.uuid4().hex, name=str(request.data.get("name"))
        )
        return Response({"team": team.external_id}, status=status.HTTP_201_CREATED)


urlpatterns = [
    path("api/v1/_test/boom", Boom.as_view()),
    path("api/v1/_test/idempotent", IdempotentCreate.as_view()),
    path("api/v1/_test/forgetful-teams", tenancy_probe.ForgetfulTeams.as_view()),
    path("_test/forgetful-page", tenancy_probe.forgetful_page),
    path("", include("config.urls")),
]
