"""Days, nights and rhythms of multi-day recordings (docs/days.md).

:func:`profile` gives one participant's :class:`DaysResult` from a store or from rows:
sleep (Cole–Kripke 1992 gated by low heart rate, or ``sleep`` sessions) and nightly resting
HR and RMSSD, the 24-h cosinor of HR and of the stress index per day and over the
recording, interdaily stability and intradaily variability, daily stress load and episodes
with exercise kept apart, and the effect of self-care sessions against the same hours of
other days.
"""

from stresstrack.days.cosinor import Cosinor, Stability, cosinor, stability
from stresstrack.days.load import STATES, Episode, LoadSettings
from stresstrack.days.minutes import Minutes, minutes_from_rows
from stresstrack.days.profile import (
    DayRow,
    DaysResult,
    DaysSettings,
    ParticipantRows,
    StudyDays,
    profile,
    profile_store,
)
from stresstrack.days.selfcare import MeanCI, SessionEffect
from stresstrack.days.sleep import Night, SleepSettings, cole_kripke, webster_rescore

__all__ = [
    "STATES",
    "Cosinor",
    "DayRow",
    "DaysResult",
    "DaysSettings",
    "Episode",
    "LoadSettings",
    "MeanCI",
    "Minutes",
    "Night",
    "ParticipantRows",
    "SessionEffect",
    "SleepSettings",
    "Stability",
    "StudyDays",
    "cole_kripke",
    "cosinor",
    "minutes_from_rows",
    "profile",
    "profile_store",
    "stability",
    "webster_rescore",
]
