"""Redraw the panel screenshots of docs/panel.md: the embedded default model continues bars
of a Bach chorale from music21's corpus with three variants, at two window sizes; with --live,
the Live tab while the daemon plays along with a DAW (the chorale's soprano, MIDI clock at
120 bpm, in real time, through the in-memory MIDI ports of the tests: this machine has none).

    .venv/bin/python docs/panel_screenshots.py            # writes docs/panel*.png
    .venv/bin/python docs/panel_screenshots.py --live     # writes docs/panel-live.png
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SIZES = {"panel.png": (1280, 800), "panel-small.png": None}   # None: the window's minimum size
SETTINGS = {"temperature": 1.0, "top_k": 9, "top_p": 0.9, "seed": 7, "variants": 3, "bars": 2,
            "prompt": {"period": "Baroque", "composer": "Bach, Johann Sebastian", "instrumentation": "Choral"}}


def main(out_dir: Path = REPO / "docs") -> int:
    from music21 import corpus
    from PyQt6.QtCore import QEventLoop, QSettings, QTimer
    from PyQt6.QtWidgets import QApplication

    from notabridge.daemon.app import Daemon, ServeOptions
    from notabridge.engine import Engine
    from notabridge.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    daemon = Daemon(Engine(None, device="cpu"), ServeOptions(http_port=0, osc_port=0, osc_tcp_port=0),
                    say=lambda line: None)
    daemon.start()

    def wait(condition, timeout_s: float = 120) -> None:
        loop_until = QTimer()
        loop_until.setSingleShot(True)
        loop_until.start(int(timeout_s * 1000))
        while not condition() and loop_until.isActive():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = QSettings(str(Path(tmp) / "panel.ini"), QSettings.Format.IniFormat)
            # the machine drawing these may have no sound card: a silent sink stands in for it, so the
            # listening buttons look as they do on a machine with speakers
            window = MainWindow("127.0.0.1", daemon.osc_udp.server_address[1], store=store, heartbeat_ms=200,
                                sink_factory=lambda rate, channels: None)
            window.show()
            wait(lambda: window.link.connected and window.link.capabilities, 10)
            window.settings.update(SETTINGS)
            window.open_file(corpus.getWork("bwv367"))
            window.mode.setCurrentText("continue")
            window.first.setValue(window.first.minimum())
            window.last.setValue(window.first.minimum() + 3)
            wait(lambda: False, 1)
            window.run_job()
            wait(lambda: bool(window.variants) or "job error" in window.message.text())
            for name, size in SIZES.items():
                window.resize(*(size or (window.minimumSize().width(), window.minimumSize().height())))
                wait(lambda: False, 1.0)   # the notation is laid out again for the new width
                window.grab().save(str(out_dir / name), "PNG")
                print(f"wrote {out_dir / name} ({window.width()}x{window.height()})")
            window.browser.set_side_by_side(True)
            window.resize(1280, 800)
            wait(lambda: False, 1.0)
            window.grab().save(str(out_dir / "panel-side-by-side.png"), "PNG")
            print(f"wrote {out_dir / 'panel-side-by-side.png'}")
            window.close()
    finally:
        daemon.stop()
    return 0


def live(out_dir: Path = REPO / "docs") -> int:
    """The Live tab mid-take: armed from the panel, the DAW playing bar 6 or so of BWV 66.6."""
    import threading

    from PyQt6.QtCore import QEventLoop, QSettings
    from PyQt6.QtWidgets import QApplication

    from notabridge.engine.bundle import DEFAULT_BUNDLE
    from notabridge.ui.main_window import MainWindow
    from tests import daemon_midi_backend as fake_os
    from tests.daemon_helpers import running_daemon
    from tests.live_helpers import chorale_soprano, performance, play_real_time

    app = QApplication.instance() or QApplication(sys.argv[:1])

    def wait(condition, timeout_s: float = 60) -> None:
        import time

        end = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    notes, upbeat, meter, key = chorale_soprano("bach/bwv66.6")
    with tempfile.TemporaryDirectory() as tmp, running_daemon(
            DEFAULT_BUNDLE, midi_in="DAW out", midi_out="Synth in", midi_backend="tests.daemon_midi_backend",
            midi_key=key, initial_settings={"seed": 7}) as daemon:
        store = QSettings(str(Path(tmp) / "panel.ini"), QSettings.Format.IniFormat)
        window = MainWindow("127.0.0.1", daemon.osc_udp.server_address[1], store=store, heartbeat_ms=200,
                            sink_factory=lambda rate, channels: None)
        window.show()
        window.resize(1280, 800)
        wait(lambda: window.live.state is not None, 10)
        window.live.arm_button.click()
        wait(lambda: daemon.midi.live.armed, 10)
        daemon.midi.live.wait_idle(120)
        daw = threading.Thread(target=play_real_time, args=(performance(notes, upbeat, meter, 120),
                                                            lambda m: fake_os.daw_sends("DAW out", m)))
        daw.start()
        wait(lambda: window.live.position.text().startswith("Bar 6") and "bar 7 ready" in window.live.answer.text())
        window.grab().save(str(out_dir / "panel-live.png"), "PNG")
        print(f"wrote {out_dir / 'panel-live.png'}: {window.live.position.text()}, {window.live.answer.text()}")
        daw.join()
        window.close()
    return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--live"]
    out = Path(args[0]) if args else REPO / "docs"
    raise SystemExit(live(out) if "--live" in sys.argv[1:] else main(out))
