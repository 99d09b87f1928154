"""Start the panel: a QApplication, the main window, optionally a screenshot and exit."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def run_panel(host: str = "127.0.0.1", osc_port: int = 7879, screenshot: str | None = None,
              settings_file: str | None = None, open_file: str | None = None,
              settle_ms: int = 1500) -> int:
    if screenshot and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # a screenshot needs no screen
    from PyQt6.QtCore import QSettings, QTimer
    from PyQt6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("NotaBridge panel")
    store = QSettings(settings_file, QSettings.Format.IniFormat) if settings_file else QSettings("NotaBridge", "panel")
    window = MainWindow(host, osc_port, store=store)
    if open_file:
        window.open_file(open_file)
    window.show()
    if not screenshot:
        return app.exec()

    def shoot() -> None:
        save_screenshot(window, screenshot)
        window.close()
        app.quit()

    QTimer.singleShot(settle_ms, shoot)   # time for the daemon's first replies to arrive
    app.exec()
    return 0 if Path(screenshot).is_file() else 1


def save_screenshot(window, path: str | Path) -> bool:
    return window.grab().save(str(path), "PNG")
