"""The daemon's HTTP JSON door, on the real engine with the toy bundle (a tiny model trained on a two-voice 3/4 style)."""
from __future__ import annotations

import base64
import io
import time

import pytest

from tests.daemon_helpers import http_request, running_daemon, toy_excerpt, wait_for_job


def test_health_and_capabilities_describe_the_loaded_model(daemon):
    status, health = http_request(daemon, "GET", "/health")
    assert status == 200 and health["ok"] is True
    assert health["model"] == "toy-two-voices" and health["provider"] == "CPUExecutionProvider"
    status, caps = http_request(daemon, "GET", "/capabilities")
    assert status == 200
    assert caps["prompts"] == [["Baroque", "Bach, Johann Sebastian", "Choral"]]
    assert set(caps["modes"]) == {"generate", "continue", "infill", "accompany", "suggest"}
    assert caps["settings"]["temperature"]["max"] >= caps["settings"]["temperature"]["default"]
    assert caps["limits"]["max_bars"] >= 4


def test_settings_change_is_all_or_nothing(daemon):
    before = http_request(daemon, "GET", "/settings")[1]
    status, after = http_request(daemon, "POST", "/settings", {"temperature": 0.8, "top_k": 5})
    assert status == 200 and after["temperature"] == 0.8 and after["top_k"] == 5
    assert http_request(daemon, "GET", "/settings")[1] == after
    status, body = http_request(daemon, "POST", "/settings", {"top_p": 0.5, "temperature": 99})
    assert status == 400 and "temperature" in body["error"]
    assert http_request(daemon, "GET", "/settings")[1]["top_p"] == after["top_p"]   # nothing applied
    http_request(daemon, "POST", "/settings", {k: before[k] for k in ("temperature", "top_k")})


def test_continue_job_returns_variants_in_every_format(daemon):
    status, queued = http_request(daemon, "POST", "/jobs", {"mode": "continue", "excerpt": toy_excerpt(),
                                                             "bars": 1, "variants": 2, "settings": {"seed": 3}})
    assert status == 202 and queued["status"] == "queued"
    final = wait_for_job(daemon, queued["id"])
    assert final["status"] == "done", final
    assert final["progress"]["bars_done"] == final["progress"]["bars_total"] == 2   # 1 bar x 2 variants
    status, result = http_request(daemon, "GET", f"/jobs/{queued['id']}/result")
    assert status == 200 and len(result["variants"]) == 2
    for variant in result["variants"]:
        assert variant["excerpt"]["format"] == "notabridge-excerpt"
        assert variant["excerpt"]["measures"][0]["index"] == 2      # the bar after the excerpt
        assert "|" in variant["abc"]
        assert "<score-partwise" in variant["musicxml"]
    assert result["provider"] == "CPUExecutionProvider"
    status, only_abc = http_request(daemon, "GET", f"/jobs/{queued['id']}/result?formats=abc")
    assert status == 200 and "musicxml" not in only_abc["variants"][0] and only_abc["variants"][0]["abc"]


def test_refuses_web_pages_and_foreign_host_names(daemon):
    status, body = http_request(daemon, "GET", "/health", headers={"Origin": "http://example.com"})
    assert status == 403 and "web pages" in body["error"]
    status, body = http_request(daemon, "GET", "/health", headers={"Host": "evil.example:7878"})
    assert status == 403 and "Host" in body["error"]
    assert http_request(daemon, "GET", "/health", headers={"Host": "localhost:7878"})[0] == 200
    # a cross-origin preflight is refused as well
    assert http_request(daemon, "OPTIONS", "/jobs", headers={"Origin": "http://example.com"})[0] == 403


@pytest.mark.parametrize("job, fragment", [
    ({"mode": "continue", "excerpt": toy_excerpt(), "bars": 1000}, "bars"),
    ({"mode": "continue", "excerpt": toy_excerpt(), "variants": 50}, "variants"),
    ({"mode": "sing"}, "mode"),
    ({"mode": "continue", "excerpt": "/etc/passwd"}, "excerpt"),
    ({"mode": "continue", "excerpt": toy_excerpt(), "output": "/tmp/x.musicxml"}, "unknown"),
    ({"mode": "accompany", "excerpt": toy_excerpt()}, "staves"),
    ({"mode": "continue", "excerpt": {**toy_excerpt(), "measures": []}}, "measures"),
])
def test_bad_jobs_are_refused_with_a_reason(daemon, job, fragment):
    status, body = http_request(daemon, "POST", "/jobs", job)
    assert status == 400 and fragment in body["error"]


def _smf(notes: list[tuple[int, int, int]] = ()) -> str:
    """A one-track Standard MIDI File in base64 (480 ticks a quarter), notes as (start, end, pitch) ticks."""
    import mido

    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    events = sorted([(s, 1, p) for s, _, p in notes] + [(e, 0, p) for _, e, p in notes])
    now = 0
    for tick, on, pitch in events:
        track.append(mido.Message("note_on", note=pitch, velocity=80 if on else 0, time=tick - now))
        now = tick
    out = io.BytesIO()
    midi.save(file=out)
    return base64.b64encode(out.getvalue()).decode()


@pytest.mark.parametrize("job, fragment", [
    ({"mode": "accompany", "midi": "not a MIDI file"}, "Standard MIDI File"),
    ({"mode": "accompany", "midi": base64.b64encode(b"RIFF....").decode()}, "Standard MIDI File"),
    ({"mode": "continue", "midi": _smf()}, '"mode": "accompany"'),
    ({"mode": "accompany", "voices": 2}, '"midi"'),
    ({"mode": "accompany", "midi": _smf(), "voices": 9}, "voices must be from 1 to 8"),
    ({"mode": "accompany", "midi": _smf(), "excerpt": toy_excerpt(), "staves": [1]}, "not both"),
])
def test_a_melody_sent_as_midi_is_checked_at_the_door(daemon, job, fragment):
    status, body = http_request(daemon, "POST", "/jobs", job)
    assert status == 400 and fragment in body["error"], body


def test_a_midi_melody_without_notes_ends_the_job_with_what_to_do(daemon):
    status, queued = http_request(daemon, "POST", "/jobs", {"mode": "accompany", "midi": _smf(), "voices": 1})
    assert status == 202
    final = wait_for_job(daemon, queued["id"])
    assert final["status"] == "error" and "no notes" in final["error"] and "record or draw" in final["error"]


def test_bodies_are_bounded_and_must_be_json(daemon):
    status, body = http_request(daemon, "POST", "/jobs", raw=b"x" * 10, headers={"Content-Length": "3000000"})
    assert status == 413
    assert http_request(daemon, "POST", "/jobs", raw=b"{not json")[0] == 400
    assert http_request(daemon, "GET", "/jobs/nope")[0] == 404
    assert http_request(daemon, "GET", "/no/such/thing")[0] == 404
    assert http_request(daemon, "GET", "/health")[0] == 200


def test_cancel_mid_job_and_full_queue_answers_busy(toy_bundle):
    with running_daemon(toy_bundle, max_queued=2) as daemon:
        job = {"mode": "generate", "bars": 32, "settings": {"seed": 1}}
        ids, busy = [], []
        for _ in range(6):
            status, body = http_request(daemon, "POST", "/jobs", job)
            (ids if status == 202 else busy).append(body)
        assert busy and all(b["status"] == "busy" and "busy" in b["error"] for b in busy)
        first = ids[0]["id"]
        deadline = time.monotonic() + 30
        while http_request(daemon, "GET", f"/jobs/{first}")[1]["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for item in ids:
            status, body = http_request(daemon, "POST", f"/jobs/{item['id']}/cancel")
            assert status == 200
        for item in ids:
            assert wait_for_job(daemon, item["id"])["status"] == "cancelled"
        status, body = http_request(daemon, "GET", f"/jobs/{first}/result")
        assert status == 409 and body["status"] == "cancelled"
        assert http_request(daemon, "GET", "/health")[1]["queue"] == 0


def test_host_policy_when_listening_beyond_loopback():
    from notabridge.daemon.http_server import host_is_allowed

    # loopback only: names other than localhost and addresses other than loopback are refused
    assert host_is_allowed("127.0.0.1:7878", set()) and host_is_allowed("[::1]:7878", set())
    assert not host_is_allowed("192.168.1.20:7878", set())
    # --listen 0.0.0.0: the machine's addresses are fine, names (DNS rebinding) still are not
    assert host_is_allowed("192.168.1.20:7878", {"0.0.0.0"}, any_address=True)
    assert not host_is_allowed("attacker.example:7878", {"0.0.0.0"}, any_address=True)
