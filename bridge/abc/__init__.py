"""ABC text rules: patches of a piece (patching) and bar validity (bar_check)."""
