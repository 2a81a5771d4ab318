"""FIT files (Garmin's Flexible and Interoperable Data Transfer): runform's activity export and
the watch files it merges.

- :mod:`runform.fit.profile`: the profile facts used (message/field numbers, types, scales).
- :mod:`runform.fit.encoder`: a small FIT encoder (developer fields, CRCs).
- :mod:`runform.fit.timeline`: stride rows -> 1 Hz records (pure numpy).
- :mod:`runform.fit.activity`: an analysis -> a FIT activity file.
- :mod:`runform.fit.watch`: read a watch's FIT activity and align it to a recording.
"""
