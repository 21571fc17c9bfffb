"""Adapter for the Model Studio HTTP API (httpx): the only place that speaks to the service."""
