"""Listening in the panel. The synthesiser and sound font are the real ones the `ui` extra
installs; scores are rendered to audio in memory and measured (length, loudness, pitch). There is
no sound card here, so the sound output device, and only it, is a recording stand-in
(tests.panel_helpers.RecordingSink): the bytes the panel would send to the speakers are checked."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("verovio")
pytest.importorskip("midirenderer")

from PyQt6.QtCore import Qt  # noqa: E402

from tests.panel_helpers import (RecordingSink, daemon_settings, free_udp_port, make_window,  # noqa: E402
                                 open_toy_score, wait_for_variants)


def one_staff(bars: list[list[tuple[str, int | None]]], time: str = "4/4", tempo: float = 120) -> dict:
    """A one-staff piano excerpt; each bar a list of (duration, MIDI pitch or None for a rest)."""
    measures = []
    for i, events in enumerate(bars):
        measures.append({"index": i, "number": i + 1, "time": time, "key": 0, **({"tempo": tempo} if i == 0 else {}),
                         "staves": [{"staff": 0, "voices": [{"voice": 0, "events": [
                             {"type": "rest", "duration": d} if p is None else
                             {"type": "chord", "duration": d, "notes": [{"pitch": p, "tpc": 14, "tie": None}]}
                             for d, p in events]}]}]})
    return {"format": "notabridge-excerpt", "version": 1, "parts": [{"id": "P1", "name": "Piano", "staves": [0],
                                                                     "midi_program": 0}],
            "staves": [{"index": 0, "part": "P1", "clef": "treble"}], "measures": measures}


def fundamental(samples: np.ndarray, rate: int) -> float:
    """The pitch heard, by the harmonic product spectrum (a piano's 2nd harmonic can be its loudest)."""
    mono = samples.astype(np.float64).mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    freqs = np.fft.rfftfreq(len(mono), 1 / rate)
    usable = len(spectrum) // 3
    product = spectrum[:usable] * spectrum[::2][:usable] * spectrum[::3][:usable]
    product[freqs[:usable] < 50] = 0
    return float(freqs[int(np.argmax(product))])


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_a_score_renders_to_sound_of_its_length_with_its_pitches():
    from notabridge.ui.audio import render

    # 4/4 at 120 quarters a minute: two seconds a bar. A4, C5, a bar's rest, E4
    sound = render(one_staff([[("1/1", 69)], [("1/1", 72)], [("1/1", None)], [("1/1", 64)]]))
    assert sound.rate >= 22050 and sound.channels in (1, 2)
    assert sound.seconds == pytest.approx(8.0, abs=0.05)
    assert sound.bar_starts == pytest.approx([0.0, 2.0, 4.0, 6.0])

    def bar(n: int, first: float = 0.2, last: float = 1.2) -> np.ndarray:
        return sound.samples[int((2 * n + first) * sound.rate):int((2 * n + last) * sound.rate)]

    loud = [rms(bar(n)) for n in (0, 1, 3)]
    assert min(loud) > 500, "every sounding bar is clearly audible (16-bit samples, about -36 dBFS or louder)"
    assert rms(bar(2, 1.0, 1.9)) < min(loud) / 30, "the rest bar is silent once the last note has faded"
    for n, hz in ((0, 440.0), (1, 523.25), (3, 329.63)):
        assert fundamental(bar(n), sound.rate) == pytest.approx(hz, rel=0.03)


def test_tied_notes_sound_once_and_tempo_marks_change_the_length():
    from notabridge.ui.audio import excerpt_to_midi_bytes

    import io

    import mido

    score = one_staff([[("1/2", 67), ("1/2", 67)], [("1/1", 60)]], tempo=60)
    score["measures"][0]["staves"][0]["voices"][0]["events"][0]["notes"][0]["tie"] = "start"
    score["measures"][0]["staves"][0]["voices"][0]["events"][1]["notes"][0]["tie"] = "stop"
    score["measures"][1]["tempo"] = 120
    midi, starts = excerpt_to_midi_bytes(score)
    assert starts == pytest.approx([0.0, 4.0])   # a 4/4 bar at 60, then the next at 120
    onsets = [m.note for m in mido.MidiFile(file=io.BytesIO(midi)).tracks[0] if m.type == "note_on"]
    assert onsets == [67, 60]
    assert mido.MidiFile(file=io.BytesIO(midi)).length == pytest.approx(6.0)


def test_without_a_sound_output_play_says_why(qtbot, tmp_path):
    from PyQt6.QtMultimedia import QMediaDevices

    from notabridge.notation import write_excerpt
    from tests.daemon_helpers import toy_excerpt

    window = make_window(qtbot, free_udp_port(), tmp_path / "panel.ini")   # the real audio output
    write_excerpt(toy_excerpt(2), tmp_path / "toy.musicxml")
    window.open_file(tmp_path / "toy.musicxml")
    if QMediaDevices.defaultAudioOutput().isNull():
        assert not window.play_button.isEnabled()
        assert "no sound output" in window.play_button.toolTip()
    else:   # a machine with speakers: Play is ready out of the box
        assert window.play_button.isEnabled()
    window.close()


def test_listen_to_variants_with_given_bars_ab_from_the_same_bar_and_stop(window, daemon, qtbot, tmp_path):
    from notabridge.ui.audio import render
    from notabridge.ui.document import measure_window

    open_toy_score(window, tmp_path)
    window.mode.setCurrentText("continue")
    window.first.setValue(window.first.minimum() + 1)   # given bars: the range's 3 measures, indices 1-3
    window.last.setValue(window.first.minimum() + 3)
    window.settings.update({"variants": 2, "bars": 2, "seed": 11})   # a fixed seed: the same variants every run
    qtbot.waitUntil(lambda: daemon_settings(daemon)["variants"] == 2 and daemon_settings(daemon)["seed"] == 11,
                    timeout=5000)
    window.run_job()
    wait_for_variants(window, qtbot, 2, 90000)
    listen, browser = window.listen, window.browser
    assert listen.with_given_button.isEnabled() and listen.ab_button.isEnabled()

    # Space on the variants: the given bars then the new ones, as the speakers would get them
    qtbot.keyClick(browser, Qt.Key.Key_Space)
    assert window.player.playing and listen.stop_button.isEnabled()
    a = RecordingSink.made[-1]
    expected_a = render(measure_window(browser.items[0].applied.excerpt, 1, 6, 0, 0))
    assert expected_a.seconds == pytest.approx(5 * 1.8, abs=0.05)   # 3 given + 2 new bars of 3/4 at 100
    assert a.data == expected_a.pcm() and rms(expected_a.samples) > 500
    assert "variant 1, bars 2–6" in listen.status.text()

    # A/B: variant 2 from the same bar, shown as it is heard
    a.usecs = 2_500_000
    qtbot.keyClick(browser, Qt.Key.Key_B)
    b = RecordingSink.made[-1]
    assert a.stopped and b is not a
    assert browser.current == 1 and listen.passage.start == 1 and listen.passage.end == 6
    expected_b = render(measure_window(browser.items[1].applied.excerpt, 1, 6, 0, 0))
    assert b.data == expected_b.pcm()
    given = int(3 * 1.8 * expected_a.rate) * expected_a.channels * 2   # bytes of the 3 given bars
    assert b.data[:given // 2] == a.data[:given // 2], "both start on the same given bars"
    qtbot.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)   # and back to A
    assert browser.current == 0 and RecordingSink.made[-1].data == a.data

    # side by side, each variant has its own play button
    browser.set_side_by_side(True)
    qtbot.mouseClick(browser.cards[1].play, Qt.MouseButton.LeftButton)
    assert RecordingSink.made[-1].data == expected_b.pcm()
    browser.set_side_by_side(False)

    # the new bars alone, then stop
    qtbot.mouseClick(listen.alone_button, Qt.MouseButton.LeftButton)
    alone = RecordingSink.made[-1]
    assert alone.data == render(measure_window(browser.items[0].applied.excerpt, 4, 6, 0, 0)).pcm()
    qtbot.mouseClick(listen.stop_button, Qt.MouseButton.LeftButton)
    assert alone.stopped and not window.player.playing and not listen.stop_button.isEnabled()

    # the score's Play button plays from the range's first measure to the end
    qtbot.mouseClick(window.play_button, Qt.MouseButton.LeftButton)
    assert window.play_button.text() == "Stop"
    assert RecordingSink.made[-1].data == render(measure_window(window.score, 1, 4, 0, 0)).pcm()
    qtbot.mouseClick(window.play_button, Qt.MouseButton.LeftButton)
    assert not window.player.playing and window.play_button.text() == "Play"
