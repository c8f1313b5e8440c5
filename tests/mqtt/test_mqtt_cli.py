"""The commands: ``collect --simulate --publish`` into a ``stresstrack pipeline`` worker, and
clear errors for bad MQTT options."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mqtt_link import ProcessWorker, wait_until, worker_events, worker_tables
from servers import MosquittoServer

from stresstrack.cli import error_text, main
from stresstrack.errors import SettingError
from stresstrack.events import Event
from stresstrack.store.sqlite import Store
from stresstrack.transport.mqtt import PASSWORD_ENV, Broker
from stresstrack.transport.publisher import PUBLISHER_DEVICE

pytestmark = pytest.mark.mqtt

# Short windows so that a 16 s collection has features and a stress index.
WINDOWS = ["--hrv-window", "10", "--eda-window", "10", "--baseline", "10"]
WINDOWS += ["--hop", "5", "--slow-hop", "5"]


def _events(path: Path) -> list[Event]:
    with Store(path, readonly=True) as store:
        return list(store.iter_events())


@pytest.mark.slow
def test_collect_simulate_publish_into_a_pipeline_worker(
    tmp_path: Path, broker: MosquittoServer
) -> None:
    url = f"mqtt://{broker.host}:{broker.port}"
    worker = ProcessWorker(tmp_path, url, 1, 1, *WINDOWS).start()
    collector = tmp_path / "collector.db"
    try:
        worker.wait_connected()
        command = [sys.executable, "-m", "stresstrack", "collect", "--simulate"]
        command += ["--participant", "sim-042", "--store", str(collector)]
        command += ["--duration", "16", "--publish", url, *WINDOWS]
        collect = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert collect.returncode == 0, collect.stderr
        sent = _events(collector)

        def delivered() -> bool:
            return len(worker_events([worker.store])[0].get("sim-042", [])) >= len(sent)

        wait_until(delivered, 120, "delivery")
        assert worker.terminate() == 0
    finally:
        worker.cleanup()
    assert "everything in the store is delivered" in collect.stdout
    # Exactly once, in order, with the publisher's status events among them.
    assert worker_events([worker.store])[0] == {"sim-042": sent}
    assert any(e.device == PUBLISHER_DEVICE for e in sent)
    # The worker computed what the collector computed live.
    with Store(collector, readonly=True) as store:
        assert store.count("stress") > 0
    assert worker_tables([worker.store]) == worker_tables([collector])


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["collect", "--publish", "http://h"], "--publish 'http://h': write mqtt://HOST"),
        (["collect", "--publish", "mqtt://u:hunter22@h"], "no credentials in the URL"),
        (["collect", "--publish", "mqtt://h", "--mqtt-ca", "ca.pem"], "needs an mqtts:// URL"),
        (["collect", "--publish", "mqtts://h", "--mqtt-ca", "nope.pem"], "no such file"),
        (["collect", "--publish", "mqtt://h", "--publish-wait", "-1"], "--publish-wait must"),
        (["pipeline", "--store", "w.db"], "--subscribe mqtt://HOST[:PORT] is required"),
        (["pipeline", "--subscribe", "mqtt://h", "--store", "w.db", "--worker", "3/2"], "I must"),
    ],
)
def test_bad_mqtt_options_are_clear_errors(
    argv: list[str],
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    if argv[0] == "collect":
        argv = [*argv, "--simulate", "--participant", "p1", "--store", "c.db"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert problem in err and "Traceback" not in err and "hunter22" not in err
    assert not (tmp_path / "c.db").exists()


def test_a_password_without_a_user_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "hunter22")
    argv = ["pipeline", "--subscribe", "mqtt://h", "--store", str(tmp_path / "w.db")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "password is set but no --mqtt-user" in err and "hunter22" not in err


def test_a_bad_ca_file_names_the_setting_and_the_cli_its_option(tmp_path: Path) -> None:
    """A CA file that is no PEM: the library names the setting ("MQTT CA file"), the command
    line's error text the option (``--mqtt-ca``) (issue 17)."""
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n", encoding="utf-8")
    with pytest.raises(SettingError) as err:
        Broker("h", tls=True, ca_file=ca).tls_context()
    assert err.value.setting == "MQTT CA file" and "--" not in str(err.value)
    assert error_text(err.value).startswith(f"--mqtt-ca: {ca}: cannot load it")
