"""Writes of the KPI pipeline besides ingestion (kpis/ingest/): the catalogue (catalogue.py) and
bulk imports (imports.py)."""
