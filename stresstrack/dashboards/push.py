"""Upload the dashboards to a running Grafana with grafana-client (Grafana's HTTP API).

The token (a Grafana service account token) comes from ``GRAFANA_TOKEN`` or a file and is
never printed: errors say what failed and where, without it. Dashboards are written with
``overwrite`` into one folder, created when missing; the datasource they query
(uid ``stresstrack-influxdb``) is checked and reported when missing, since Grafana shows the
dashboards without data then.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from grafana_foundation_sdk.models.dashboard import Dashboard

from stresstrack.dashboards.influxql import DATASOURCE_UID
from stresstrack.dashboards.provisioning import FOLDER, dashboard_json
from stresstrack.errors import StressTrackError

__all__ = ["FOLDER_UID", "TOKEN_ENV", "PushError", "PushReport", "push"]

TOKEN_ENV: Final = "GRAFANA_TOKEN"
FOLDER_UID: Final = "stresstrack"
TIMEOUT_S: Final = 10.0


class PushError(StressTrackError):
    """Grafana refused or could not be reached; the message never holds the token."""


@dataclass(frozen=True, slots=True)
class PushReport:
    url: str
    folder_uid: str
    dashboards: tuple[str, ...]  # Grafana URLs of the dashboards written
    datasource_found: bool

    def summary(self) -> str:
        lines = [f"pushed {len(self.dashboards)} dashboards to {self.url}:"]
        lines += [f"  {u}" for u in self.dashboards]
        if not self.datasource_found:
            lines.append(
                f"warning: no datasource with uid {DATASOURCE_UID!r} in Grafana: the dashboards "
                "show no data until it exists (deploy/grafana/provisioning/datasources/)"
            )
        return "\n".join(lines)


def _safe_url(url: str) -> str:
    """``url`` without credentials or query (for messages)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PushError(f"--grafana-url must be http(s)://host[:port][/path], got {url!r}")
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


def push(
    url: str,
    token: str,
    dashboards: Mapping[str, Dashboard],
    *,
    folder: str = FOLDER,
    folder_uid: str = FOLDER_UID,
) -> PushReport:
    """Create the folder if needed and write every dashboard (overwriting older versions)."""
    import requests
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaClientError, GrafanaException

    base = _safe_url(url)
    api = GrafanaApi.from_url(base, credential=token, timeout=TIMEOUT_S)

    def call(what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except GrafanaException as exc:
            status = getattr(exc, "status_code", "?")
            raise PushError(
                f"Grafana {base} refused {what} (HTTP {status}): {exc.message}"
            ) from None
        except requests.RequestException as exc:
            raise PushError(
                f"cannot reach Grafana at {base} ({what}): {type(exc).__name__}"
            ) from None

    try:
        api.folder.get_folder(folder_uid)
    except GrafanaClientError as exc:
        if getattr(exc, "status_code", None) != 404:
            raise PushError(
                f"Grafana {base} refused reading folder {folder_uid!r} "
                f"(HTTP {exc.status_code}): {exc.message}"
            ) from None
        call(f"creating folder {folder!r}", api.folder.create_folder, folder, folder_uid)
    except requests.RequestException as exc:
        raise PushError(f"cannot reach Grafana at {base}: {type(exc).__name__}") from None

    written = []
    for name, board in dashboards.items():
        payload = {
            "dashboard": {**json.loads(dashboard_json(board)), "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": "stresstrack dashboards push",
        }
        answer = call(f"dashboard {name!r}", api.dashboard.update_dashboard, payload)
        path = answer.get("url", "") if isinstance(answer, dict) else ""
        written.append(f"{base}{path}" if path else f"{base}/d/{board.uid}")

    try:
        api.datasource.get_datasource_by_uid(DATASOURCE_UID)
        found = True
    except GrafanaClientError:
        found = False
    except requests.RequestException as exc:
        raise PushError(f"cannot reach Grafana at {base}: {type(exc).__name__}") from None
    return PushReport(
        url=base, folder_uid=folder_uid, dashboards=tuple(written), datasource_found=found
    )
