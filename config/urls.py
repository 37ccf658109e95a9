from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.api import urls as accounts_urls
from config import health, metrics
from gamify import api_urls as gamify_urls
from kpis.api import urls as kpis_urls

# One flat list: resolving walks no nested includes on every request.
api_v1 = [*accounts_urls.urlpatterns, *kpis_urls.urlpatterns, *gamify_urls.urlpatterns]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
]
