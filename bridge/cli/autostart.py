"""`notabridge autostart install|remove|status`: start the daemon without a terminal.

MuseScore 3's plugins cannot start programs, so the operating system does it: on Linux a
systemd user socket on the HTTP port starts `notabridge serve --socket-activation` on the first
request (start on demand); on macOS a LaunchAgent and on Windows a logon task start the daemon
when the user logs in (not on demand: launchd's socket hand-over needs a C call this project does
not make)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from notabridge.cli import autostart_units as units
from notabridge.cli.main import UserError
from notabridge.cli.serve import _port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["install", "remove", "status"],
                        help="install: set it up; remove: undo exactly that; status: what is installed")
    parser.add_argument("--port", type=_port, default=7878, metavar="N",
                        help="HTTP port the plugin asks (default 7878, the plugin's default)")
    parser.add_argument("--model", metavar="BUNDLE", help="model bundle folder (default: the embedded model)")


def run(args: argparse.Namespace) -> int:
    platform = _platform()
    if args.action == "install":
        if args.port == 0:
            raise UserError("--port 0 would give the plugin no fixed address; choose a port (default 7878)")
        model = _model_path(args.model)
        for line in platform.install(args.port, model):
            print(line, flush=True)
    elif args.action == "remove":
        for line in platform.remove():
            print(line, flush=True)
    else:
        for line in platform.status():
            print(line, flush=True)
    return 0


def _model_path(model: str | None) -> str | None:
    if model is None:
        return None
    path = Path(model).expanduser().resolve()
    if not path.is_dir():
        raise UserError(f"--model {model}: no model bundle folder there")
    return str(path)


def _platform():
    if sys.platform.startswith("linux"):
        return Systemd(Path.home())
    if sys.platform == "darwin":
        return Launchd(Path.home())
    if sys.platform == "win32":
        return WindowsTask()
    raise UserError(f"autostart knows Linux (systemd), macOS (launchd) and Windows; not {sys.platform}. "
                    "Start the daemon with `notabridge serve`")


def _run(cmd: list[str]) -> tuple[bool, str]:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    return done.returncode == 0, (done.stderr or done.stdout).strip()


class Systemd:
    """Two user units: notabridge.socket listens, notabridge.service is the daemon it starts."""

    def __init__(self, home: Path) -> None:
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        self.folder = config / "systemd" / "user"
        self.socket_file = self.folder / f"{units.UNIT_NAME}.socket"
        self.service_file = self.folder / f"{units.UNIT_NAME}.service"
        self.wants_link = self.folder / "sockets.target.wants" / f"{units.UNIT_NAME}.socket"

    @staticmethod
    def has_user_bus() -> bool:
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        return bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS") or (runtime and Path(runtime, "bus").exists()))

    def install(self, port: int, model: str | None) -> list[str]:
        command = units.serve_command(sys.executable, port, model, socket_activation=True)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.socket_file.write_text(units.systemd_socket_unit(port))
            self.service_file.write_text(units.systemd_service_unit(command))
        except OSError as exc:
            raise UserError(f"cannot write the systemd units in {self.folder}: {exc.strerror or exc}") from None
        lines = [f"wrote {self.socket_file}", f"wrote {self.service_file}"]
        steps = [["systemctl", "--user", "daemon-reload"],
                 ["systemctl", "--user", "enable", "--now", f"{units.UNIT_NAME}.socket"]]
        lines += self._apply(steps, "to start it on demand")
        return lines + [f"the first request to http://127.0.0.1:{port} starts the daemon (loading the model takes "
                        "a few seconds); its log: `journalctl --user -u notabridge`"]

    def remove(self) -> list[str]:
        if not (self.socket_file.exists() or self.service_file.exists()):
            return [f"nothing to remove: no notabridge units in {self.folder}"]
        lines = self._apply([["systemctl", "--user", "disable", "--now", f"{units.UNIT_NAME}.socket"],
                             ["systemctl", "--user", "stop", f"{units.UNIT_NAME}.service"]],
                            "first, to stop it", required=False)
        for path in (self.wants_link, self.socket_file, self.service_file):
            if path.is_symlink() or path.exists():
                try:
                    path.unlink()
                except OSError as exc:
                    raise UserError(f"cannot remove {path}: {exc.strerror or exc}") from None
                lines.append(f"removed {path}")
        return lines + self._apply([["systemctl", "--user", "daemon-reload"]], "to forget the units", required=False)

    def _apply(self, steps: list[list[str]], purpose: str, required: bool = True) -> list[str]:
        if not self.has_user_bus():
            return [f"no systemd user session here (no user bus); {purpose}, run in your desktop session:"] + \
                   [f"  {units.shell_line(s)}" for s in steps]
        lines = []
        for i, step in enumerate(steps):
            ok, said = _run(step)
            if ok:
                lines.append(f"ran {units.shell_line(step)}")
            elif required:
                rest = "\n".join(f"  {units.shell_line(s)}" for s in steps[i:])
                raise UserError(f"`{units.shell_line(step)}` failed: {said}. The unit files are written; "
                                f"fix that (is the port in use, e.g. by a `notabridge serve` in a terminal?) and run:\n{rest}")
            else:
                lines.append(f"{units.shell_line(step)}: {said or 'failed'}")
        return lines

    def status(self) -> list[str]:
        if not self.socket_file.exists():
            return [f"not installed (no {self.socket_file}); `notabridge autostart install` sets it up"]
        listen = next((l.split("=", 1)[1] for l in self.socket_file.read_text().splitlines()
                       if l.startswith("ListenStream=")), "?")
        lines = [f"installed: {self.socket_file} (listens on {listen}) and {self.service_file}",
                 "enabled at login" if self.wants_link.exists() else
                 "not enabled: `systemctl --user enable --now notabridge.socket`"]
        if self.has_user_bus():
            for unit in ("socket", "service"):
                ok, said = _run(["systemctl", "--user", "is-active", f"{units.UNIT_NAME}.{unit}"])
                lines.append(f"notabridge.{unit}: {said or ('active' if ok else 'inactive')}")
        return lines


class Launchd:
    """A LaunchAgent that starts the daemon at login (RunAtLoad)."""

    def __init__(self, home: Path) -> None:
        self.plist = home / "Library" / "LaunchAgents" / f"{units.LAUNCHD_LABEL}.plist"
        self.log = home / "Library" / "Logs" / "notabridge.log"

    def install(self, port: int, model: str | None) -> list[str]:
        command = units.serve_command(sys.executable, port, model, socket_activation=False)
        try:
            self.plist.parent.mkdir(parents=True, exist_ok=True)
            self.log.parent.mkdir(parents=True, exist_ok=True)
            self.plist.write_text(units.launchd_plist(command, str(self.log)))
        except OSError as exc:
            raise UserError(f"cannot write {self.plist}: {exc.strerror or exc}") from None
        load = ["launchctl", "load", "-w", str(self.plist)]
        ok, said = _run(load)
        return [f"wrote {self.plist} (starts the daemon at each login; log: {self.log})",
                f"ran {units.shell_line(load)}" if ok else
                f"{units.shell_line(load)} failed ({said}); run it yourself to start the daemon now"]

    def remove(self) -> list[str]:
        if not self.plist.exists():
            return [f"nothing to remove: no {self.plist}"]
        ok, said = _run(["launchctl", "unload", "-w", str(self.plist)])
        try:
            self.plist.unlink()
        except OSError as exc:
            raise UserError(f"cannot remove {self.plist}: {exc.strerror or exc}") from None
        return [f"stopped the daemon ({'launchctl unload' if ok else said})", f"removed {self.plist}"]

    def status(self) -> list[str]:
        if not self.plist.exists():
            return [f"not installed (no {self.plist}); `notabridge autostart install` sets it up"]
        ok, _ = _run(["launchctl", "list", units.LAUNCHD_LABEL])
        return [f"installed: {self.plist}", "loaded" if ok else f"not loaded: `launchctl load -w {self.plist}`"]


class WindowsTask:
    """A scheduled task that starts the daemon at each logon of this user."""

    def install(self, port: int, model: str | None) -> list[str]:
        python = Path(sys.executable)
        quiet = python.with_name("pythonw.exe")         # no console window at logon
        log = Path(os.environ.get("LOCALAPPDATA") or Path.home()) / "notabridge" / "notabridge.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot make the log folder {log.parent}: {exc.strerror or exc}") from None
        command = units.serve_command(str(quiet if quiet.exists() else python), port, model, socket_activation=False)
        create = units.schtasks_create(command + ["--log-file", str(log)])
        ok, said = _run(create)
        if not ok:
            raise UserError(f"schtasks could not create the logon task: {said}")
        run_now = ["schtasks", "/Run", "/TN", units.WINDOWS_TASK]
        started, _ = _run(run_now)
        return [f"created the logon task {units.WINDOWS_TASK!r} (log: {log})",
                "started it now" if started else "it starts at your next logon"]

    def remove(self) -> list[str]:
        ok, said = _run(["schtasks", "/Delete", "/TN", units.WINDOWS_TASK, "/F"])
        return [f"removed the logon task {units.WINDOWS_TASK!r} (a daemon already running keeps running until logoff)"
                if ok else f"nothing removed: {said}"]

    def status(self) -> list[str]:
        ok, said = _run(["schtasks", "/Query", "/TN", units.WINDOWS_TASK])
        return [f"installed: logon task {units.WINDOWS_TASK!r}" if ok else "not installed"]
