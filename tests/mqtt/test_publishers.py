"""Issue 16, item 4: anyone on the broker could publish data for any participant.

Before: 400 fake beats under ``p-legit`` with an invented source id were stored and processed.
Now (docs/mqtt.md, "Authenticated publishers"): a worker holding ``p-legit``'s message key
(``stresstrack mqtt keys``) quarantines unsigned and wrongly signed messages for them, and the
Mosquitto accounts of ``stresstrack mqtt acl`` stop a collector from publishing another
participant's topic at the broker. Both checked on a real Mosquitto (2.0), which is the
independent reference for the password hashes and ACL file the command writes.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from mqtt_link import FAST, ProcessWorker, wait_until, worker_events
from servers import MosquittoServer, require_binary
from test_worker import Sender

from stresstrack.cli import main
from stresstrack.events import Beat
from stresstrack.store.sqlite import EventRow, Store
from stresstrack.transport.auth import KeyFileError, read_keys, sign_payload, write_keys
from stresstrack.transport.mqtt import Broker, batch_to_payload, events_topic
from stresstrack.transport.publisher import Publisher
from stresstrack.transport.worker import Worker

pytestmark = pytest.mark.mqtt

T0 = 1_767_603_600_000_000_000
DAY = 86_400 * 10**9
STUDY = """\
[study]
name = "auth"

[[participant]]
id = "p-legit"
collector = "lab-a"

[[participant]]
id = "p-other"
collector = "lab-b"
"""


def beats(participant: str, n: int, t0: int, device: str) -> list[Beat]:
    """``n`` beats 800 ms apart from ``t0``."""
    return [
        Beat(time_ns=t0 + k * 800_000_000, participant=participant, study="auth", device=device,
             rr_ms=800.0)
        for k in range(1, n + 1)
    ]  # fmt: skip


def rows(folder: Path, name: str, events: list[Beat]) -> list[EventRow]:
    """The events as a collector's store ``name`` holds them (ids 1, 2, ...)."""
    with Store(folder / f"{name}.db") as store:
        store.add_events(events)
        return store.event_rows_after(0, len(events))


class WorkerThread:
    def __init__(self, path: Path, broker: Broker, keys: dict[str, str] | None = None) -> None:
        self.path = path
        self.worker = Worker(path, broker, backoff=FAST, status_every_s=3600.0, keys=keys)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.worker.run, args=(self.stop,))

    def __enter__(self) -> Worker:
        self.thread.start()
        assert self.worker.ready.wait(120), "worker did not connect"
        return self.worker

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive()


class ReasonSender(Sender):
    """A :class:`Sender` noting the broker's PUBACK reason codes."""

    def __init__(self, broker: Broker) -> None:
        self.reasons: dict[int, int] = {}
        super().__init__(broker)

    def _acked(self, mid: int, reason: int, text: str) -> None:
        self.reasons[mid] = reason
        super()._acked(mid, reason, text)


@pytest.fixture
def study_file(tmp_path: Path) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(STUDY, encoding="utf-8")
    return path


def stored(path: Path, participant: str) -> list[Beat]:
    with Store(path, readonly=True) as store:
        return [
            e for e in store.iter_events() if isinstance(e, Beat) and e.participant == participant
        ]


def test_stranger_is_quarantined_legitimate_collector_stored(
    tmp_path: Path,
    broker: MosquittoServer,
    study_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    keys_file = tmp_path / "keys.toml"
    assert main(["mqtt", "keys", "--study", str(study_file), "--out", str(keys_file)]) == 0
    keys = read_keys(keys_file)
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert sorted(keys) == ["p-legit", "p-other"]
    out = capsys.readouterr()
    assert not any(k in out.out + out.err for k in keys.values()), "a key was printed"
    # Running it again keeps the keys (collectors already hold them).
    assert main(["mqtt", "keys", "--study", str(study_file), "--out", str(keys_file)]) == 0
    assert read_keys(keys_file) == keys

    plain = Broker(broker.host, broker.port)
    worker_db = tmp_path / "worker.db"
    legit = beats("p-legit", 200, T0, "LEGIT")
    fake = beats("p-legit", 400, T0 + DAY, "FAKE")  # a day later: results tell them apart
    collector_db = tmp_path / "collector.db"
    with Store(collector_db) as store:
        store.add_events(legit)
    with WorkerThread(worker_db, plain, keys) as worker:
        # The stranger: 400 beats under p-legit from an invented source, unsigned ...
        stranger = Sender(plain)
        try:
            fake_rows = rows(tmp_path, "stranger", fake)
            stranger.send(*batch_to_payload("invented-source", 0, 0, fake_rows))
            # ... and signed with a key of its own.
            topic, payload = batch_to_payload("invented-source-2", 0, 0, fake_rows)
            stranger.send(topic, sign_payload("ab" * 32, payload))
        finally:
            stranger.conn.stop()
        publisher = Publisher(collector_db, plain, backoff=FAST, keys={"p-legit": keys["p-legit"]})
        publisher.start()
        try:
            wait_until(lambda: len(stored(worker_db, "p-legit")) >= len(legit), 120, "the beats")
        finally:
            publisher.close(0)
        assert worker.stats().rejected == 2
    beats_in = stored(worker_db, "p-legit")
    assert [b.device for b in beats_in] == ["LEGIT"] * len(legit)
    assert [b.time_ns for b in beats_in] == [b.time_ns for b in legit]
    with Store(worker_db, readonly=True) as store:
        quarantined = store.quarantined()
        features = store.features("p-legit")
        stress = store.stress("p-legit")
    assert [q.participant for q in quarantined] == ["p-legit", "p-legit"]
    assert "unsigned" in quarantined[0].reason
    assert "wrong signature" in quarantined[1].reason
    assert all(json.loads(q.content)["source"].startswith("invented-source") for q in quarantined)
    assert features, "the legitimate collector's data was processed"
    assert all(r.time_ns < T0 + DAY for r in [*features, *stress]), "results from fake beats"


def test_generated_acl_stops_a_collector_publishing_another_participant(
    tmp_path: Path, study_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = tmp_path / "accounts"
    assert main(["mqtt", "acl", "--study", str(study_file), "--out", str(accounts)]) == 0
    files = sorted(p.name for p in accounts.iterdir())
    assert files == [
        "acl", "lab-a.password", "lab-b.password", "passwd", "stresstrack-worker.password"
    ]  # fmt: skip
    assert all(stat.S_IMODE((accounts / f).stat().st_mode) == 0o600 for f in files)
    passwords = {
        f.removesuffix(".password"): (accounts / f).read_text().strip()
        for f in files
        if f.endswith(".password")
    }
    out = capsys.readouterr()
    assert not any(p in out.out + out.err for p in passwords.values()), "a password was printed"
    # No --force: the accounts stay (returns the error status, says why).
    assert main(["mqtt", "acl", "--study", str(study_file), "--out", str(accounts)]) != 0
    assert "--force" in capsys.readouterr().err

    server = MosquittoServer(
        tmp_path / "mosquitto",
        require_binary("mosquitto", "/usr/sbin/mosquitto"),
        "allow_anonymous false\n"
        f"password_file {accounts / 'passwd'}\n"
        f"acl_file {accounts / 'acl'}\n"
        "max_queued_messages 0\n",
    )
    server.start()
    try:
        run_acl_case(tmp_path, server, passwords)
    finally:
        server.stop()


def account(server: MosquittoServer, user: str, passwords: dict[str, str]) -> Broker:
    return Broker(server.host, server.port, username=user, password=passwords[user])


def run_acl_case(tmp_path: Path, server: MosquittoServer, passwords: dict[str, str]) -> None:
    worker_db = tmp_path / "worker.db"
    own = beats("p-legit", 50, T0, "LAB-A")
    other = beats("p-other", 50, T0, "LAB-A")
    with WorkerThread(worker_db, account(server, "stresstrack-worker", passwords)) as worker:
        lab_a = ReasonSender(account(server, "lab-a", passwords))
        try:
            # Another participant's topic first: once lab-a's own message is stored, the
            # broker had this one before it.
            lab_a.send(*batch_to_payload("lab-a", 0, 0, rows(tmp_path, "other", other)))
            lab_a.send(*batch_to_payload("lab-a", 0, 0, rows(tmp_path, "own", own)))
        finally:
            lab_a.conn.stop()
        wait_until(lambda: worker.stats().events >= len(own), 120, "lab-a's own beats")
        assert worker.stats().messages == 1, "the broker passed on the other participant's data"
    assert len(stored(worker_db, "p-legit")) == len(own)
    assert stored(worker_db, "p-other") == []
    # MQTT 5: the broker answers the refused publication "not authorized" (0x87).
    assert sorted(lab_a.reasons.values()) == [0, 0x87]
    assert events_topic("auth", "p-other") in (tmp_path / "accounts" / "acl").read_text()


@pytest.mark.slow
def test_commands_sign_and_check(tmp_path: Path, broker: MosquittoServer, study_file: Path) -> None:
    """``collect --publish --mqtt-keys`` into ``pipeline --mqtt-keys``: the collector's data is
    stored, a stranger's unsigned message for the same participant is quarantined."""
    keys_file = tmp_path / "keys.toml"
    assert main(["mqtt", "keys", "--study", str(study_file), "--out", str(keys_file)]) == 0
    url = f"mqtt://{broker.host}:{broker.port}"
    worker = ProcessWorker(tmp_path, url, 1, 1, "--mqtt-keys", str(keys_file)).start()
    collector = tmp_path / "collector.db"
    try:
        worker.wait_connected()
        stranger = Sender(Broker(broker.host, broker.port))
        try:
            fake = rows(tmp_path, "stranger", beats("p-legit", 400, T0, "FAKE"))
            stranger.send(*batch_to_payload("invented-source", 0, 0, fake))
        finally:
            stranger.conn.stop()
        command = [sys.executable, "-m", "stresstrack", "collect", "--simulate"]
        command += ["--participant", "p-legit", "--study", str(study_file)]
        command += ["--no-consent-check", "--store", str(collector), "--duration", "8"]
        command += ["--publish", url, "--mqtt-keys", str(keys_file)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        collect = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
        assert collect.returncode == 0, collect.stderr
        with Store(collector, readonly=True) as store:
            sent = list(store.iter_events())

        def delivered() -> bool:
            return len(worker_events([worker.store])[0].get("p-legit", [])) >= len(sent)

        wait_until(delivered, 120, "delivery")
        assert worker.terminate() == 0
    finally:
        worker.cleanup()
    assert "everything in the store is delivered" in collect.stdout
    assert worker_events([worker.store])[0] == {"p-legit": sent}  # exactly once, in order
    assert not [b for b in stored(worker.store, "p-legit") if b.device == "FAKE"]
    with Store(worker.store, readonly=True) as store:
        (q,) = store.quarantined()
    assert q.participant == "p-legit" and "unsigned" in q.reason
    assert "quarantine" in worker.output()


def test_key_file_problems_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys.toml"
    write_keys(path, {"p1": "cd" * 32})
    assert read_keys(path) == {"p1": "cd" * 32}
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="readable by others") as library:
        read_keys(path)
    # The library names the setting, the command line the option that sets it (issue 17).
    assert library.value.setting == "message key file" and "--" not in str(library.value)
    argv = ["pipeline", "--subscribe", "mqtt://h", "--store", str(tmp_path / "w.db")]
    assert main([*argv, "--mqtt-keys", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"--mqtt-keys: {path}: readable by others" in err
    assert "chmod 600" in err and "cd" * 32 not in err and "Traceback" not in err
    assert not (tmp_path / "w.db").exists()
    path.chmod(0o600)
    for text, problem in [
        ('[keys]\n"p1" = "xyz"\n', "is not 64 hex digits"),
        ("p1 = 1\n", "no [keys] table"),
        ("[keys\n", "not TOML"),
    ]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(KeyFileError, match=re.escape(problem)):
            read_keys(path)
    with pytest.raises(KeyFileError, match="cannot read"):
        read_keys(tmp_path / "missing.toml")


def test_tampered_payload_fails_the_signature() -> None:
    """Any changed byte after signing (here the rr interval) is refused; the reference is
    Python's hmac module over the payload as signed."""
    import hashlib
    import hmac

    from stresstrack.transport.auth import SignatureError, check_signature

    key = "11" * 32
    payload = b'{"v":1,"events":[[1,"beat",5,"AA",{"rr_ms":800.0}]]}'
    signed = sign_payload(key, payload)
    expected = hmac.new(bytes.fromhex(key), payload, hashlib.sha256).hexdigest()
    assert json.loads(signed)["sig"] == expected
    assert check_signature(key, signed) == payload
    with pytest.raises(SignatureError, match="wrong signature"):
        check_signature(key, signed.replace(b"800.0", b"400.0"))
    with pytest.raises(SignatureError, match="wrong signature"):
        check_signature("22" * 32, signed)


def test_accounts_follow_the_study_file() -> None:
    """Default collector per participant; a shared collector gets both topics; bad names and
    the worker's reserved name are errors."""
    from stresstrack.errors import StressTrackError
    from stresstrack.session.study import parse_study
    from stresstrack.transport.auth import broker_accounts, render_acl

    text = '[study]\nname = "s"\n[[participant]]\nid = "p1"\ncollector = "lab"\n'
    text += '[[participant]]\nid = "p2"\ncollector = "lab"\n[[participant]]\nid = "p3"\n'
    accounts = broker_accounts(parse_study(text, "s.toml"))
    assert [(a.user, a.write) for a in accounts[1:]] == [
        ("collector-p3", (events_topic("s", "p3"),)),
        ("lab", (events_topic("s", "p1"), events_topic("s", "p2"))),
    ]
    acl = render_acl(accounts)
    assert "user stresstrack-worker\ntopic read stresstrack/v1/+/+/events/+\n" in acl
    with pytest.raises(ValueError, match="collector 'lab 1'"):
        parse_study(text.replace('"lab"', '"lab 1"', 1), "s.toml")
    with pytest.raises(StressTrackError, match="reserved"):
        broker_accounts(parse_study(text.replace('"lab"', '"stresstrack-worker"'), "s.toml"))
