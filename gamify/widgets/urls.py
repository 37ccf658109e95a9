from django.urls import path

from gamify.widgets import views

urlpatterns = [
    path("widgets/agent", views.agent_page, name="widget-agent"),
    path("widgets/agent/events", views.agent_events, name="widget-agent-events"),
    path("widgets/leaderboard", views.leaderboard_page, name="widget-leaderboard"),
    path("widgets/store", views.store_page, name="widget-store"),
    path("widgets/store/redeem", views.redeem, name="widget-redeem"),
    path("widgets/wallboard", views.wallboard_page, name="widget-wallboard"),
]
