"""The texts `notabridge autostart` installs: systemd user units, a launchd agent, a Windows logon task.

Pure functions of the daemon command line, so every OS's text is checked on any OS."""
from __future__ import annotations

import shlex
from xml.sax.saxutils import escape

UNIT_NAME = "notabridge"
LAUNCHD_LABEL = "org.notabridge.daemon"
WINDOWS_TASK = "NotaBridge daemon"
IDLE_EXIT_MINUTES = 30


def serve_command(python: str, port: int, model: str | None, socket_activation: bool) -> list[str]:
    """The daemon's command line: the installing interpreter, so the same install runs it."""
    cmd = [python, "-m", "notabridge.cli.main", "serve"]
    # socket-activated: stop after 30 idle minutes (memory back), the socket starts it again
    cmd += ["--socket-activation", "--idle-exit", str(IDLE_EXIT_MINUTES)] if socket_activation else ["--http-port", str(port)]
    return cmd + (["--model", model] if model else [])


def _systemd_quote(arg: str) -> str:
    # systemd's ExecStart splits like a shell with double quotes; % starts a specifier
    arg = arg.replace("%", "%%")
    if arg and all(c.isalnum() or c in "/._-=:+,@" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_socket_unit(port: int) -> str:
    return ("[Unit]\n"
            "Description=NotaBridge daemon socket (the first request from the MuseScore plugin starts it)\n\n"
            "[Socket]\n"
            f"ListenStream=127.0.0.1:{port}\n"
            "Accept=no\n\n"
            "[Install]\n"
            "WantedBy=sockets.target\n")


def systemd_service_unit(command: list[str]) -> str:
    return ("[Unit]\n"
            "Description=NotaBridge daemon (started by notabridge.socket)\n"
            f"Requires={UNIT_NAME}.socket\n\n"
            "[Service]\n"
            "Type=simple\n"
            f"ExecStart={' '.join(_systemd_quote(a) for a in command)}\n"
            "Restart=on-failure\n")


def launchd_plist(command: list[str], log_path: str) -> str:
    args = "".join(f"\t\t<string>{escape(a)}</string>\n" for a in command)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
            '<plist version="1.0">\n<dict>\n'
            f"\t<key>Label</key>\n\t<string>{LAUNCHD_LABEL}</string>\n"
            f"\t<key>ProgramArguments</key>\n\t<array>\n{args}\t</array>\n"
            "\t<key>RunAtLoad</key>\n\t<true/>\n"
            f"\t<key>StandardOutPath</key>\n\t<string>{escape(log_path)}</string>\n"
            f"\t<key>StandardErrorPath</key>\n\t<string>{escape(log_path)}</string>\n"
            "</dict>\n</plist>\n")


def _windows_quote(arg: str) -> str:
    return f'"{arg}"' if (not arg or any(c in arg for c in ' \t"&|<>^')) else arg


def schtasks_create(command: list[str]) -> list[str]:
    """schtasks arguments for a task that runs the daemon at each logon of this user."""
    return ["schtasks", "/Create", "/TN", WINDOWS_TASK, "/SC", "ONLOGON", "/RL", "LIMITED", "/F",
            "/TR", " ".join(_windows_quote(a) for a in command)]


def shell_line(args: list[str]) -> str:
    """A command as the user would type it (POSIX shell)."""
    return " ".join(shlex.quote(a) for a in args)
