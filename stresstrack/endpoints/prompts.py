"""The prompt open for a participant now, from the study's rules and what the store holds
(the I/O edge of :mod:`stresstrack.endpoints.schedule`; used by ``stresstrack ask`` and the
companion)."""

from __future__ import annotations

import datetime as dt

from stresstrack.endpoints.config import EndpointConfig
from stresstrack.endpoints.schedule import Prompt, due_prompts, ema_schedule, session_prompts
from stresstrack.events import SelfReport
from stresstrack.store.sqlite import Store

__all__ = ["open_prompt"]


def open_prompt(
    store: Store, study: str, cfg: EndpointConfig, participant: str, now_ns: int
) -> Prompt | None:
    """The earliest prompt open for ``participant`` at ``now_ns`` without an answer: one of
    the ``[ask]`` prompts of their recorded sessions or an ``[ema]`` prompt (days around
    now, so a prompt due before midnight UTC is still found after it)."""
    prompts: list[Prompt] = []
    if cfg.ask is not None:
        prompts += session_prompts(store.sessions(participant), cfg.ask)
    if cfg.ema is not None:
        today = dt.datetime.fromtimestamp(now_ns / 1e9, dt.UTC).date()
        for day in (today - dt.timedelta(days=1), today, today + dt.timedelta(days=1)):
            prompts += ema_schedule(cfg.ema, study, participant, day)
    answered = {
        e.prompt_id
        for e in store.iter_events(participant, types=("selfreport",))
        if isinstance(e, SelfReport)
    }
    due = sorted(due_prompts(now_ns, prompts, answered), key=lambda p: p.due_ns)
    return due[0] if due else None
