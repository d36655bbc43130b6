"""The pure core: functions on strings and numpy arrays. Nothing here opens files, prints, reads
the clock, draws unseeded randomness or keeps module-level state, so a distributed driver can
replace :mod:`dedupe.pipeline` and reuse every stage."""
