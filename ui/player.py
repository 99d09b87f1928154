"""Listening to a result: write it as MIDI and play it with a synthesizer found on the machine.
When none is found the panel's play button is disabled and its tooltip says why."""
from __future__ import annotations

import glob
import shutil
import tempfile
from pathlib import Path

from PyQt6.QtCore import QObject, QProcess

SOUNDFONTS = ("/usr/share/sounds/sf2/*.sf2", "/usr/share/soundfonts/*.sf2", "/usr/share/sounds/sf3/*.sf3")


def find_synthesizer() -> tuple[list[str] | None, str]:
    """(command prefix that plays a .mid file given after it, or None; a sentence for the tooltip)."""
    fluidsynth = shutil.which("fluidsynth")
    fonts = [f for pattern in SOUNDFONTS for f in sorted(glob.glob(pattern))]
    if fluidsynth and fonts:
        return [fluidsynth, "-i", "-q", fonts[0]], f"Play with fluidsynth ({Path(fonts[0]).name})"
    if shutil.which("timidity"):
        return [shutil.which("timidity") or "timidity", "-idq"], "Play with TiMidity++"
    missing = "fluidsynth is installed but no General MIDI soundfont was found" if fluidsynth else \
        "no MIDI synthesizer was found"
    return None, f"Listening is off: {missing}. Install fluidsynth and fluid-soundfont-gm (or timidity), then restart the panel."


class Player(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.command, self.reason = find_synthesizer()
        self._process: QProcess | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="notabridge-panel-")

    @property
    def available(self) -> bool:
        return self.command is not None

    def play(self, excerpt: dict) -> None:
        from notabridge.notation import excerpt_to_midi

        if not self.command:
            return
        self.stop()
        path = Path(self._folder.name) / "listen.mid"
        path.write_bytes(excerpt_to_midi(excerpt))
        self._process = QProcess(self)
        self._process.start(self.command[0], self.command[1:] + [str(path)])

    @property
    def playing(self) -> bool:
        return self._process is not None and self._process.state() != QProcess.ProcessState.NotRunning

    def stop(self) -> None:
        if self._process is not None and self._process.state() != QProcess.ProcessState.NotRunning:
            self._process.kill()
            self._process.waitForFinished(1000)
        self._process = None
