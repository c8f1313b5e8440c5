"""Writing line protocol to one InfluxDB 2.x bucket, synchronously: the target (URL, org,
bucket, token kept out of ``repr``), the writer over influxdb-client's synchronous write API,
and what a failed write means (``unreachable``, ``refused``, ``rejected``; ``Retry-After``).
The sink that replicates a store through it is :mod:`stresstrack.sinks.influx`.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Literal, Protocol, cast
from urllib.parse import urlsplit

from stresstrack.errors import SettingError, StressTrackError

if TYPE_CHECKING:
    from influxdb_client.client.influxdb_client import InfluxDBClient

__all__ = [
    "MESSAGE_MAX",
    "RETRY_AFTER_MAX_S",
    "TOKEN_ENV",
    "ErrorKind",
    "InfluxTarget",
    "InfluxWriteError",
    "InfluxWriter",
    "Writer",
    "classify_status",
    "parse_retry_after",
]


TOKEN_ENV: Final = "STRESSTRACK_INFLUX_TOKEN"


# A Retry-After longer than this is read as this: a wrong header must not stall the sink.
RETRY_AFTER_MAX_S: Final = 600.0


# Bodies of error responses are cut to this length in messages and dead letters.
MESSAGE_MAX: Final = 500


ErrorKind = Literal["unreachable", "refused", "rejected"]


def _without_credentials(url: str) -> str:
    """``url`` with anything before an ``@`` in its authority replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{path}" if sep else url.rpartition("@")[2]


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    """Where to write: InfluxDB 2.x/Cloud/3.x (org, bucket, token) or 1.8+ (see docs)."""

    url: str
    bucket: str
    org: str = "-"
    token: str = field(default="", repr=False)
    timeout_s: float = 10.0
    # Also replicate raw signal samples (EDA, ECG, PPG, ACC): off by default (docs/schema.md).
    raw: bool = False

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise SettingError(
                "InfluxDB URL",
                f"must start with http:// or https:// (got {_without_credentials(self.url)!r})",
            )
        parts = urlsplit(self.url)
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            # Never echoed, never saved: the URL names the sink's cursors in the store.
            raise SettingError(
                "InfluxDB URL",
                "no credentials in the URL (it shows in process lists and would be saved in "
                f"the store); give the token apart (${TOKEN_ENV} or a token file)",
            )
        if not self.bucket:
            raise SettingError("InfluxDB bucket", "required with an InfluxDB URL")

    @property
    def name(self) -> str:
        """The key of this target's cursors in the store (no secret in it)."""
        return f"influx {self.url.rstrip('/')} org={self.org} bucket={self.bucket}"

    def describe(self) -> str:
        return f"{self.url.rstrip('/')} bucket {self.bucket!r}"

    def hide(self, text: str) -> str:
        """``text`` with the token (and a 1.x password) replaced by ``***``."""
        for secret in {self.token, self.token.partition(":")[2]}:
            if len(secret) >= 3:
                text = text.replace(secret, "***")
        return text


class InfluxWriteError(StressTrackError):
    """A write that did not succeed: ``kind`` says whether to retry, split or give up."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.kind: ErrorKind = kind
        self.status = status
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{status}: {message}" if status is not None else message)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay in seconds or HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)


def _body_message(body: object) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    text = str(body or "").strip()
    with contextlib.suppress(ValueError, AttributeError):
        data = json.loads(text)
        if isinstance(data, dict):
            text = str(data.get("message") or data.get("error") or text)
    return text[:MESSAGE_MAX]


def classify_status(status: int) -> ErrorKind:
    """What a non-2xx status means for the batch (docs/schema.md, "Delivery")."""
    if status in (400, 413, 422):
        return "rejected"  # bad data or too large: split, then dead-letter single lines
    if status == 429 or status >= 500:
        return "unreachable"  # overloaded or down: retry with backoff
    return "refused"  # 401/403/404 and other client errors: configuration; retry, report


class Writer(Protocol):
    def write(self, lines: Sequence[str]) -> None: ...

    def close(self) -> None: ...


class InfluxWriter:
    """influxdb-client's synchronous write API, with errors turned into InfluxWriteError."""

    def __init__(self, target: InfluxTarget) -> None:
        from influxdb_client.client.influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.target = target
        self._client: InfluxDBClient = InfluxDBClient(
            url=target.url,
            token=target.token,  # empty: no Authorization header (1.x without auth)
            org=target.org,
            timeout=int(target.timeout_s * 1000),
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, lines: Sequence[str]) -> None:
        from influxdb_client.client.exceptions import InfluxDBError
        from influxdb_client.domain.write_precision import WritePrecision
        from urllib3.exceptions import HTTPError

        try:
            self._api.write(
                bucket=self.target.bucket,
                org=self.target.org,
                record="\n".join(lines),
                # The library types its precision constants as plain str.
                write_precision=cast(WritePrecision, WritePrecision.NS),
            )
        except InfluxDBError as exc:
            status = getattr(exc, "status", None)
            if status is None and exc.response is not None:
                status = getattr(exc.response, "status", None)
            body = getattr(exc, "body", None)
            if body is None and exc.response is not None:
                body = getattr(exc.response, "data", None)
            message = self.target.hide(_body_message(body) or str(getattr(exc, "reason", "")))
            if status is None:
                raise InfluxWriteError("unreachable", message) from None
            raise InfluxWriteError(
                classify_status(int(status)),
                message or f"HTTP {status}",
                status=int(status),
                retry_after=parse_retry_after(exc.retry_after),
            ) from None
        except (HTTPError, OSError) as exc:
            raise InfluxWriteError(
                "unreachable", self.target.hide(_describe_oserror(exc))
            ) from None

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


def _describe_oserror(exc: BaseException) -> str:
    """The root cause of a connection error in a few words (``connection refused``)."""
    seen: BaseException = exc
    while True:
        nxt = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        if not isinstance(nxt, BaseException) or nxt is seen:
            break
        seen = nxt
    if isinstance(seen, ConnectionRefusedError):
        return "connection refused"
    if isinstance(seen, TimeoutError) or "timed out" in str(seen).lower():
        return "timed out"
    text = str(seen)
    # urllib3 prefixes its messages with the object's repr: keep the human part.
    text = text.split(": ", 1)[-1] if text.startswith("<") else text
    return f"{type(seen).__name__}: {text}"[:MESSAGE_MAX]
