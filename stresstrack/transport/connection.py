"""One MQTT 5 connection kept up by paho-mqtt's network thread, with the reasons it is down.

paho's ``loop_start`` thread reconnects with exponential backoff but drops the reason of a
failed attempt, which is what a researcher needs to see ("connection refused", "certificate
verify failed", "Bad user name or password"): :class:`_Client` records it. Callbacks run in
paho's thread; ``publish`` and ``ack`` may be called from any thread.

Acknowledgements of received messages (``manual_ack``) are tied to the connection that
delivered the message: :meth:`Connection.ack` ignores a message of an earlier connection,
because after a reconnect the broker redelivers it and a stale packet identifier could
acknowledge a different message.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from stresstrack.backoff import Backoff
from stresstrack.transport.mqtt import Broker

__all__ = [
    "DEFAULT_BACKOFF",
    "NEVER_EXPIRES",
    "Connection",
    "Received",
    "drain_states",
    "link_text",
]

log = logging.getLogger(__name__)

# MQTT 5, 3.1.2.11.2: a Session Expiry Interval of 0xFFFFFFFF means the session never expires.
NEVER_EXPIRES: Final = 0xFFFF_FFFF
KEEPALIVE_S: Final = 20  # a silently dead link is noticed after 1.5 x this
QOS: Final = 1
# paho's loop_stop() joins its network thread without a timeout; a thread stuck in a
# (re)connection (a TLS handshake or name lookup that never answers) would hold the process.
STOP_S: Final = 10.0


def drain_states(
    states: queue.SimpleQueue[tuple[bool, str]], connected: bool, error: str
) -> tuple[bool, str, bool]:
    """Take the link states a connection's thread queued (``on_state``): the last
    ``(connected, error)`` and whether the link changed since ``connected``/``error``."""
    changed = False
    while not states.empty():
        up, why = states.get()
        if up != connected or (not up and why != error):
            changed = True
        connected, error = up, why
    return connected, error, changed


def link_text(connected: bool, error: str) -> str:
    """``connected``, or ``down (why)`` for a status line."""
    return "connected" if connected else f"down ({error or 'connecting'})"


# paho doubles its reconnect delay itself, in whole seconds, between these two bounds.
DEFAULT_BACKOFF: Final = Backoff(first_s=1, max_s=5)


@dataclass(frozen=True, slots=True)
class Received:
    """A message as delivered: ``generation`` is the connection that delivered it."""

    topic: str
    payload: bytes
    mid: int
    generation: int


def describe_error(exc: BaseException) -> str:
    """A connection error in a few words."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: {exc.verify_message or 'certificate verify failed'}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host ({exc.strerror})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return f"{type(exc).__name__}: {exc}"


class _Client(mqtt.Client):
    """paho's client, telling :class:`Connection` about each (re)connection attempt."""

    def __init__(self, owner: Connection, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owner = owner

    def reconnect(self) -> MQTTErrorCode:
        self._owner._attempt()
        try:
            return super().reconnect()
        except OSError as exc:
            self._owner._failed(describe_error(exc))
            raise


class Connection:
    """An MQTT 5 client connection to ``broker`` as ``client_id``; see the module docstring.

    ``session_expiry_s`` > 0 with ``clean_start=False`` gives a persistent session: the
    broker keeps the subscriptions and queues QoS 1 messages while the client is away.
    ``on_state(connected, why)`` is called on every change and failed attempt.
    """

    def __init__(
        self,
        broker: Broker,
        client_id: str,
        *,
        clean_start: bool = True,
        session_expiry_s: int = 0,
        manual_ack: bool = False,
        subscriptions: Sequence[str] = (),
        backoff: Backoff = DEFAULT_BACKOFF,
        on_state: Callable[[bool, str], None] | None = None,
        on_message: Callable[[Received], None] | None = None,
        on_publish: Callable[[int, int, str], None] | None = None,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self.subscriptions = list(subscriptions)
        self._on_state = on_state
        self._on_message = on_message
        self._on_publish = on_publish
        self._lock = threading.Lock()
        self._started = False
        self._stopping = False
        self._attempt_failed = False
        # Guarded by _lock (read without it where a stale value is harmless):
        self._connected = False
        self._generation = 0
        self._error = ""
        self.connects = 0

        client = _Client(
            self,
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=manual_ack,
        )
        if broker.tls:
            client.tls_set_context(broker.tls_context())
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password or None)
        client.reconnect_delay_set(max(1, round(backoff.first_s)), max(1, round(backoff.max_s)))
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = session_expiry_s
        client.connect_async(
            broker.host,
            broker.port,
            keepalive=KEEPALIVE_S,
            clean_start=clean_start,
            properties=props,
        )
        client.on_connect = self._connected_cb
        client.on_disconnect = self._disconnected_cb
        client.on_message = self._message_cb
        client.on_publish = self._published_cb
        self._client = client

    # -- state (any thread) ------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def error(self) -> str:
        """Why the last attempt failed or the connection dropped ("" when it is up)."""
        with self._lock:
            return self._error

    # -- control -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            raise RuntimeError("the connection is already started")
        self._started = True
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect (a persistent session stays on the broker) and end paho's thread,
        waiting :data:`STOP_S` at most (it is a daemon thread: one left behind does not keep
        the process alive)."""
        if not self._started:
            return
        with self._lock:
            self._generation += 1
            self._stopping = True
        self._client.disconnect()
        stopper = threading.Thread(target=self._client.loop_stop, name="mqtt-stop", daemon=True)
        stopper.start()
        stopper.join(STOP_S)
        if stopper.is_alive():
            log.warning(
                "MQTT %s: the network thread did not end within %g s", self.client_id, STOP_S
            )
        with self._lock:
            self._connected = False

    def publish(self, topic: str, payload: bytes) -> int:
        """Queue a QoS 1 message; returns its packet identifier. paho sends it now if
        connected, else once the connection is back."""
        info = self._client.publish(topic, payload, qos=QOS)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise OSError(f"MQTT publish failed: {mqtt.error_string(info.rc)}")
        return int(info.mid)

    def ack(self, mid: int, generation: int) -> bool:
        """Acknowledge a received message if its connection is still the current one."""
        with self._lock:
            if generation != self._generation or not self._connected:
                return False
            self._client.ack(mid, QOS)
            return True

    # -- called from paho's thread -----------------------------------------------------------
    def _attempt(self) -> None:
        with self._lock:
            self._generation += 1  # nothing delivered earlier is acknowledged from now on
            self._connected = False
            self._attempt_failed = False

    def _failed(self, error: str) -> None:
        error = self.broker.hide(error)
        with self._lock:
            self._error = error
            self._attempt_failed = True
        self._report(False, error)

    def _report(self, connected: bool, error: str) -> None:
        if self._on_state is not None:
            self._on_state(connected, error)

    def _connected_cb(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            self._failed(f"broker refused the connection: {reason}")
            return
        if self.subscriptions:
            options = SubscribeOptions(qos=QOS)
            client.subscribe([(f, options) for f in self.subscriptions])
        with self._lock:
            self._connected = True
            self._generation += 1
            self._error = ""
            self.connects += 1
        self._report(True, "")

    def _disconnected_cb(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._lock:
            was = self._connected
            self._connected = False
            self._generation += 1
            if self._stopping:
                self._error = "stopped"
            elif was:
                self._error = "connection lost" if reason.value in (0, 0x80) else str(reason)
            unexplained = not was and not self._stopping and not self._attempt_failed
            error = self._error
        if was:
            self._report(False, error)
        elif unexplained:  # closed before CONNACK: e.g. plain MQTT to a TLS port
            self._failed(
                "the broker closed the connection before accepting it "
                "(wrong port, or does it expect TLS: mqtts://?)"
            )

    def _message_cb(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if self._on_message is not None:
            # No lock here: paho holds its own locks while calling back (see ack()).
            generation = self._generation
            received = Received(message.topic, bytes(message.payload), message.mid, generation)
            self._on_message(received)

    def _published_cb(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._on_publish is not None:
            self._on_publish(mid, int(reason.value), str(reason))
