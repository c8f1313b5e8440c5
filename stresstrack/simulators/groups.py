"""Simulated groups that differ in signal quality, driven by the participant attributes.

A :class:`GroupQuality` gives the heart sensor of every participant whose attribute has one
of its values extra faults, e.g. an optical sensor that misses pulses and loses the signal
more often for Fitzpatrick types V-VI. It is a test scenario for the fairness audit
(docs/endpoints.md), not a claim about any device: Bent et al. (2020, npj Digit. Med. 3:18)
found no significant effect of skin tone on the error of the optical sensors they tested,
while Fallow et al. (2013, J. Clin. Monit. Comput. 27:313) measured less reflected green
light on darker skin.

>>> q = GroupQuality("skin_type", frozenset({"V", "VI"}), Faults(missed_per_min=4.0))
>>> heart_faults({"P1": {"skin_type": "V"}, "P2": {"skin_type": "II"}}, [q])
{'P1': Faults(disconnect_every_s=None, disconnect_for_s=5.0, drop_share=0.0, \
contact_loss_every_s=None, contact_loss_for_s=10.0, seed=0, latency_s=0.0, \
clock_drift_ppm=0.0, ectopic_per_min=0.0, missed_per_min=4.0, motion_every_s=None, \
motion_for_s=8.0)}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stresstrack.simulators.faults import Faults

__all__ = ["GroupQuality", "heart_faults"]


@dataclass(frozen=True, slots=True)
class GroupQuality:
    """Faults of the heart sensor of participants whose ``attribute`` is in ``values``."""

    attribute: str
    values: frozenset[str]
    faults: Faults


def heart_faults(
    attributes: Mapping[str, Mapping[str, str]], qualities: Sequence[GroupQuality]
) -> dict[str, Faults]:
    """Participant -> heart-sensor faults (the first matching quality; others get none)."""
    out = {}
    for pid, attrs in attributes.items():
        for q in qualities:
            if attrs.get(q.attribute) in q.values:
                out[pid] = q.faults
                break
    return out
