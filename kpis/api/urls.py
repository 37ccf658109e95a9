from django.urls import path

from kpis.api import views

urlpatterns = [
    path("events", views.EventIngestApi.as_view(), name="event-ingest"),
    path("events/import", views.EventImportApi.as_view(), name="event-import"),
    path(
        "events/import/<int:job_id>",
        views.EventImportDetailApi.as_view(),
        name="event-import-detail",
    ),
    # <path:…>: an event_id may contain "/" (platforms' ids are theirs to choose).
    path("events/<path:event_id>/void", views.EventVoidApi.as_view(), name="event-void"),
    path("ingest/status", views.IngestStatusApi.as_view(), name="ingest-status"),
    path("kpis", views.KpiListApi.as_view(), name="kpi-list"),
    path("kpis/<str:code>", views.KpiDetailApi.as_view(), name="kpi-detail"),
    path("agents/<str:external_id>/kpis", views.AgentKpisApi.as_view(), name="agent-kpis"),
    path(
        "agents/<str:external_id>/kpis/<str:code>/series",
        views.AgentSeriesApi.as_view(),
        name="agent-kpi-series",
    ),
    path("teams/<str:external_id>/kpis", views.TeamKpisApi.as_view(), name="team-kpis"),
    path(
        "teams/<str:external_id>/kpis/<str:code>/series",
        views.TeamSeriesApi.as_view(),
        name="team-kpi-series",
    ),
]
