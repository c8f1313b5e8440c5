"""Upload the dashboards to a running Grafana with grafana-client (Grafana's HTTP API).

The token (a Grafana service account token) comes from ``GRAFANA_TOKEN`` or a file and is
never printed: errors say what failed and where, without it. Dashboards are written with
``overwrite`` into one folder, created when missing (a folder created meanwhile, HTTP 409,
is used); the datasource they query (uid ``stresstrack-influxdb``) is left as it is, checked
and reported when missing, since Grafana shows the dashboards without data then.

Grafana's refusals of a dashboard write (HTTP API, ``POST /api/dashboards/db``): a dashboard
provisioned from files with the same uid cannot be saved (400): it is skipped and reported,
the files are ours (``dashboards export``); 403: the token's role may not write there; 409
and 412 (``name-exists``, ``version-mismatch``, ``plugin-dashboard``): another dashboard is in
the way. Each is a clear error naming the dashboard and what to do.

Size (issue 17): ``push`` is long because it is one conversation with Grafana's HTTP API
(folder, then each dashboard, with the server's errors turned into messages that never hold
the token); its steps share the client and the error handling.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from grafana_foundation_sdk.models.dashboard import Dashboard

from stresstrack.credentials import refuse_url_credentials
from stresstrack.dashboards.influxql import DATASOURCE_UID
from stresstrack.dashboards.provisioning import FOLDER, dashboard_json
from stresstrack.errors import SettingError, StressTrackError

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
    provisioned: tuple[str, ...] = ()  # uids skipped: provisioned from files in that Grafana

    def summary(self) -> str:
        lines = [f"pushed {len(self.dashboards)} dashboards to {self.url}:"]
        lines += [f"  {u}" for u in self.dashboards]
        lines += [
            f"skipped {uid}: provisioned from files in this Grafana (update those files with "
            "`stresstrack dashboards export`)"
            for uid in self.provisioned
        ]
        if not self.datasource_found:
            lines.append(
                f"warning: no datasource with uid {DATASOURCE_UID!r} in Grafana: the dashboards "
                "show no data until it exists (deploy/grafana/provisioning/datasources/)"
            )
        return "\n".join(lines)


def _safe_url(url: str) -> str:
    """``url`` without query (for messages); credentials in it are refused."""
    refuse_url_credentials(url, "Grafana URL", f"${TOKEN_ENV} or a token file")
    parts = urlsplit(url)
    try:
        port = parts.port  # ValueError: not a port number
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise SettingError("Grafana URL", f"must be http(s)://host[:port][/path], got {url!r}")
    host = parts.hostname + (f":{port}" if port else "")
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
        try:
            call(f"creating folder {folder!r}", api.folder.create_folder, folder, folder_uid)
        except PushError:
            # 409: created meanwhile (or a folder of that name exists); use it if it is there.
            call(f"reading folder {folder_uid!r}", api.folder.get_folder, folder_uid)
    except requests.RequestException as exc:
        raise PushError(f"cannot reach Grafana at {base}: {type(exc).__name__}") from None

    written = []
    provisioned = []
    for name, board in dashboards.items():
        payload = {
            "dashboard": {**json.loads(dashboard_json(board)), "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": "stresstrack dashboards push",
        }
        try:
            answer = api.dashboard.update_dashboard(payload)
        except GrafanaException as exc:
            if _is_provisioned(exc):
                provisioned.append(str(board.uid))
                continue
            raise PushError(_refusal(base, name, str(board.uid), folder, exc)) from None
        except requests.RequestException as exc:
            raise PushError(
                f"cannot reach Grafana at {base} (dashboard {name!r}): {type(exc).__name__}"
            ) from None
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
        url=base,
        folder_uid=folder_uid,
        dashboards=tuple(written),
        datasource_found=found,
        provisioned=tuple(provisioned),
    )


def _answer(exc: Any) -> tuple[int | None, str, str]:
    """(HTTP status, Grafana's ``status`` word, its message) of a refusal."""
    body = exc.response if isinstance(exc.response, dict) else {}
    return exc.status_code, str(body.get("status", "")), str(body.get("message", exc.message))


def _is_provisioned(exc: Any) -> bool:
    status, word, message = _answer(exc)
    return status == 400 and ("provisioned" in message.lower() or "provisioned" in word)


def _refusal(base: str, name: str, uid: str, folder: str, exc: Any) -> str:
    status, word, message = _answer(exc)
    head = f"Grafana {base} refused dashboard {name!r} (uid {uid}, HTTP {status}"
    head += f", {word}): {message}" if word else f"): {message}"
    if status == 403:
        return (
            f"{head}; the token may not write dashboards in folder {folder!r}: give its "
            "service account the Editor role"
        )
    if status == 412 and word == "name-exists":
        return (
            f"{head}; another dashboard with this title is in folder {folder!r}: rename or "
            "delete it"
        )
    if status in (409, 412):
        return f"{head}; another dashboard is in the way of uid {uid}: delete or move it"
    return head
