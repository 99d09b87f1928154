"""`notabridge install-musescore-plugin`: copy the MuseScore plugin into MuseScore's plugin folder."""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from notabridge.cli.main import UserError

PLUGIN_FOLDER_NAME = "NotaBridge"
SHARED_FILES = ["notabridge.js", "score_marks.js", "write.js", "batch.js", "notabridge.png", "ui/NotaBridgePanel.qml", "ui/NbButton.qml",
                "ui/NbField.qml", "ui/NbChoice.qml"]
# the header file MuseScore loads, per major version (MuseScore 4 needs Qt 6 imports)
HEADER = {3: "NotaBridge3.qml", 4: "NotaBridge.qml"}
BATCH_FILE = "notabridge-batch.json"
# the address the plugin's Daemon field saved (musescore_plugin/notabridge.js: SETTINGS_FILE)
SETTINGS_FILE = "notabridge-settings.json"
DEFAULT_DAEMON = "http://127.0.0.1:7878"

ENABLE_HINT = {
    3: "In MuseScore 3: Plugins > Plugin Manager, tick 'NotaBridge3', OK; then run it from Plugins > NotaBridge.",
    4: "In MuseScore 4: Home > Plugins, click 'NotaBridge' and Enable; then run it from "
       "Plugins > Composing/arranging tools > NotaBridge.",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--musescore", type=int, choices=[3, 4],
                        help="install for this MuseScore version only (default: both 3 and 4)")
    parser.add_argument("--dir", metavar="PATH",
                        help="MuseScore's plugin folder, if not the default ~/Documents/MuseScore<N>/Plugins "
                             "(see MuseScore's Preferences > General > Folders); needs --musescore")
    parser.add_argument("--daemon", metavar="URL",
                        help=f"the address the plugin asks, e.g. http://127.0.0.1:9000 (default {DEFAULT_DAEMON}); "
                             "the same as typing it in the dialog's Daemon field")


def plugin_source() -> Path:
    """The folder holding the plugin files: package data of notabridge.musescore_plugin (the
    checkout's musescore_plugin/ in an editable install, site-packages otherwise)."""
    from notabridge import musescore_plugin

    here = Path(musescore_plugin.__file__).parent
    if not (here / HEADER[3]).is_file():
        raise UserError("the MuseScore plugin files are missing from this installation; "
                        "reinstall NotaBridge (pip install -e .) from its source folder")
    return here


def default_plugin_dir(version: int) -> Path:
    return Path.home() / "Documents" / f"MuseScore{version}" / "Plugins"


def install(version: int, plugins_dir: Path, source: Path | None = None) -> Path:
    """Copies the plugin for MuseScore `version` into plugins_dir/NotaBridge; returns that folder."""
    source = source or plugin_source()
    target = plugins_dir / PLUGIN_FOLDER_NAME
    try:
        for name in [HEADER[version], *SHARED_FILES]:
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, target / name)
        # a batch file left beside the plugin would make it run that batch instead of its dialog
        (target / BATCH_FILE).unlink(missing_ok=True)
    except OSError as exc:
        raise UserError(f"cannot copy the plugin into {target}: {exc.strerror or exc}") from None
    return target


def daemon_url(text: str) -> str:
    """'9000', 'localhost:9000' or 'http://host:port/' as http://host:port (port 7878 when none is given)."""
    text = text.strip().rstrip("/")
    if text.isdigit():
        text = f"127.0.0.1:{text}"
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port or 7878
    except ValueError:
        parts, port = None, 0
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.path or not 0 < port < 65536:
        raise UserError(f"{text!r} is not a daemon address like http://127.0.0.1:7878")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def plugin_daemon(folder: Path) -> str:
    """The address the plugin installed in `folder` asks: its saved Daemon field, else the default."""
    try:
        saved = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8")).get("daemon")
        return daemon_url(saved) if isinstance(saved, str) else DEFAULT_DAEMON
    except (OSError, ValueError, AttributeError, UserError):
        return DEFAULT_DAEMON


def installed_plugins() -> list[tuple[int, Path]]:
    """(MuseScore version, plugin folder) for each copy in MuseScore's default plugin folders."""
    return [(v, default_plugin_dir(v) / PLUGIN_FOLDER_NAME) for v in HEADER
            if (default_plugin_dir(v) / PLUGIN_FOLDER_NAME / HEADER[v]).is_file()]


def run(args: argparse.Namespace) -> int:
    address = daemon_url(args.daemon) if args.daemon else None
    if args.dir and not args.musescore:
        raise UserError("--dir needs --musescore 3 or --musescore 4 (each version has its own plugin file)")
    versions = [args.musescore] if args.musescore else [3, 4]
    for version in versions:
        plugins_dir = Path(args.dir).expanduser() if args.dir else default_plugin_dir(version)
        target = install(version, plugins_dir)
        if address:
            try:
                (target / SETTINGS_FILE).write_text(json.dumps({"daemon": address}), encoding="utf-8")
            except OSError as exc:
                raise UserError(f"cannot save the daemon address in {target}: {exc.strerror or exc}") from None
        print(f"MuseScore {version}: plugin installed in {target}; it asks the daemon at {plugin_daemon(target)}")
        print(f"  {ENABLE_HINT[version]}")
    print("The plugin talks to the NotaBridge daemon: start it with `notabridge serve` before using it "
          "(another address: type it in the dialog's Daemon field, or install again with --daemon URL).")
    return 0
