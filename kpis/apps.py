from django.apps import AppConfig


class KpisConfig(AppConfig):
    """KPI catalogue and formulas, raw events, ingestion, hourly buckets, KPI queries."""

    name = "kpis"
    verbose_name = "KPIs"

    def ready(self) -> None:
        from kpis import metrics  # noqa: F401  (registers the ingestion gauges)
