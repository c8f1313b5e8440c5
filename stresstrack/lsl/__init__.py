"""Lab Streaming Layer: stresstrack's data as LSL streams, and LSL streams as stresstrack data.

* :mod:`stresstrack.lsl.streams`: what each published stream is (type, channels, units,
  source id): pure descriptions, following the XDF meta-data conventions;
* :mod:`stresstrack.lsl.outlet`: a pipeline that also publishes what it sees and computes;
* :mod:`stresstrack.lsl.inlet`: marker strings from experiment software become session
  markers, and RR/HR/ECG/PPG/EDA streams of other LSL apps become events;
* :mod:`stresstrack.lsl.watch`: whether a silent stream's sender is still there.

``pylsl`` (whose wheel bundles liblsl) is imported only here, when LSL is asked for.
"""
