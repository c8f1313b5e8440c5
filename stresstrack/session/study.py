"""Study files: the study's name and its participants, with their arm and recorded consent.

A study file is TOML::

    [study]
    name = "calm-2026"                # stored in the store's meta and every event
    description = "Serum massage vs placebo cream"   # optional

    [[participant]]
    id = "P001"                       # pseudonym (no names, no e-mail addresses)
    arm = "serum"                     # optional: study arm, used to group the analysis
    consent_date = 2026-01-05         # TOML date (or "2026-01-05")
    consent_version = "v1.2"          # the consent form's version
    collector = "lab-1"               # optional: its collector's broker user (docs/mqtt.md)

    [lsl.markers]                     # optional: LSL marker strings -> session markers
    "selfcare_start" = "start self-care solo serum-massage"   # action kind [mode [label]]
    "selfcare_end" = "stop self-care solo serum-massage"

``stresstrack collect --study study.toml`` refuses a participant who is not listed or has no
consent recorded (date and form version); ``--no-consent-check`` overrides this for pilots,
and simulated participants need none. The file holds pseudonyms only: the key linking them to
people stays with the study's investigator, outside stresstrack.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from stresstrack.errors import ImportFormatError, StressTrackError
from stresstrack.events import validate_participant_id
from stresstrack.session.protocol import Protocol, check_keys, table_lines
from stresstrack.store.sqlite import Store

__all__ = [
    "ARM_META_PREFIX",
    "ORDER_META_PREFIX",
    "ConsentError",
    "Study",
    "StudyChoice",
    "StudyParticipant",
    "check_consent",
    "load_study",
    "parse_study",
    "participant_protocol",
    "resolve_study",
    "stamp_order",
    "stamp_store",
    "store_arms",
    "store_orders",
]

ARM_META_PREFIX: Final = "arm/"  # store meta key of a participant's arm: "arm/<participant>"
# Store meta key of a participant's order of conditions: "order/<participant>" = "self-care,rest".
ORDER_META_PREFIX: Final = "order/"
_STUDY_KEYS: Final = frozenset({"name", "description"})
_PARTICIPANT_KEYS: Final = frozenset({"id", "arm", "collector", "consent_date", "consent_version"})
# Tables read by the companion web app (stresstrack.companion.settings), ignored here.
COMPANION_TABLES: Final = frozenset({"consent", "companion", "prompt"})
# Tables read by stresstrack.endpoints.config (items, prompts, lab lags, endpoints).
ENDPOINT_TABLES: Final = frozenset({"item", "ask", "ema", "lab", "endpoints"})
# Tables read by stresstrack.blinding and stresstrack.attributes, ignored here.
AUDIT_TABLES: Final = frozenset({"blinding", "attributes"})


class ConsentError(StressTrackError):
    """A participant may not be recorded: unknown to the study, or no consent recorded."""


@dataclass(frozen=True, slots=True)
class StudyParticipant:
    id: str
    arm: str = ""
    consent_date: dt.date | None = None
    consent_version: str = ""
    collector: str = ""  # its collector's broker user (`stresstrack mqtt acl`, docs/mqtt.md)

    @property
    def consented(self) -> bool:
        return self.consent_date is not None and bool(self.consent_version)


@dataclass(frozen=True, slots=True)
class Study:
    name: str
    participants: Mapping[str, StudyParticipant]
    description: str = ""
    path: str = ""  # the file it was read from
    lsl_markers: Mapping[str, str] = field(default_factory=dict)  # `collect --lsl-markers`

    def arms(self) -> dict[str, str]:
        """Participant -> arm, for those that have one."""
        return {p.id: p.arm for p in self.participants.values() if p.arm}


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {value!r}")
    return value.strip()


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"consent_date must be a date such as 2026-01-05, got {value!r}")


def _participant(raw: Mapping[str, Any], today: dt.date) -> StudyParticipant:
    check_keys(raw, _PARTICIPANT_KEYS)
    if "id" not in raw:
        raise ValueError("needs an 'id' (the participant's pseudonym)")
    pid = validate_participant_id(_string(raw["id"], "id"))
    date = _date(raw["consent_date"]) if "consent_date" in raw else None
    if date is not None and date > today:
        raise ValueError(f"{pid}: consent_date {date.isoformat()} is in the future")
    version = _string(raw.get("consent_version", ""), "consent_version")
    if (date is None) != (not version):
        raise ValueError(
            f"{pid}: a recorded consent needs both consent_date and consent_version "
            "(leave both out while consent is pending)"
        )
    collector = _string(raw.get("collector", ""), "collector")
    if collector and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", collector):
        raise ValueError(f"{pid}: collector {collector!r}: letters, digits, '-', '_', '.' only")
    return StudyParticipant(
        id=pid,
        arm=_string(raw.get("arm", ""), "arm"),
        consent_date=date,
        consent_version=version,
        collector=collector,
    )


def parse_study(text: str, where: str, *, today: dt.date | None = None) -> Study:
    """A study from TOML text; errors name ``where`` and the participant entry's line."""
    today = today or dt.date.today()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ImportFormatError(where, None, f"not valid TOML ({exc})") from exc
    unknown = sorted(
        set(data)
        - {"study", "participant", "lsl"}
        - COMPANION_TABLES
        - ENDPOINT_TABLES
        - AUDIT_TABLES
    )
    if unknown:
        raise ImportFormatError(
            where,
            None,
            f"unknown table(s) {', '.join(unknown)} "
            "(known: study, participant, lsl, consent, companion, prompt, item, ask, ema, lab, "
            "endpoints, blinding, attributes)",
        )
    lsl_markers = _lsl_markers(data.get("lsl", {}), where)
    head = data.get("study")
    if not isinstance(head, dict) or "name" not in head:
        raise ImportFormatError(where, None, 'needs a [study] table with a name = "..."')
    extra = sorted(set(head) - _STUDY_KEYS)
    if extra:
        raise ImportFormatError(where, None, f"[study]: unknown key(s) {', '.join(extra)}")
    try:
        name = _string(head["name"], "[study] name")
        description = _string(head.get("description", ""), "[study] description")
    except ValueError as exc:
        raise ImportFormatError(where, None, str(exc)) from None
    if not name:
        raise ImportFormatError(where, None, "[study] name is empty")
    raw_list = data.get("participant", [])
    if not isinstance(raw_list, list):
        raise ImportFormatError(where, None, "participants are [[participant]] tables")
    lines = table_lines(text, "participant")
    participants: dict[str, StudyParticipant] = {}
    for i, raw in enumerate(raw_list):
        line = lines[i] if i < len(lines) else None
        try:
            p = _participant(raw, today)
        except ValueError as exc:
            raise ImportFormatError(where, line, f"participant {i + 1}: {exc}") from None
        if p.id in participants:
            raise ImportFormatError(where, line, f"participant {p.id} is listed twice")
        participants[p.id] = p
    return Study(
        name=name,
        participants=participants,
        description=description,
        path=where,
        lsl_markers=lsl_markers,
    )


def _lsl_markers(raw: object, where: str) -> dict[str, str]:
    """The ``[lsl.markers]`` table: marker string -> rule text (checked by the LSL inlet)."""
    if not isinstance(raw, dict) or set(raw) - {"markers"}:
        raise ImportFormatError(where, None, "[lsl] holds only a [lsl.markers] table")
    markers = raw.get("markers", {})
    if not isinstance(markers, dict) or not all(isinstance(v, str) for v in markers.values()):
        raise ImportFormatError(where, None, '[lsl.markers]: entries are "STRING" = "RULE"')
    return dict(markers)


def read_study_text(path: str | Path) -> str:
    """A study file's text; a clear error when it cannot be read."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ImportFormatError(str(path), None, "no such study file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFormatError(str(path), None, f"cannot read ({exc})") from exc


def load_study(path: str | Path) -> Study:
    """Read a study file (see the module's documentation)."""
    return parse_study(read_study_text(path), str(path))


def check_consent(study: Study, participant: str) -> StudyParticipant:
    """The participant's entry if they may be recorded; else :class:`ConsentError`."""
    where = f"{study.path or 'the study file'} (study {study.name})"
    entry = study.participants.get(participant)
    if entry is None:
        raise ConsentError(
            f"participant {participant} is not listed in {where}: add them with their "
            "consent_date and consent_version, or turn the consent check off for a pilot",
            setting="consent check",
        )
    if not entry.consented:
        raise ConsentError(
            f"participant {participant} has no consent recorded in {where}: add their "
            "consent_date and consent_version once they have signed, or turn the consent "
            "check off for a pilot",
            setting="consent check",
        )
    return entry


@dataclass(frozen=True, slots=True)
class StudyChoice:
    """What ``collect --study`` named: a study name, or a study file and the participant's
    entry in it."""

    name: str
    study: Study | None = None
    participant: StudyParticipant | None = None


def resolve_study(value: str, participant: str, *, check: bool) -> StudyChoice:
    """``collect --study``: a study file (a ``.toml`` path) or a bare study name.

    With ``check``, the participant must be listed with a consent, which needs a study file;
    otherwise :class:`ConsentError`.
    """
    looks_like_file = value.endswith(".toml") or Path(value).is_file()
    if not looks_like_file:
        if check:
            raise ConsentError(
                f"the consent of {participant} cannot be checked without a study file (got "
                f"the study name {value!r}): give a study file (.toml) listing the participants "
                "and their consent (docs/sessions.md), or turn the consent check off for a pilot",
                setting="consent check",
            )
        return StudyChoice(value)
    study = load_study(value)
    entry = check_consent(study, participant) if check else study.participants.get(participant)
    return StudyChoice(study.name, study, entry)


def stamp_store(store: Store, choice: StudyChoice) -> None:
    """Record a study file's name (and the participant's arm) in the store's meta; refuse a
    store that belongs to another study. A bare study name leaves the store as it is."""
    if choice.study is None:
        return
    current = store.meta("study")
    if current is not None and current != choice.name:
        raise StressTrackError(
            f"{store.path} holds study {current!r}, not {choice.name!r}: use one store per study"
        )
    if current is None:
        store.set_meta("study", choice.name)
    entry = choice.participant
    if entry is not None and entry.arm:
        store.set_meta(ARM_META_PREFIX + entry.id, entry.arm)


def store_arms(store: Store, participants: list[str] | None = None) -> dict[str, str]:
    """Participant -> arm recorded in the store's meta by :func:`stamp_store`."""
    out = {}
    for p in participants if participants is not None else store.participants():
        arm = store.meta(ARM_META_PREFIX + p)
        if arm:
            out[p] = arm
    return out


def stamp_order(store: Store, participant: str, order: tuple[str, ...]) -> None:
    """Record the order of conditions a participant follows (a counterbalanced protocol)."""
    if order:
        store.set_meta(ORDER_META_PREFIX + participant, ",".join(order))


def store_orders(store: Store, participants: list[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Participant -> order of conditions recorded by :func:`stamp_order`."""
    out = {}
    for p in participants if participants is not None else store.participants():
        order = store.meta(ORDER_META_PREFIX + p)
        if order:
            out[p] = tuple(order.split(","))
    return out


def participant_protocol(
    protocol: Protocol, study: Study | None, participant: str
) -> tuple[Protocol, tuple[str, ...]]:
    """The protocol ``participant`` follows and their order of conditions: a counterbalanced
    protocol's order for the participant's position in the study file (0 = first listed);
    the protocol as written when the participant is not in a study file.

    ``collect --protocol P --study FILE`` uses this so live participants follow their order;
    :func:`stamp_order` records it.
    """
    if study is None or participant not in study.participants:
        return protocol, protocol.order_for(0) if protocol.blocks() else ()
    index = list(study.participants).index(participant)
    return protocol.for_participant(index), protocol.order_for(index)
