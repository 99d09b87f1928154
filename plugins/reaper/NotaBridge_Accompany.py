"""NotaBridge for REAPER: an accompaniment for the selected MIDI item (a Python ReaScript).

Select the MIDI item holding a melody and run this action: the NotaBridge daemon (`notabridge
serve`, started beforehand) writes accompaniment voices in the melody's key and meter, using its
shared settings (the Qt panel's temperature, prompt, seed, ...), and the result appears as a new
item on a new track below the melody. One undo point (Ctrl+Z) removes it. See README.md.
"""
import os
import site
import sys

# --- settings you may change -------------------------------------------------------------------
NOTABRIDGE_URL = os.environ.get("NOTABRIDGE_URL", "http://127.0.0.1:7878")   # where `notabridge serve` listens
VOICES = int(os.environ.get("NOTABRIDGE_VOICES", "3"))    # accompaniment voices under the melody
# When REAPER's Python has no mido (the one package this script needs: pip install mido): a
# site-packages folder that has it, e.g. NotaBridge's virtual environment's (same Python version).
NOTABRIDGE_PATH = os.environ.get("NOTABRIDGE_PATH", "")
# -------------------------------------------------------------------------------------------------

import reaper_python  # noqa: E402  (REAPER's ReaScript API; the tests put a stand-in here)


def _script_folder():
    try:
        return os.path.dirname(os.path.abspath(__file__))
    except NameError:  # some REAPER versions run scripts without __file__
        return os.path.join(reaper_python.RPR_GetResourcePath(), "Scripts", "NotaBridge")


if _script_folder() not in sys.path:
    sys.path.insert(0, _script_folder())
if NOTABRIDGE_PATH:
    site.addsitedir(NOTABRIDGE_PATH)   # also reads its .pth files

_run = None


def notabridge_tick():
    """One defer cycle: check the job; ask REAPER to call again until the run is over."""
    if not _run.poll():
        reaper_python.RPR_defer("notabridge_tick()")


def notabridge_main():
    global _run
    try:
        import mido  # noqa: F401  (MIDI files: the melody sent to the daemon, the accompaniment back)
        from notabridge_accompany_logic import AccompanyRun, DaemonClient
        from notabridge_reaper_api import Reaper
    except ImportError as exc:
        reaper_python.RPR_ShowMessageBox(
            f"The Python that REAPER uses has no mido ({exc}). Install it there (python -m pip install mido), "
            "or set NOTABRIDGE_PATH at the top of this script (see README.md).",
            "NotaBridge", 0)
        return
    _run = AccompanyRun(Reaper(reaper_python), DaemonClient(NOTABRIDGE_URL), voices=VOICES)
    if _run.start():
        notabridge_tick()


notabridge_main()
