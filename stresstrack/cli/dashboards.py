"""``stresstrack dashboards``: write the Grafana dashboards as provisioning, or push them."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "dashboards"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="export the Grafana dashboards as provisioning files, or push them to Grafana",
        description="The participant, cohort, sessions and days dashboards (InfluxQL on the "
        "InfluxDB replica, docs/schema.md). `export DIR` writes Grafana provisioning (datasource, "
        "dashboards provider, dashboard JSON); `push` uploads the dashboards to a running "
        "Grafana.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    e = actions.add_parser(
        "export",
        help="write Grafana provisioning files into DIR",
        description="Write DIR/datasources/influxdb.yaml, DIR/dashboards/stresstrack.yaml and "
        "DIR/dashboards/*.json. The InfluxDB token is never written: Grafana reads it from "
        "its environment (STRESSTRACK_INFLUX_TOKEN), like the URL and bucket unless given.",
    )
    e.add_argument("directory", type=Path, metavar="DIR")
    e.add_argument(
        "--influx-url",
        default=None,
        metavar="URL",
        help="InfluxDB URL as Grafana reaches it (default: ${STRESSTRACK_INFLUX_URL})",
    )
    e.add_argument(
        "--influx-bucket",
        default=None,
        metavar="BUCKET",
        help="bucket (InfluxDB 2.x/3.x) or database (1.x) (default: ${STRESSTRACK_INFLUX_BUCKET})",
    )
    e.add_argument(
        "--dashboards-path",
        default=None,
        metavar="PATH",
        help="where Grafana finds the JSON files (default: /etc/grafana/provisioning/dashboards)",
    )
    e.set_defaults(run=run_export)

    u = actions.add_parser(
        "push",
        help="upload the dashboards to Grafana",
        description="Create the StressTrack folder when missing and write the dashboards into "
        "it, replacing older versions. Token: GRAFANA_TOKEN or --grafana-token-file (a service "
        "account token with Editor rights); never printed.",
    )
    u.add_argument("--grafana-url", required=True, metavar="URL", help="e.g. http://localhost:3000")
    u.add_argument("--grafana-token-file", type=Path, metavar="FILE", help="file holding the token")
    u.set_defaults(run=run_push)


def run_export(args: argparse.Namespace) -> int:
    from stresstrack.credentials import refuse_url_credentials
    from stresstrack.dashboards import build_dashboards
    from stresstrack.dashboards.provisioning import Provisioning, export

    if args.influx_url:  # it is written into the provisioning file Grafana reads
        refuse_url_credentials(args.influx_url, "--influx-url", "${STRESSTRACK_INFLUX_TOKEN}")
    d = Provisioning()
    p = Provisioning(
        influx_url=args.influx_url or d.influx_url,
        influx_bucket=args.influx_bucket or d.influx_bucket,
        dashboards_path=args.dashboards_path or d.dashboards_path,
    )
    for path in export(args.directory, build_dashboards(), p):
        print(path)
    return 0


def run_push(args: argparse.Namespace) -> int:
    from stresstrack.credentials import read_secret, refuse_url_credentials
    from stresstrack.dashboards import build_dashboards
    from stresstrack.dashboards.push import TOKEN_ENV, push

    refuse_url_credentials(
        args.grafana_url, "--grafana-url", f"${TOKEN_ENV} or --grafana-token-file"
    )
    token = read_secret(
        args.grafana_token_file,
        TOKEN_ENV,
        name="Grafana token",
        source="--grafana-token-file",
        required=True,
    )
    report = push(args.grafana_url, token, build_dashboards())
    print(report.summary())
    return 0
