"""The HTTP door's listening socket handed over by systemd (socket activation, `man sd_listen_fds`).

systemd binds the port itself and starts the daemon on the first connection, passing the
listening socket as file descriptor 3 with LISTEN_FDS=1 and LISTEN_PID=<our pid>."""
from __future__ import annotations

import os
import socket

SD_LISTEN_FDS_START = 3


class ActivationError(Exception):
    """No usable socket was passed; the message says what to do."""


def systemd_socket(environ: dict[str, str] | None = None) -> socket.socket:
    """The first listening TCP socket systemd passed us. The LISTEN_* variables are removed so a
    child process never takes them for its own (sd_listen_fds' `unset_environment`)."""
    env = os.environ if environ is None else environ
    count, pid = env.pop("LISTEN_FDS", None), env.pop("LISTEN_PID", None)
    env.pop("LISTEN_FDNAMES", None)
    if count is None:
        raise ActivationError("--socket-activation: no socket was passed (LISTEN_FDS is not set). This option is "
                              "for systemd (`notabridge autostart install`); run `notabridge serve` without it")
    if pid is None or not pid.isdigit() or int(pid) != os.getpid():
        raise ActivationError(f"--socket-activation: the passed sockets are for process {pid}, not this one "
                              f"({os.getpid()}); start it from the systemd socket unit")
    if not count.isdigit() or int(count) < 1:
        raise ActivationError(f"--socket-activation: LISTEN_FDS={count!r} passes no socket")
    found: socket.socket | None = None
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count)):
        try:
            sock = socket.socket(fileno=fd)    # family and type read from the descriptor
        except OSError:
            continue
        os.set_inheritable(fd, False)
        if found is None and sock.type == socket.SOCK_STREAM and sock.family in (socket.AF_INET, socket.AF_INET6):
            found = sock
        else:
            sock.detach()                      # not ours to use or close
    if found is None:
        raise ActivationError("--socket-activation: none of the passed sockets is a TCP socket; the socket unit "
                              "needs ListenStream=127.0.0.1:PORT (as `notabridge autostart install` writes it)")
    return found
