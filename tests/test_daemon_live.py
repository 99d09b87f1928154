"""The live accompanist: a DAW plays a real melody with MIDI clock; the door answers bar by bar.

This machine has no OS MIDI service: the output port is tests/daemon_midi_backend.py (a fake at
the OS boundary only). The engine (the embedded model, fixed seeds), the door, its clock, the
notation layer and the files it saves are the real ones. Timing is checked on a virtual clock
(the DAW's pulses and the door's clock are the same virtual time, so the assertions do not
depend on how loaded the machine is); one run in real time checks what only real time can,
with margins wide enough that the load of a shared 2-core machine cannot break them.
"""
from __future__ import annotations

import bisect
from fractions import Fraction

import mido
import pytest

from notabridge.engine.bundle import DEFAULT_BUNDLE
from tests import daemon_midi_backend as fake_os
from tests.live_helpers import (Gate, Performance, VirtualClock, accompaniment_notes, chorale_soprano, folk_tune, performance,
                                play_real_time, play_virtual)

BPM = 120
WITHIN = 0.005      # seconds: a note must sound this close to the clock pulse it is due on
pytestmark = pytest.mark.skipif(not (DEFAULT_BUNDLE / "config.json").is_file(), reason="no embedded model")


@pytest.fixture(scope="module")
def daemon():
    """The daemon's engine and settings, without network doors (the door is driven directly)."""
    from notabridge.daemon.app import Daemon, ServeOptions
    from notabridge.engine import Engine

    return Daemon(Engine(DEFAULT_BUNDLE, device="cpu"),
                  ServeOptions(http_port=None, osc_port=None, osc_tcp_port=None, initial_settings={"seed": 7}),
                  say=lambda line: None)


@pytest.fixture
def virtual(monkeypatch):
    clock = VirtualClock()
    monkeypatch.setattr(fake_os, "clock", clock)
    fake_os.received["Synth in"].clear()
    return clock


def _door(daemon, clock, tmp_path, **options):
    from notabridge.daemon.live import LiveDoor, LiveOptions

    factory = options.pop("session_factory", None)
    options.setdefault("lookahead", 4)   # a fixed cut: the auto one follows the machine's speed
    out = mido.Backend("tests.daemon_midi_backend", load=True).open_output("Synth in")
    door = LiveDoor(daemon, out, tmp_path, clock=clock, options=LiveOptions(**options), session_factory=factory)
    door.arm()
    assert door.wait_idle(120)
    return door


def _patient(door):
    """A DAW that never gets ahead of the door (the engine takes no virtual time)."""
    return lambda pulse, message: door.wait_idle(120)


def _played(clock_times):
    """note_on (pulse index, channel, pitch) of what the door sent, each checked against its pulse."""
    out = []
    for at, channel, pitch, _off in accompaniment_notes(fake_os.received["Synth in"]):
        i = bisect.bisect_left(clock_times, at - WITHIN)
        assert i < len(clock_times) and abs(clock_times[i] - at) <= WITHIN, f"note at {at} is on no pulse"
        out.append((i, channel, pitch))
    return sorted(out)


def _written(door, perf, shift_bars: int):
    """note_on (tick, channel, pitch) the saved take's bars say were played: each accompaniment
    bar from its downbeat (`shift_bars` later in echo mode), tied notes not struck again."""
    from notabridge.daemon.live import accompaniment_channels
    from notabridge.notation.live_bars import VoiceReader, bar_notes

    take = door.last_take
    lines, first = door.last_lines, take["first_bar"] - 1
    bar_ticks = int(perf.bar_quarters * 24)
    voices = [str(v) for v in range(2, door.options.voices + 2)]
    key, _ = door.last_key
    readers = {v: VoiceReader(key, door.options.meter) for v in voices}
    out = []
    for i, line in enumerate(lines):
        downbeat = (first + i + shift_bars) * bar_ticks
        for voice, notes in bar_notes(line, readers).items():
            channel = accompaniment_channels(len(voices))[voices.index(voice)]
            out += [(downbeat + int(n.start * 24), channel, n.pitch) for n in notes if not n.tie_in]
    return sorted(out)


def _melody_pitches_in_bars(door):
    from notabridge.abc.bar_check import parse_line
    from notabridge.notation.live_bars import VoiceReader

    reader, pitches = VoiceReader(door.last_key[0], door.options.meter), []
    for line in door.last_lines:
        seg = next((s for s in parse_line(line)[1] if s.voice == "1"), None)
        if seg is not None:
            pitches += [n.pitch for n in reader.notes(seg.content) if not n.tie_in]
    return pitches


def test_forward_a_chorale_soprano_each_bar_sounds_on_its_downbeat_as_written(daemon, virtual, tmp_path):
    notes, upbeat, meter, key = chorale_soprano("bach/bwv66.6")
    door = _door(daemon, virtual, tmp_path, mode="forward", meter="4/4", key=key)
    perf = performance(notes, upbeat, meter, BPM)
    times = play_virtual(perf, door.on_message, virtual, before=_patient(door))
    assert door.wait_idle(120)
    state = door.state()
    assert state["late"] == 0 and state["failed"] == 0, state
    # the upbeat is bar 1; its cut comes before it is played, so the first answer is for bar 3
    lines = door.last_lines
    assert door.last_take["first_bar"] == 1 and len(lines) == perf.pulses // 96
    assert all("[V:2]" in line for line in lines[2:]), lines
    assert state["bars_ready"] == len(lines) - 1   # bars 3..12 played, bar 13's was ready when Stop came
    played = _played(times)
    assert played and played == _written(door, perf, shift_bars=0)
    # what the door read is what the DAW played
    assert _melody_pitches_in_bars(door) == [p for _, _, p in notes]
    # a bar was ready a whole lookahead before its downbeat (the engine took no virtual time)
    assert state["margin_min_ms"] == pytest.approx(1000 * 4 * 6 * perf.seconds_per_pulse, abs=1)
    door.close()


def test_echo_a_folk_tune_in_three_four_with_an_upbeat_one_bar_late(daemon, virtual, tmp_path):
    notes, upbeat, meter, key = folk_tune()
    assert meter == (3, 4) and upbeat == 1
    door = _door(daemon, virtual, tmp_path, mode="echo", meter="3/4", key=key, voices=2)
    perf = performance(notes, upbeat, meter, BPM)
    times = play_virtual(perf, door.on_message, virtual, before=_patient(door))
    assert door.wait_idle(120)
    lines = door.last_lines
    assert lines[0].startswith("[V:1]") and "[V:2]" not in lines[0]     # the upbeat is the melody's alone
    assert all("[V:2]" in line and "[V:3]" in line for line in lines[1:-1]), lines
    played = _played(times)
    # the last bar's accompaniment is in the score, but its turn (after the last bar) never came
    assert played == [n for n in _written(door, perf, shift_bars=1) if n[0] < perf.pulses]
    assert door.state()["late"] == 0
    assert _melody_pitches_in_bars(door) == [p for _, _, p in notes]
    door.close()


def test_a_tempo_change_is_followed_on_the_next_pulse(daemon, virtual, tmp_path):
    notes, upbeat, meter, key = chorale_soprano("bach/bwv66.6")
    door = _door(daemon, virtual, tmp_path, mode="forward", key=key)
    perf = performance(notes[:12], upbeat, meter, BPM, end_bars=1)
    # from bar 3 on the DAW plays at 80 bpm: every interval 1.5 times as long
    times = play_virtual(perf, door.on_message, virtual, before=_patient(door), tempo_change=(2 * 96 + 5, 1.5))
    assert door.wait_idle(120)
    played = _played(times)
    assert played == _written(door, perf, shift_bars=0)
    assert any(tick > 2 * 96 + 5 for tick, _, _ in played)
    assert door.state()["tempo_bpm"] == pytest.approx(80, abs=0.5)
    door.close()


def test_a_bar_not_ready_before_its_downbeat_is_skipped_counted_and_shown(daemon, virtual, tmp_path):
    from notabridge.engine.live_session import LiveSession

    gates = []

    def gated(*args, **kwargs):
        gates.append(Gate(LiveSession(*args, **kwargs)))
        return gates[-1]

    notes, upbeat, meter, key = chorale_soprano("bach/bwv66.6")
    door = _door(daemon, virtual, tmp_path, mode="forward", key=key, session_factory=gated)
    gate = gates[-1]
    gate.opened.set()
    perf = performance(notes, upbeat, meter, BPM)
    held_bar = 4                     # bar 6 (index 5, written at the cut of index 4) will not be ready in time
    cut, downbeat = (held_bar + 1) * 96 - 24, (held_bar + 1) * 96

    def daw(pulse, message):
        if pulse == cut and message.type == "clock":
            gate.opened.clear()      # the engine is held from this cut ...
        if pulse > downbeat:
            gate.opened.set()        # ... until bar 6's downbeat has passed
        if not cut < pulse <= downbeat:
            door.wait_idle(120)

    times = play_virtual(perf, door.on_message, virtual, before=daw)
    assert door.wait_idle(120)
    state = door.state()
    assert state["late"] == 1 and state["late_bars"] == [held_bar + 2], state
    played = _played(times)
    bar5 = range((held_bar + 1) * 96, (held_bar + 2) * 96)
    assert played and not [p for p in played if p[0] in bar5]        # never played late
    assert [p for p in played if p[0] >= (held_bar + 2) * 96]         # the next bars play again
    assert played == _written(door, perf, shift_bars=0)               # the saved take has no bar 5 accompaniment
    assert "[V:2]" not in door.last_lines[held_bar + 1]
    door.close()


def test_auto_lookahead_moves_the_cut_to_leave_room_for_a_slow_engine(daemon, virtual, tmp_path):
    """The door's policy, given the engine's times: here every bar (the warm-up too) reports
    0.3 s, as a NotaGen-small-sized model might on a fast CPU; at 120 bpm (a sixteenth is
    0.125 s) three times that plus the slack needs 8 sixteenths: the bar is cut at its half."""
    from notabridge.engine.live_session import LiveSession

    class Slow:
        def __init__(self, *args, **kwargs):
            self.session = LiveSession(*args, **kwargs)

        def write_bar(self, *args, **kwargs):
            written = self.session.write_bar(*args, **kwargs)
            written.seconds = 0.3
            return written

    notes, upbeat, meter, key = chorale_soprano("bach/bwv66.6")
    door = _door(daemon, virtual, tmp_path, mode="forward", key=key, lookahead="auto", session_factory=Slow)
    perf = performance(notes[:16], upbeat, meter, BPM, end_bars=1)
    times = play_virtual(perf, door.on_message, virtual, before=_patient(door))
    assert door.wait_idle(120)
    state = door.state()
    assert state["lookahead_used"] == 8 and state["late"] == 0
    assert state["margin_min_ms"] == pytest.approx(8 * 6 * 1000 * perf.seconds_per_pulse, abs=1)
    assert _played(times) == _written(door, perf, shift_bars=0)
    door.close()


def test_stop_silences_at_once_and_leaves_a_take_that_reimports(daemon, virtual, tmp_path):
    from notabridge.notation import excerpt_from_musicxml
    from notabridge.notation.midi_clip import read_clip
    from tests.daw_helpers import absolute_notes

    notes, upbeat, meter, key = chorale_soprano("bach/bwv66.6")
    door = _door(daemon, virtual, tmp_path, mode="forward", key=key)
    perf = performance(notes, upbeat, meter, BPM)
    stop_pulse = 6 * 96 + 30                      # in bar 7, while the accompaniment sounds
    events = [e for e in perf.events if e[1].type != "stop" and e[0] < stop_pulse * perf.seconds_per_pulse]
    cut = Performance(events + [(stop_pulse * perf.seconds_per_pulse, mido.Message("stop"))],
                                perf.bar_quarters, perf.offset, perf.seconds_per_pulse, stop_pulse)
    times = play_virtual(cut, door.on_message, virtual, before=_patient(door))
    stopped_at = virtual.now
    assert door.wait_idle(120)
    sent = fake_os.received["Synth in"]
    at_stop = [m for t, m in sent if t == stopped_at]
    assert at_stop and all(m.type == "note_off" for m in at_stop)      # what sounded is released at Stop
    assert not [m for t, m in sent if t > stopped_at]
    sounding = {}
    for _, m in sent:
        sounding[(m.channel, m.note)] = m.type == "note_on" and m.velocity > 0
    assert not any(sounding.values())

    take = door.last_take
    assert take["musicxml"] and take["midi"] and str(tmp_path) in take["midi"]
    # MIDI: the melody as played, and exactly what was sent, at the ticks it was sent
    midi = mido.MidiFile(take["midi"])
    melody_track, *voices = midi.tracks[1:]
    played_melody = [p for s, l, p in notes if (s + perf.offset) * 24 < stop_pulse]
    assert [p for _, _, p in absolute_notes(melody_track)] == played_melody
    expected = sorted((bisect.bisect_left(times, t) * 20, m.channel, m.note)
                      for t, m in sent if m.type == "note_on" and m.velocity)
    got = []
    for channel, track in zip((1, 2, 3), voices):
        got += [(start, channel, pitch) for start, _, pitch in absolute_notes(track)]
    assert sorted(got) == expected
    assert read_clip(take["midi"]).numerator == 4
    # MusicXML: one measure per bar, the upbeat first, the melody's notes on staff 0
    excerpt = excerpt_from_musicxml(take["musicxml"])
    assert len(excerpt["measures"]) == 7 == take["bars"]
    assert Fraction(excerpt["measures"][0]["duration"]) == Fraction(1, 4)
    pitches = []
    for measure in excerpt["measures"]:
        for staff in measure["staves"]:
            if staff["staff"] == 0:
                for event in staff["voices"][0]["events"]:
                    pitches += [n["pitch"] for n in event.get("notes", []) if n.get("tie") not in ("stop", "continue")]
    assert pitches == played_melody
    door.close()


def test_song_position_and_continue_start_a_take_at_that_bar(daemon, virtual, tmp_path):
    notes, upbeat, meter, key = chorale_soprano("bach/bwv66.6")
    door = _door(daemon, virtual, tmp_path, mode="forward", key=key)
    perf = performance(notes, upbeat, meter, BPM)
    # the DAW's cursor is on bar 9 (song position in sixteenths), then it plays on from there
    door.on_message(mido.Message("songpos", pos=8 * 16))
    shifted = [(at, m) for at, m in perf.events if m.type != "start"]
    relocated = Performance([(0.0, mido.Message("continue"))] + shifted, perf.bar_quarters, perf.offset,
                                      perf.seconds_per_pulse, perf.pulses)
    times = play_virtual(relocated, door.on_message, virtual, before=_patient(door))
    assert door.wait_idle(120)
    assert door.last_take["first_bar"] == 9
    played = _played(times)
    assert played and min(i for i, _, _ in played) >= 2 * 96      # the third bar of the take, as after Start
    door.close()


def test_the_daemon_plays_along_in_real_time_at_120_bpm_and_answers_over_osc(tmp_path):
    """Through `notabridge serve`'s doors: OSC arms and steers it, the DAW plays in real time.
    Half a bar of lookahead (1 s at 120 bpm) against ~0.1 s of engine per bar: no load on a
    shared 2-core machine makes a bar late here; the margins themselves are bench/live.py's."""
    import json

    from tests.daemon_helpers import OscUdpClient, running_daemon

    notes, upbeat, meter, key = chorale_soprano("bach/bwv66.6")
    fake_os.received["Synth in"].clear()
    with running_daemon(DEFAULT_BUNDLE, midi_in="DAW out", midi_out="Synth in", midi_save_dir=str(tmp_path),
                        midi_backend="tests.daemon_midi_backend", initial_settings={"seed": 3}) as daemon:
        osc = OscUdpClient(daemon.osc_udp.server_address[1])
        osc.send("/notabridge/live/set", "key", key, "lookahead", 8)
        assert json.loads(osc.receive("/notabridge/live/state")[1][0])["lookahead"] == 8
        osc.send("/notabridge/live/start", "forward")
        state = json.loads(osc.receive("/notabridge/live/state")[1][0])
        assert state["armed"] and state["folder"] == str(tmp_path)
        assert daemon.midi.live.wait_idle(120)
        perf = performance(notes[:14], upbeat, meter, BPM, end_bars=1)
        times = play_real_time(perf, lambda m: fake_os.daw_sends("DAW out", m))
        osc.send("/notabridge/live/get")
        state = json.loads(osc.receive("/notabridge/live/state")[1][0])
        assert state["late"] == 0 and state["failed"] == 0 and state["bars_ready"] >= 3, state
        assert state["margin_min_ms"] > 0
        # each note was sent while its pulse was being handled (before the DAW's next pulse)
        received = fake_os.received["Synth in"]
        assert received
        for at, _message in received:
            i = bisect.bisect_right(times, at) - 1
            assert i >= 0 and (i + 1 == len(times) or at < times[i + 1])
        osc.send("/notabridge/live/stop")
        assert json.loads(osc.receive("/notabridge/live/state")[1][0])["armed"] is False
        assert daemon.midi.live.wait_idle(120)
        assert daemon.midi.live.last_take["midi"].startswith(str(tmp_path))
        osc.send("/notabridge/live/set", "mode", "canon")
        assert "forward, echo" in osc.receive("/notabridge/error")[1][1]
        osc.close()


@pytest.mark.parametrize("args, message", [
    (["--midi-live", "forward"], "--midi-live needs both --midi-in (the melody) and --midi-out"),
    (["--midi-in", "a", "--midi-out", "b", "--midi-key", "H"], 'key must be a key such as "G"'),
    (["--midi-in", "a", "--midi-out", "b", "--midi-meter", "3/4", "--midi-lookahead", "11"],
     "between 1 and 10 sixteenths in 3/4"),
])
def test_bad_live_options_are_one_line_errors(args, message):
    from tests.model_helpers import run_notabridge

    done = run_notabridge("serve", "--http-port", "0", "--osc-port", "0", "--osc-tcp-port", "0", *args)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr


def test_subscribers_hear_arming_start_each_bar_stop_and_the_saved_take(daemon, virtual, tmp_path):
    """What the panel's Live tab is fed: a state pushed on each change, in the order it happened."""
    from notabridge.daemon.live import LiveDoor, LiveOptions

    notes, upbeat, meter, key = chorale_soprano("bach/bwv66.6")
    out = mido.Backend("tests.daemon_midi_backend", load=True).open_output("Synth in")
    door = LiveDoor(daemon, out, tmp_path, clock=virtual, options=LiveOptions(key=key, lookahead=4))
    heard = []
    door.add_listener(heard.append)
    door.arm()
    assert door.wait_idle(120) and heard[-1]["armed"] and not heard[-1]["running"]
    door.set("voices", 2)
    assert door.wait_idle(120) and heard[-1]["voices"] == 2
    perf = performance(notes[:10], upbeat, meter, BPM, end_bars=1)
    play_virtual(perf, door.on_message, virtual, before=_patient(door))
    assert door.wait_idle(120)
    started = next(i for i, s in enumerate(heard) if s["running"])
    assert heard[started]["take"] == {"from_bar": 1, "first_bar": None, "meter": "4/4", "voices": 2}
    bars = [s for s in heard[started:] if s["running"] and s["ready_bar"] is not None]
    # after each answer is ready: the DAW plays the bar before it, nothing is being written
    assert [s["ready_bar"] for s in bars] == list(range(3, 3 + len(bars))) and len(bars) >= 2
    assert all(s["bar"] == s["ready_bar"] - 1 and s["writing_bar"] is None for s in bars)
    assert bars[-1]["take"]["first_bar"] == 1
    stopped = next(i for i, s in enumerate(heard) if i > started and not s["running"])
    assert heard[stopped]["last_take"] is None and heard[-1]["last_take"]["midi"].startswith(str(tmp_path))
    door.disarm()
    assert door.wait_idle(120) and heard[-1]["armed"] is False
    door.close()
