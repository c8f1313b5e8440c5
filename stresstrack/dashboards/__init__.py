"""Grafana dashboards as code (see the dashboards issue)."""
