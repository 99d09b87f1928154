"""Notation speed: excerpt -> NotaGen ABC and ABC -> excerpt for a four-part, 100-bar excerpt.

Target: under 200 ms each way. The baseline, measured in the same run on the same score, is
music21's own MusicXML parse and MusicXML write.

    python bench/notation_speed.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def hundred_bar_chorale() -> dict:
    """Bach's BWV 66.6 (four voices), its full bars repeated to 100 measures."""
    from music21 import corpus

    from notabridge.notation import excerpt_from_musicxml
    from notabridge.notation.excerpt_base import copy_excerpt

    source = excerpt_from_musicxml(corpus.getWork("bach/bwv66.6"))
    full = [m for m in source["measures"] if "duration" not in m]
    measures = []
    for i in range(100):
        m = copy_excerpt(full[i % len(full)])
        m["index"], m["number"] = i, i + 1
        m.pop("tempo", None)
        measures.append(m)
    measures[0]["tempo"] = 96
    source["measures"] = measures
    return source


def timed(function, repeats: int) -> float:
    """Median wall time in milliseconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from music21 import converter
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    from notabridge.notation import abc_to_excerpt, excerpt_to_abc, excerpt_to_musicxml, validate_excerpt

    excerpt = hundred_bar_chorale()
    abc = excerpt_to_abc(excerpt)
    xml = excerpt_to_musicxml(excerpt)
    score = converter.parseData(xml, format="musicxml")
    assert abc.count("\n[V:1]") + abc.startswith("[V:1]") == 100

    to_abc_ms = timed(lambda: excerpt_to_abc(excerpt), args.repeats)
    from_abc_ms = timed(lambda: abc_to_excerpt(abc, template=excerpt), args.repeats)
    schema_ms = timed(lambda: validate_excerpt(excerpt), args.repeats)
    m21_parse_ms = timed(lambda: converter.parseData(xml, format="musicxml", forceSource=True), args.repeats)
    m21_write_ms = timed(lambda: GeneralObjectExporter(score).parse(), args.repeats)

    print(f"four-part excerpt, 100 bars, {sum(len(e.get('notes', [])) for m in excerpt['measures'] for s in m['staves'] for v in s['voices'] for e in v['events'])} notes; median of {args.repeats}")
    print(f"{'direction':34} {'ms':>8} {'target':>8}  vs baseline (music21 MusicXML)")
    print(f"{'excerpt -> NotaGen ABC':34} {to_abc_ms:8.1f} {'200':>8}  {m21_write_ms / to_abc_ms:5.2f}x faster than music21 write ({m21_write_ms:.1f} ms)")
    print(f"{'NotaGen ABC -> excerpt':34} {from_abc_ms:8.1f} {'200':>8}  {m21_parse_ms / from_abc_ms:5.2f}x faster than music21 parse ({m21_parse_ms:.1f} ms)")
    print(f"{'full JSON Schema validation':34} {schema_ms:8.1f} {'-':>8}  (run once on input by the front doors; not part of the above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
