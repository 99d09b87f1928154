"""The daemon's MIDI door: a take recorded between MIDI start and stop becomes an accompaniment
that is played to the output port and written as a .mid. This machine has no OS MIDI service, so
the ports come from tests/daemon_midi_backend.py (a fake at the OS boundary only); the engine,
the queue, the notation layer and mido's file handling are the real ones."""
from __future__ import annotations

import time

import mido

from tests import daemon_midi_backend as fake_os
from tests.daemon_helpers import OscUdpClient, http_request, running_daemon

BPM = 300           # a fast tempo keeps the take short; the daemon reads it from the MIDI clock
BEAT = 60 / BPM
# two bars of 3/4 in G (the toy model's style), (pitch, beat, beats): G A B | d--
MELODY = [(67, 0, 1), (69, 1, 1), (71, 2, 1), (74, 3, 3)]
BEATS = 6


def _play_take(port: str) -> None:
    """What a DAW sends: start, a clock at 24 per beat, the melody, stop."""
    fake_os.daw_sends(port, mido.Message("start"))
    t0 = time.monotonic()
    events = [(b * BEAT, mido.Message("note_on", note=n, velocity=90)) for n, b, _ in MELODY]
    events += [((b + d) * BEAT - 0.01, mido.Message("note_off", note=n)) for n, b, d in MELODY]
    events += [(i * BEAT / 24, mido.Message("clock")) for i in range(BEATS * 24)]
    for at, message in sorted(events, key=lambda e: e[0]):
        time.sleep(max(0.0, t0 + at - time.monotonic()))
        fake_os.daw_sends(port, message)
    time.sleep(max(0.0, t0 + BEATS * BEAT - time.monotonic()))
    fake_os.daw_sends(port, mido.Message("stop"))


def test_recorded_take_gets_an_accompaniment_played_and_saved(toy_bundle, tmp_path):
    fake_os.received["Synth in"].clear()
    with running_daemon(toy_bundle, midi_in="DAW out", midi_out="Synth in", midi_save_dir=str(tmp_path),
                        midi_backend="tests.daemon_midi_backend", midi_voices=1, midi_meter="3/4") as daemon:
        assert daemon.midi is not None
        _play_take("DAW out")
        job_id = daemon.midi.last_job_id
        assert job_id, daemon.midi.last_error
        job = daemon.queue.wait(job_id, timeout=120)
        assert job.status == "done", job.error
        deadline = time.monotonic() + 30
        while daemon.midi.last_file is None and time.monotonic() < deadline:
            time.sleep(0.05)
        saved = mido.MidiFile(daemon.midi.last_file)
        assert daemon.midi.last_file.parent == tmp_path
        melody, *accompaniment = saved.tracks
        played = [m.note for m in melody if m.type == "note_on" and m.velocity]
        assert played == [n for n, _, _ in MELODY]
        assert len(accompaniment) == 1
        accompaniment_notes = [m for m in accompaniment[0] if m.type == "note_on" and m.velocity]
        # the accompaniment is played to the output port (not the melody: the DAW has it)
        deadline = time.monotonic() + 30
        while (len([m for _, m in fake_os.received["Synth in"] if m.type == "note_on" and m.velocity])
               < len(accompaniment_notes)) and time.monotonic() < deadline:
            time.sleep(0.05)
        sent = [m for _, m in fake_os.received["Synth in"] if m.type == "note_on" and m.velocity]
        assert [m.note for m in sent] == [m.note for m in accompaniment_notes]


def test_osc_triggers_and_an_empty_take(toy_bundle):
    with running_daemon(toy_bundle, midi_in="DAW out", midi_backend="tests.daemon_midi_backend") as daemon:
        client = OscUdpClient(daemon.osc_udp.server_address[1])
        client.send("/notabridge/midi/record/start")
        assert client.receive("/notabridge/midi/status")[1] == ["recording"]
        client.send("/notabridge/midi/record/stop")
        assert "nothing was played" in client.receive("/notabridge/midi/status")[1][0]
        client.close()


def test_without_a_midi_service_the_daemon_says_so_once_and_keeps_serving(toy_bundle, capsys):
    said: list[str] = []
    from notabridge.daemon.app import Daemon, ServeOptions
    from notabridge.engine import Engine

    # mido's default backend (rtmidi) on a machine without an OS MIDI service or the port
    daemon = Daemon(Engine(toy_bundle, device="cpu"),
                    ServeOptions(http_port=0, osc_port=None, osc_tcp_port=None, midi_in="No Such Port"), say=said.append)
    daemon.start()
    try:
        assert len(said) == 1 and said[0].startswith("MIDI off:")
        try:
            import rtmidi  # noqa: F401
        except ImportError:   # the message names the extra that installs it
            assert "pip install -e '.[midi]'" in said[0], said
        assert daemon.midi is None
        assert http_request(daemon, "GET", "/health")[1]["ok"] is True
    finally:
        daemon.stop()
