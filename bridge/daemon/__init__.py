"""The NotaBridge daemon: one job queue and one engine behind HTTP, OSC and MIDI front doors."""
