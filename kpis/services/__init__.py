"""Writes of the KPI pipeline: ingestion (ingestion.py), the catalogue (catalogue.py) and
bulk imports (imports.py)."""
