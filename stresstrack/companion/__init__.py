"""The participant's companion: a web app (``stresstrack serve``) that pairs the band from the
phone, runs sessions and prompts self-care when stress stays high (docs/companion.md)."""

from stresstrack.companion.prompts import Decision, PromptPolicy
from stresstrack.companion.runtime import Companion, CompanionError, Packet
from stresstrack.companion.settings import (
    CompanionSettings,
    PromptRule,
    SessionButton,
    load_companion,
    parse_companion,
)

__all__ = [
    "Companion",
    "CompanionError",
    "CompanionSettings",
    "Decision",
    "Packet",
    "PromptPolicy",
    "PromptRule",
    "SessionButton",
    "load_companion",
    "parse_companion",
]
