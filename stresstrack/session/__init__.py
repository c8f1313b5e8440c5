"""A study session's layer: its protocol, study file, the marks of its phases, its recorder.

- :mod:`stresstrack.session.protocol` — protocols (ordered phases, crossover designs);
- :mod:`stresstrack.session.markers` — a protocol's phases as session markers, live or at once;
- :mod:`stresstrack.session.study` — the study file (participants, consent, arms, orders);
- :mod:`stresstrack.session.recorder` — events → store → pipeline → sinks, crash-safe.
"""
