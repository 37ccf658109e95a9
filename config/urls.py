from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.api import urls as accounts_urls
from core import health, metrics
from gamify import api_urls as gamify_urls
from gamify.widgets import urls as widget_urls
from kpis.api import urls as kpis_urls

# One flat list: resolving walks no nested includes on every request. Django tries the routes
# in order, so the two that carry most of the traffic (platforms posting events, widgets
# polling boards) go first; they are literal paths that no other route can match.
HOT = ("event-ingest", "leaderboard")
_all = [*accounts_urls.urlpatterns, *kpis_urls.urlpatterns, *gamify_urls.urlpatterns]
api_v1 = sorted(_all, key=lambda route: route.name not in HOT)  # stable: the rest keep order

# An error that escapes a middleware: a database outage is a 503 with Retry-After there too.
handler500 = "core.api.problems.server_error"

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    # set_language: the admin's language menu posts here (a cookie keeps the choice).
    path("i18n/", include("django.conf.urls.i18n")),
    *widget_urls.urlpatterns,
]
