from django.urls import path

from gamify.game.api import views

urlpatterns = [
    path("point-rules", views.PointRuleListApi.as_view(), name="point-rule-list"),
    path("point-rules/<int:rule_id>", views.PointRuleDetailApi.as_view(), name="point-rule-detail"),
    path(
        "agents/<str:external_id>/points/adjustments",
        views.AdjustmentCreateApi.as_view(),
        name="points-adjustment-create",
    ),
    path("levels", views.LevelsApi.as_view(), name="levels"),
    path("badges", views.BadgeListApi.as_view(), name="badge-list"),
    path("badges/<str:code>", views.BadgeDetailApi.as_view(), name="badge-detail"),
    path("agents/<str:external_id>/badges", views.AgentBadgesApi.as_view(), name="agent-badges"),
]
