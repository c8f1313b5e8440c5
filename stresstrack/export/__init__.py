"""Files out of a store for other tools.

- :mod:`stresstrack.export.tables` — CSV tables (features, stress, sessions);
- :mod:`stresstrack.export.parquet` — the same tables as Parquet;
- :mod:`stresstrack.export.bids` — a BIDS physio dataset;
- :mod:`stresstrack.export.kubios` — corrected beat lists for Kubios HRV.
"""
