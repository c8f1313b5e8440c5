"""`stresstrack dashboards push` through grafana-client, against a recording HTTP server.

No Grafana binary is available to the test suite, so a small server on a free loopback port
answers the four Grafana HTTP API calls push makes (folder read/create, dashboard write,
datasource read) as Grafana documents them, and records what it received.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stresstrack.cli import main
from stresstrack.dashboards import build_dashboards
from stresstrack.dashboards.provisioning import dashboard_json
from stresstrack.dashboards.push import TOKEN_ENV

CANARY = "glsa_canary-token-do-not-print"


class FakeGrafana(BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, str, str, Any]]] = []
    folders: ClassVar[set[str]] = set()
    token: ClassVar[str] = CANARY
    # uid -> (status, body) Grafana answers a dashboard write with (its HTTP API docs).
    refusals: ClassVar[dict[str, tuple[int, Any]]] = {}
    folder_conflict: ClassVar[bool] = False  # the folder appears between read and create

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        auth = self.headers.get("Authorization", "")
        self.requests.append((self.command, self.path, auth, body))
        if auth != f"Bearer {self.token}":
            self._answer(401, {"message": "invalid API key"})
        elif self.command == "GET" and self.path.startswith("/api/folders/"):
            uid = self.path.rsplit("/", 1)[1]
            if uid in self.folders:
                self._answer(200, {"uid": uid})
            else:
                self._answer(404, {"message": "folder not found"})
        elif self.command == "POST" and self.path == "/api/folders":
            self.folders.add(body["uid"])
            if self.folder_conflict:
                self._answer(409, {"message": "a folder with the same uid already exists"})
            else:
                self._answer(200, {"uid": body["uid"], "title": body["title"]})
        elif self.command == "POST" and self.path == "/api/dashboards/db":
            uid = body["dashboard"]["uid"]
            if uid in self.refusals:
                self._answer(*self.refusals[uid])
            else:
                self._answer(200, {"status": "success", "uid": uid, "url": f"/d/{uid}/x"})
        elif self.command == "GET" and self.path.startswith("/api/datasources/uid/"):
            self._answer(404, {"message": "Data source not found"})
        else:
            self._answer(404, {"message": "not found"})

    do_GET = _handle
    do_POST = _handle


@pytest.fixture
def grafana() -> Iterator[str]:
    FakeGrafana.requests = []
    FakeGrafana.folders = set()
    FakeGrafana.refusals = {}
    FakeGrafana.folder_conflict = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGrafana)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_push_creates_the_folder_and_writes_every_dashboard(
    grafana: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TOKEN_ENV, CANARY)
    assert main(["dashboards", "push", "--grafana-url", grafana]) == 0
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    boards = build_dashboards()
    assert out.splitlines() == [
        f"pushed 4 dashboards to {grafana}:",
        *(f"  {grafana}/d/{b.uid}/x" for b in boards.values()),
        "warning: no datasource with uid 'stresstrack-influxdb' in Grafana: the dashboards "
        "show no data until it exists (deploy/grafana/provisioning/datasources/)",
    ]
    calls = [(m, p) for m, p, _, _ in FakeGrafana.requests]
    assert calls == [
        ("GET", "/api/folders/stresstrack"),
        ("POST", "/api/folders"),
        *[("POST", "/api/dashboards/db")] * 4,
        ("GET", "/api/datasources/uid/stresstrack-influxdb"),
    ]
    written = [b for m, p, _, b in FakeGrafana.requests if p == "/api/dashboards/db"]
    assert written == [
        {
            "dashboard": {**json.loads(dashboard_json(b)), "id": None},
            "folderUid": "stresstrack",
            "overwrite": True,
            "message": "stresstrack dashboards push",
        }
        for b in boards.values()
    ]
    # Again: the folder exists now and is not created twice.
    assert main(["dashboards", "push", "--grafana-url", grafana]) == 0
    assert [p for m, p, _, _ in FakeGrafana.requests].count("/api/folders") == 1


def test_a_refused_token_is_reported_without_printing_it(
    grafana: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("glsa_wrong-token-do-not-print\n")
    argv = ["dashboards", "push", "--grafana-url", grafana, "--grafana-token-file"]
    assert main([*argv, str(token_file)]) == 2
    out, err = capsys.readouterr()
    assert "wrong-token" not in out + err
    assert err.strip() == (
        f"stresstrack dashboards: error: Grafana {grafana} refused reading folder "
        "'stresstrack' (HTTP 401): Unauthorized"
    )


def test_missing_token_unreachable_grafana_and_bad_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert main(["dashboards", "push", "--grafana-url", "http://127.0.0.1:9"]) == 2
    assert (
        "no Grafana token: set $GRAFANA_TOKEN or give a --grafana-token-file"
        in capsys.readouterr().err
    )
    monkeypatch.setenv(TOKEN_ENV, CANARY)
    from servers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert main(["dashboards", "push", "--grafana-url", url]) == 2
    err = capsys.readouterr().err
    assert "cannot reach Grafana at http://127.0.0.1:" in err and CANARY not in err
    # Credentials inside the URL are refused, never echoed (issue 16, item 12).
    assert main(["dashboards", "push", "--grafana-url", url.replace("//", "//user:s3cr@")]) == 2
    err = capsys.readouterr().err
    assert "--grafana-url: no credentials in the URL" in err and "s3cr" not in err
    assert main(["dashboards", "push", "--grafana-url", "http://grafana:99999"]) == 2
    assert "--grafana-url: must be http(s)://host" in capsys.readouterr().err
    assert main(["dashboards", "push", "--grafana-url", "grafana:3000"]) == 2
    assert "--grafana-url: must be http(s)://host" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.write_text("")
    assert (
        main(
            ["dashboards", "push", "--grafana-url", "http://x", "--grafana-token-file", str(empty)]
        )
        == 2
    )
    assert f"--grafana-token-file {empty} is empty" in capsys.readouterr().err


PROVISIONED = (400, {"message": "Cannot save provisioned dashboard"})


def test_a_provisioned_dashboard_is_skipped_and_a_folder_conflict_is_used(
    grafana: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Grafana provisions our files (docker-compose): the same uid cannot be saved by the API;
    push says so and writes the others. A folder created meanwhile (409) is used."""
    monkeypatch.setenv(TOKEN_ENV, CANARY)
    FakeGrafana.refusals = {"stresstrack-cohort": PROVISIONED}
    FakeGrafana.folder_conflict = True
    assert main(["dashboards", "push", "--grafana-url", grafana]) == 0
    out = capsys.readouterr().out
    assert "pushed 3 dashboards" in out
    assert "skipped stresstrack-cohort: provisioned from files in this Grafana" in out
    calls = [(m, p) for m, p, _, _ in FakeGrafana.requests]
    assert calls[:3] == [
        ("GET", "/api/folders/stresstrack"),
        ("POST", "/api/folders"),
        ("GET", "/api/folders/stresstrack"),
    ]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            (403, {"message": "Access denied"}),
            "(uid stresstrack-participant, HTTP 403): Access denied; the token may not write "
            "dashboards in folder 'StressTrack': give its service account the Editor role",
        ),
        (
            (412, {"status": "name-exists", "message": "A dashboard with the same name in the "
                   "folder already exists"}),
            "(uid stresstrack-participant, HTTP 412, name-exists): A dashboard with the same "
            "name in the folder already exists; another dashboard with this title is in folder "
            "'StressTrack': rename or delete it",
        ),
        (
            (409, {"message": "conflict"}),
            "(uid stresstrack-participant, HTTP 409): conflict; another dashboard is in the way",
        ),
    ],
)  # fmt: skip
def test_refusals_name_the_dashboard_and_what_to_do(
    grafana: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: tuple[int, Any],
    expected: str,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, CANARY)
    FakeGrafana.refusals = {"stresstrack-participant": answer}
    assert main(["dashboards", "push", "--grafana-url", grafana]) == 2
    _out, err = capsys.readouterr()
    assert f"Grafana {grafana} refused dashboard 'participant' {expected}" in err, err
    assert CANARY not in err
