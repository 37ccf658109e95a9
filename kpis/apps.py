from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KpisConfig(AppConfig):
    """KPI catalogue and formulas, raw events, ingestion, hourly buckets, KPI queries."""

    name = "kpis"
    verbose_name = _("KPIs")

    def ready(self) -> None:
        from kpis import metrics  # noqa: F401  (registers the ingestion gauges)
