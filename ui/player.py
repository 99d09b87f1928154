"""Sound out through Qt Multimedia: rendered audio (notabridge.ui.audio) pushed to a QAudioSink on the
system's default output. The sink is made by a factory so that tests, on machines without a
sound card, can put a recording stand-in at exactly this boundary (the audio device)."""
from __future__ import annotations

from typing import Callable, Protocol

from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QTimer, pyqtSignal

from . import audio


class Sink(Protocol):
    def start(self, device: QIODevice) -> None: ...
    def stop(self) -> None: ...
    def processedUSecs(self) -> int: ...  # noqa: N802 (Qt's name)


SinkFactory = Callable[[int, int], Sink]   # (sample rate, channels) -> a sink playing 16-bit PCM


def device_problem() -> str | None:
    """None when the system has a sound output, else a sentence saying so."""
    from PyQt6.QtMultimedia import QMediaDevices

    if QMediaDevices.defaultAudioOutput().isNull():
        return "no sound output was found on this machine (check the system's sound settings, then restart the panel)"
    return None


def qt_sink(rate: int, channels: int) -> Sink:
    from PyQt6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices

    fmt = QAudioFormat()
    fmt.setSampleRate(rate)
    fmt.setChannelCount(channels)
    fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
    return QAudioSink(QMediaDevices.defaultAudioOutput(), fmt)


class Player(QObject):
    """Plays one Audio at a time from a given second; knows where it is and what it plays."""
    state_changed = pyqtSignal(bool)      # playing or not

    def __init__(self, parent: QObject | None = None, sink_factory: SinkFactory | None = None) -> None:
        super().__init__(parent)
        self.reason = audio.synthesiser_problem() or (device_problem() if sink_factory is None else None)
        self._factory = sink_factory or qt_sink
        self._sink: Sink | None = None
        self._buffer: QBuffer | None = None
        self._started_at = 0.0
        self.audio: audio.Audio | None = None
        self.label: object = None          # what is playing, as the caller described it
        self._watch = QTimer(self)
        self._watch.setInterval(100)
        self._watch.timeout.connect(self._check_end)

    @property
    def available(self) -> bool:
        return self.reason is None

    @property
    def playing(self) -> bool:
        return self._sink is not None

    def play(self, sound: audio.Audio, from_s: float = 0.0, label: object = None) -> None:
        self.stop()
        self.audio, self.label, self._started_at = sound, label, max(0.0, from_s)
        self._buffer = QBuffer(self)
        self._buffer.setData(QByteArray(sound.pcm(self._started_at)))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self._sink = self._factory(sound.rate, sound.channels)
        self._sink.start(self._buffer)
        self._watch.start()
        self.state_changed.emit(True)

    def position(self) -> float:
        """Seconds into the audio being played (0 when nothing plays)."""
        if self._sink is None:
            return 0.0
        return self._started_at + self._sink.processedUSecs() / 1e6

    def stop(self) -> None:
        was = self._sink is not None
        self._watch.stop()
        if self._sink is not None:
            self._sink.stop()
            self._sink = None
        if self._buffer is not None:
            self._buffer.close()
            self._buffer = None
        if was:
            self.state_changed.emit(False)

    def _check_end(self) -> None:
        if self._sink is None or self.audio is None:
            return
        drained = self._buffer is not None and self._buffer.atEnd() and _idle(self._sink)
        if drained or self.position() >= self.audio.seconds - 0.01:
            self.stop()


def _idle(sink: Sink) -> bool:
    """A Qt sink that has played everything it was given goes idle (stand-ins have no state)."""
    state = getattr(sink, "state", None)
    if state is None:
        return False
    from PyQt6.QtMultimedia import QAudio

    return state() == QAudio.State.IdleState
