"""Every gamify sub-app's API routes, mounted under /api/v1/ by config.urls."""

from django.urls import path

from gamify.activity.api import ActivityListApi
from gamify.coaching import api as coaching
from gamify.contests import api as contests
from gamify.game.api import urls as game_urls
from gamify.game_templates import api as game_templates_api
from gamify.leaderboards.api import LeaderboardApi
from gamify.profile_api import AgentProfileApi
from gamify.wallet.api import urls as wallet_urls
from gamify.webhooks import api as webhooks_api

urlpatterns = [
    path("activity", ActivityListApi.as_view(), name="activity-list"),
    *game_urls.urlpatterns,
    path("agents/<str:external_id>/profile", AgentProfileApi.as_view(), name="agent-profile"),
    *game_templates_api.urlpatterns,
    path("leaderboards", LeaderboardApi.as_view(), name="leaderboard"),
    path("contests", contests.ContestListApi.as_view(), name="contest-list"),
    path("contests/<int:contest_id>", contests.ContestDetailApi.as_view(), name="contest-detail"),
    path(
        "contests/<int:contest_id>/cancel",
        contests.ContestCancelApi.as_view(),
        name="contest-cancel",
    ),
    path(
        "contests/<int:contest_id>/standings",
        contests.ContestStandingsApi.as_view(),
        name="contest-standings",
    ),
    *wallet_urls.urlpatterns,
    path(
        "agents/<str:external_id>/scorecard",
        coaching.AgentScorecardApi.as_view(),
        name="agent-scorecard",
    ),
    path(
        "teams/<str:external_id>/scorecard",
        coaching.TeamScorecardApi.as_view(),
        name="team-scorecard",
    ),
    path("scorecard", coaching.TenantScorecardApi.as_view(), name="tenant-scorecard"),
    path("goals", coaching.GoalListApi.as_view(), name="goal-list"),
    path("goals/<int:goal_id>", coaching.GoalDetailApi.as_view(), name="goal-detail"),
    path("alert-rules", coaching.AlertRuleListApi.as_view(), name="alert-rule-list"),
    path(
        "alert-rules/<int:alert_rule_id>",
        coaching.AlertRuleDetailApi.as_view(),
        name="alert-rule-detail",
    ),
    path("coaching/settings", coaching.CoachingSettingsApi.as_view(), name="coaching-settings"),
    *webhooks_api.urlpatterns,
]
