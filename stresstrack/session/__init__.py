"""A study session's layer: its protocol, study file, the marks of its phases, its recorder.

- :mod:`stresstrack.session.protocol` — protocols (ordered phases) and their phase markers;
- :mod:`stresstrack.session.study` — the study file (participants, consent, arms, orders);
- :mod:`stresstrack.session.recorder` — events → store → pipeline → sinks, crash-safe.
"""
