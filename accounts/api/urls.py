from django.urls import path

from accounts.api import views

urlpatterns = [
    path("teams", views.TeamListApi.as_view(), name="team-list"),
    path("teams/<str:external_id>", views.TeamDetailApi.as_view(), name="team-detail"),
    path("agents", views.AgentListApi.as_view(), name="agent-list"),
    path("agents/<str:external_id>", views.AgentDetailApi.as_view(), name="agent-detail"),
    path("widget-tokens", views.WidgetTokenCreateApi.as_view(), name="widget-token-create"),
    path("whoami", views.WhoAmIApi.as_view(), name="whoami"),
]
