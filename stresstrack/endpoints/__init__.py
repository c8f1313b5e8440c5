"""Endpoints beyond the signal: self-report items and when they are asked, lab values and
cortisol reactivity (docs/endpoints.md)."""

from stresstrack.endpoints.config import AskRule, EmaRule, EndpointConfig, load_endpoints
from stresstrack.endpoints.cortisol import Reactivity, auc, session_reactivity
from stresstrack.endpoints.items import BUILTIN_ITEMS, Item
from stresstrack.endpoints.schedule import Prompt, due_prompts, ema_schedule, session_prompts

__all__ = [
    "BUILTIN_ITEMS",
    "AskRule",
    "EmaRule",
    "EndpointConfig",
    "Item",
    "Prompt",
    "Reactivity",
    "auc",
    "due_prompts",
    "ema_schedule",
    "load_endpoints",
    "session_prompts",
    "session_reactivity",
]
