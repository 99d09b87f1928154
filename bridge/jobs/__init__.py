"""Jobs: a request checked against the limits (request), the shared settings, and compose:
excerpt in, engine run, excerpt out."""
