"""A mido port backend living in this process. It stands in for the OS MIDI service (ALSA
sequencer, CoreMIDI), which this machine does not have: only that OS boundary is fake. The
daemon opens these ports through mido's ordinary Backend API, exactly as it opens rtmidi ports.

Input "DAW out" is what a DAW would send to the daemon; output "Synth in" records what the
daemon plays, with arrival times read from `clock` (time.monotonic; a test that plays the DAW
on a virtual clock puts that clock here).
"""
from __future__ import annotations

import threading
import time

from mido.ports import BaseInput, BaseOutput

INPUT_NAMES = ["DAW out"]
OUTPUT_NAMES = ["Synth in"]
_inputs: dict[str, "Input"] = {}
received: dict[str, list] = {name: [] for name in OUTPUT_NAMES}
_lock = threading.Lock()
clock = time.monotonic


def get_input_names(**_kwargs) -> list[str]:
    return list(INPUT_NAMES)


def get_output_names(**_kwargs) -> list[str]:
    return list(OUTPUT_NAMES)


def get_ioport_names(**_kwargs) -> list[str]:
    return []


class Input(BaseInput):
    def _open(self, callback=None, virtual=False, **_kwargs) -> None:
        if self.name not in INPUT_NAMES:
            raise OSError(f"unknown port {self.name!r}")
        self.callback = callback
        _inputs[self.name] = self

    def _close(self) -> None:
        _inputs.pop(self.name, None)

    def _receive(self, block=True):
        return None


class Output(BaseOutput):
    def _open(self, virtual=False, autoreset=False, **_kwargs) -> None:
        if self.name not in OUTPUT_NAMES:
            raise OSError(f"unknown port {self.name!r}")

    def _send(self, message) -> None:
        with _lock:
            received[self.name].append((clock(), message))


def daw_sends(port: str, message) -> None:
    """What a DAW does: deliver a message to whoever opened the input port."""
    _inputs[port].callback(message)
