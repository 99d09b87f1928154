// NotaBridge plugin library, shared by NotaBridge.qml (MuseScore 4) and NotaBridge3.qml (MuseScore 3):
// the score as the plugin sees it (measures, selection, reading the excerpt) and the daemon client.
// Writing results is write.js, the entry point and batch mode batch.js.
//
// Everything that touches the score goes through MuseScore's plugin API object `ms` (the plugin's
// root item: curScore, newElement, removeElement, cmd, writeScore, Element, division), passed in
// explicitly so these files stay plain libraries usable from both QML files.
// Exchange format: excerpt JSON v2 (docs/excerpt.md; score_marks.js reads what v2 adds); daemon API:
// docs/musescore.md.
.pragma library
.import "score_marks.js" as SM

var DEFAULT_DAEMON = "http://127.0.0.1:7878";
var START_HINT = "start it with `notabridge serve` in a terminal and keep that open (it prints its address, "
               + "\"HTTP JSON: http://...\"), or run `notabridge autostart install` once so it starts by itself; "
               + "if it runs at another address, type that address in the Daemon field";
var SETTINGS_FILE = "notabridge-settings.json";     // beside the plugin: {"daemon": "http://host:port"}
var VOICES = 4;

// ---------------------------------------------------------------- fractions

function gcd(a, b) { a = Math.abs(a); b = Math.abs(b); while (b) { var t = a % b; a = b; b = t; } return a || 1; }

function fraction(n, d) { var g = gcd(n, d); return (n / g) + "/" + (d / g); }

function parseFraction(text) {
    var parts = String(text).split("/");
    var n = parseInt(parts[0], 10), d = parts.length > 1 ? parseInt(parts[1], 10) : 1;
    if (!(n >= 0) || !(d > 0)) throw new Error("bad duration '" + text + "'");
    var g = gcd(n, d);
    return { n: n / g, d: d / g };
}

// FileIO for reading the score's own file (score_marks.js scoreFile); set by the entry point
function setFileIO(fio) { SM.setFileIO(fio); }

function wholeTicks(ms) { return ms.division * 4; }

function ticksOf(ms, f) { return Math.round(wholeTicks(ms) * f.n / f.d); }

function ticksToFraction(ms, ticks) { return fraction(ticks, wholeTicks(ms)); }

function isPowerOfTwo(x) { return x > 0 && (x & (x - 1)) === 0; }

// A duration a single note can show: 2^k, dotted or double-dotted (numerator 1, 3 or 7).
function isPlain(f) { return isPowerOfTwo(f.d) && (f.n === 1 || f.n === 3 || f.n === 7) && f.d >= f.n; }

function dotsOf(f) { return f.n === 3 ? 1 : (f.n === 7 ? 2 : 0); }

// Splits a duration into plain pieces (longest first), e.g. 5/8 -> 1/2 + 1/8.
function plainPieces(f) {
    var pieces = [], rest = { n: f.n, d: f.d };
    while (rest.n > 0) {
        var best = null;
        for (var d = 1; d <= 128 && !best; d *= 2) {
            var cands = [{ n: 7, d: d * 4 }, { n: 3, d: d * 2 }, { n: 1, d: d }];
            for (var i = 0; i < cands.length; i++) {
                var c = cands[i];
                if (isPlain(c) && c.n * rest.d <= rest.n * c.d) { best = c; break; }
            }
        }
        if (!best) throw new Error("cannot write a duration of " + f.n + "/" + f.d);
        var n = rest.n * best.d - best.n * rest.d, dd = rest.d * best.d, g = gcd(n, dd);
        pieces.push(best);
        rest = { n: n / g, d: dd / g };
    }
    return pieces;
}

// ---------------------------------------------------------------- score layout

// One row per measure: index, printed number, start/end ticks, nominal time signature.
function measureTable(ms) {
    var table = [], m = ms.curScore.firstMeasure, i = 0;
    var pickup = m && m.irregular;
    while (m) {
        var next = m.nextMeasure;
        var start = m.firstSegment.tick;
        // the last measure's end barline may not exist yet right after appendMeasures: use its length
        var len = m.timesigActual;
        var end = next ? next.firstSegment.tick
                       : (len ? start + ticksOf(ms, { n: len.numerator, d: len.denominator }) : m.lastSegment.tick);
        var ts = m.timesigNominal;
        table.push({ index: i, number: i + (pickup ? 0 : 1), start: start, end: end,
                     time: ts ? ts.numerator + "/" + ts.denominator : meterOfLength(ms, end - start), measure: m });
        m = next; i++;
    }
    return table;
}

// A meter for a measure length, for hosts that do not show plugins the time signature.
function meterOfLength(ms, ticks) {
    var quarter = ms.division, eighth = ms.division / 2;
    return ticks % quarter === 0 ? (ticks / quarter) + "/4" : Math.round(ticks / eighth) + "/8";
}

function measureAtTick(table, tick) {
    for (var i = 0; i < table.length; i++) if (tick >= table[i].start && tick < table[i].end) return i;
    return tick >= (table.length ? table[table.length - 1].end : 0) ? table.length : -1;
}

// The selected measures [start, end) and staves, from the score's range selection; null if none.
function selectionRange(ms, table) {
    var c = ms.curScore.newCursor();
    c.rewind(1);
    if (!c.segment) return null;
    var startTick = c.tick, staffStart = c.staffIdx;
    c.rewind(2);
    var endTick = c.segment ? c.tick : table[table.length - 1].end;
    var staffEnd = c.staffIdx + 1;
    var start = measureAtTick(table, startTick);
    var end = measureAtTick(table, Math.max(startTick, endTick - 1)) + 1;
    var staves = [];
    for (var s = staffStart; s < Math.max(staffEnd, staffStart + 1); s++) staves.push(s);
    return { start: start, end: Math.min(end, table.length), staves: staves };
}

// Makes a real range selection of measures [start, end) of staves firstStaff..lastStaff with
// MuseScore actions (3.2 lacks selection.selectRange), and checks it: throws a user message when
// the selection MuseScore made is not exactly that range. The order of the actions matters
// (probed on 3.2.3, ../shared/HOSTS.md): growing the range with select-next-measure overshoots by
// one chord when staff 1's chord or rest fills its bar; selecting to the end of the score and
// shrinking back from there does not. inCommand: an undo command (startCmd) is open and must stay
// open (see anchorSelection).
function selectMeasures(ms, start, end, lastStaff, firstStaff, inCommand) {
    firstStaff = firstStaff || 0;
    if (ms.curScore.selection.selectRange) {
        var table = measureTable(ms);
        ms.curScore.selection.selectRange(table[start].start, table[end - 1].end, firstStaff, lastStaff + 1);
        return;
    }
    anchorSelection(ms, inCommand);
    selectFromAnchor(ms, start, end, firstStaff, lastStaff);
}

// Selects a note or rest of the first measure of staff 1. "first-element" does, but it also ends an
// open undo command; inside one, note input is entered (which selects where input last was, or the
// score's first note) and left, and the selection walked back with actions that keep it open.
function anchorSelection(ms, inCommand) {
    if (!inCommand) { ms.cmd("first-element"); return; }
    ms.cmd("escape");
    ms.cmd("escape");
    ms.cmd("note-input");
    ms.cmd("escape");
    var table = measureTable(ms);
    for (var i = 0; i < 4 * ms.curScore.nstaves && selectedPlace(ms).track >= VOICES; i++) ms.cmd("prev-track");
    for (var j = 0; j < table.length + 1 && measureAtTick(table, selectedPlace(ms).tick) > 0; j++) ms.cmd("prev-measure");
    var at = selectedPlace(ms);
    if (at.track >= VOICES || measureAtTick(table, at.tick) !== 0)
        throw new Error("MuseScore did not move its selection to the first measure");
}

// Track and tick of the selected note or rest ({track: -1} when nothing is selected).
function selectedPlace(ms) {
    var els = ms.curScore.selection.elements;
    if (!els.length) return { track: -1, tick: -1 };
    // a note's chord (a grace chord's main chord) sits in a segment, which has the tick
    var el = els[0], up = el.parent;
    for (var i = 0; i < 4 && up && up.type !== ms.Element.SEGMENT; i++) up = up.parent;
    return { track: el.track, tick: up && up.type === ms.Element.SEGMENT ? up.tick : -1 };
}

function selectFromAnchor(ms, start, end, firstStaff, lastStaff) {
    var table = measureTable(ms);
    for (var t = 0; t < firstStaff; t++) ms.cmd("next-track");
    ms.cmd("next-measure");
    ms.cmd("prev-measure");
    for (var i = 0; i < start; i++) ms.cmd("next-measure");
    for (var s = firstStaff; s < lastStaff; s++) ms.cmd("select-staff-below");
    ms.cmd("select-end-score");
    for (var j = end; j < table.length; j++) ms.cmd("select-prev-measure");
    var got = selectionRange(ms, table);
    if (!got || got.start !== start || got.end !== end || got.staves[0] !== firstStaff || got.staves[got.staves.length - 1] !== lastStaff)
        throw new Error("MuseScore did not select exactly " + describeRange(table, { start: start, end: end, staves: [firstStaff, lastStaff] }) +
                        " (it selected " + (got ? describeRange(table, got) : "nothing") + "); nothing was changed." +
                        " If multi-measure rests are shown, turn them off (press M) and try again.");
}

function describeRange(table, sel) {
    var a = table[sel.start], b = table[Math.min(sel.end, table.length) - 1];
    var first = sel.staves[0] + 1, last = sel.staves[sel.staves.length - 1] + 1;
    return (sel.end - sel.start === 1 ? "measure " + (a ? a.number : "?") : "measures " + (a ? a.number : "?") + "-" + (b ? b.number : "?")) +
           (first === last ? " of staff " + first : " of staves " + first + "-" + last);
}

// Walks one track from the score start; calls visit(cursor) for every chord or rest.
function walkTrack(ms, track, visit) {
    var c = ms.curScore.newCursor();
    c.track = track;
    c.rewind(0);
    while (c.segment) {
        if (c.element && visit(c) === false) return;
        c.next();
    }
}

// A cursor on track at the exact tick of a voice-0 chord or rest of that staff.
function cursorAt(ms, staff, tick) {
    var c = ms.curScore.newCursor();
    c.track = staff * VOICES;
    if (c.rewindToTick) {
        c.rewindToTick(tick);
    } else {
        c.rewind(0);
        while (c.segment && c.tick < tick) c.next();
    }
    if (!c.segment || c.tick !== tick) throw new Error("no chord or rest at tick " + tick + " on staff " + (staff + 1));
    return c;
}

// ---------------------------------------------------------------- reading

function tieOf(note) {
    if (note.tieFor === undefined && note.tieBack === undefined) return undefined;   // MuseScore < 3.3
    var f = !!note.tieFor, b = !!note.tieBack;
    return f && b ? "continue" : (f ? "start" : (b ? "stop" : null));
}

function clefFor(pitches) {
    if (!pitches.length) return "treble";
    pitches.sort(function (a, b) { return a - b; });
    return pitches[Math.floor(pitches.length / 2)] < 60 ? "bass" : "treble";
}

// Reads measures [from, to) of every staff and voice into excerpt JSON v2.
// sel: {start, end, staves} is stored as the excerpt's selection. marks: SM.collect's (ties, slurs,
// articulations, flags, directions); without it only what the Cursor gives is read.
function readExcerpt(ms, table, from, to, sel, marks) {
    var score = ms.curScore, E = ms.Element;
    var warnings = [], warned = {};
    function warn(key, text) { if (!warned[key]) { warned[key] = true; warnings.push(text); } }
    var lo = table[from].start, hi = table[to - 1].end;
    var measures = [];
    for (var i = from; i < to; i++) {
        var row = table[i], len = row.end - row.start;
        var mj = { index: i, number: row.number, time: row.time, key: 0, staves: [] };
        var tf = parseFraction(row.time);
        if (ticksOf(ms, tf) !== len) mj.duration = ticksToFraction(ms, len);
        var bars = SM.measureBarlines(row.measure);
        for (var bk in bars) mj[bk] = bars[bk];
        measures.push(mj);
    }
    var staffPitches = [], keys = [], shifts = [], clefNotes = [], writtenNotes = [];
    for (var s = 0; s < score.nstaves; s++) {
        staffPitches.push([]);
        clefNotes.push([]);
        writtenNotes.push([]);
        keys.push([]);
        shifts.push(null);
        for (var mi = 0; mi < measures.length; mi++) measures[mi].staves.push({ staff: s, voices: [] });
        for (var v = 0; v < VOICES; v++) {
            var perMeasure = [];
            for (var k = 0; k < measures.length; k++) perMeasure.push([]);
            walkTrack(ms, s * VOICES + v, function (c) {
                if (c.tick >= hi) return false;
                if (c.tick < lo) return true;
                var idx = measureAtTick(table, c.tick) - from;
                var item = { tick: c.tick, el: c.element };
                if (v === 0 && !perMeasure[idx].length) keys[s][idx] = c.keySignature;
                if (shifts[s] === null && c.element.type === E.CHORD && c.element.notes[0].tpc1 !== undefined)
                    shifts[s] = c.element.notes[0].tpc2 - c.element.notes[0].tpc1;
                if (s === 0 && v === 0) {
                    var ann = c.segment.annotations || [];
                    for (var a = 0; a < ann.length; a++)
                        if (ann[a].type === E.TEMPO_TEXT && ann[a].tempo) measures[idx].tempo = Math.round(ann[a].tempo * 60);
                }
                perMeasure[idx].push(item);
                return true;
            });
            for (var m = 0; m < measures.length; m++) {
                var events = voiceEvents(ms, perMeasure[m], table[from + m], E, warn, staffPitches[s],
                                         { track: s * VOICES + v, marks: marks, clefNotes: clefNotes[s], writtenNotes: writtenNotes[s] });
                // voices 1-3 where they hold something (v2: rests too, as MusicXML has them)
                if (v === 0 || (marks ? perMeasure[m].length > 0 : events.some(function (e) { return e.type === "chord"; })))
                    measures[m].staves[s].voices.push({ voice: v, events: events });
            }
        }
    }
    // the key in concert pitch: from a staff that does not transpose, else undo staff 1's transposition
    // (the cursor gives a transposing staff's written key; tpc2 - tpc1 is its shift on the line of fifths)
    var ref = 0;
    for (var r = 0; r < shifts.length; r++) if (!shifts[r]) { ref = r; break; }
    for (var q = 0; q < measures.length; q++) {
        var written = keys[ref][q] !== undefined ? keys[ref][q] : 0;
        measures[q].key = Math.max(-7, Math.min(7, written - (shifts[ref] || 0)));
    }
    var parts = [], staves = [];
    for (var p = 0; p < score.parts.length; p++) {
        var part = score.parts[p], ids = [];
        for (var t = part.startTrack; t < part.endTrack; t += VOICES) ids.push(t / VOICES);
        if (part.hasDrumStaff) warn("drums", "percussion staves are read as plain notes: " + part.partName);
        parts.push({ id: "P" + (p + 1), name: part.longName || part.partName || ("Part " + (p + 1)),
                     abbreviation: part.shortName || "", staves: ids,
                     midi_program: part.midiProgram >= 0 && part.midiProgram <= 127 ? part.midiProgram : 0 });
        var transposed = transposition(writtenNotes[ids[0]]);
        if (transposed) {
            parts[parts.length - 1].transpose = transposed.transpose;
            for (var w = 0; w < ids.length; w++) {
                var lines = transposition(writtenNotes[ids[w]]);
                if (lines) clefNotes[ids[w]] = clefNotes[ids[w]].concat(lines.clefNotes);
            }
        }
        if (marks) {
            var order = voiceOrder(measures, ids);
            if (order) parts[parts.length - 1].voice_order = order;
        }
        for (var q = 0; q < ids.length; q++)
            staves.push({ index: ids[q], part: "P" + (p + 1),
                          clef: staffClefs(ms, table, from, measures, ids[q], clefNotes[ids[q]], marks) || clefFor(staffPitches[ids[q]] || []) });
    }
    if (marks) addDirections(ms, table, from, measures, marks.directions);
    var groups = marks && marks.file ? addFileMarks(measures, from, parts, marks.file) : [];
    var excerpt = { format: "notabridge-excerpt", version: 2, title: score.title || score.scoreName || "",
                    parts: parts, staves: staves, measures: measures,
                    selection: { start: sel.start, end: sel.end, staves: sel.staves }, warnings: warnings };
    if (marks) excerpt.beaming = "written";
    if (groups.length) excerpt.groups = groups;
    return excerpt;
}

// Key modes and voltas on the measures, and the brackets over parts as excerpt groups, from the
// score's file (SM.scoreFile). MuseScore's mode words are MusicXML's; "major" and "none" are left out.
function addFileMarks(measures, from, parts, file) {
    var mode = null;
    for (var i = 0; i <= from + measures.length - 1; i++) {
        if (file.modes[i] !== undefined) mode = file.modes[i];
        if (i < from) continue;
        var mj = measures[i - from];
        if (mode && mode !== "major" && mode !== "none") mj.mode = mode;
        var v = file.voltas[i];
        if (v) for (var k in v) mj[k] = v[k];
    }
    var partOf = {}, groups = [];
    for (var p = 0; p < parts.length; p++) for (var s = 0; s < parts[p].staves.length; s++) partOf[parts[p].staves[s]] = parts[p].id;
    for (var b = 0; b < file.brackets.length; b++) {
        var br = file.brackets[b], first = partOf[br.first], last = partOf[br.last];
        if (!first || !last || first === last) continue;          // a brace of one part's staves is the part's own
        groups.push({ first: first, last: last, symbol: br.symbol, barline: br.barline });
    }
    return groups;
}

// Dynamics, hairpins and text as measure directions, on the voice of the element's track (voice 0
// of its staff when that voice was not read), at its time in the measure.
function addDirections(ms, table, from, measures, directions) {
    for (var i = 0; i < directions.length; i++) {
        var d = directions[i], idx = measureAtTick(table, d.tick);
        // a hairpin that ends on a barline ends in the measure before it
        if (d.end && idx > 0 && idx <= table.length && (idx === table.length || table[idx].start === d.tick)) idx--;
        if (idx < from || idx - from >= measures.length) continue;
        var mj = measures[idx - from], staff = Math.floor(d.track / VOICES), voice = d.track % VOICES;
        var entry = null;
        for (var s = 0; s < mj.staves.length; s++) if (mj.staves[s].staff === staff) entry = mj.staves[s];
        if (!entry) continue;
        if (!entry.voices.some(function (x) { return x.voice === voice; })) voice = 0;
        var item = { staff: staff, voice: voice, at: d.tick > table[idx].start ? ticksToFraction(ms, d.tick - table[idx].start) : "0" };
        for (var k in d.item) item[k] = d.item[k];
        (mj.directions = mj.directions || []).push(item);
    }
    for (var m = 0; m < measures.length; m++) {
        var list = measures[m].directions;
        if (list) list.sort(function (a, b) {
            return a.staff - b.staff || parseFraction(a.at).n * parseFraction(b.at).d - parseFraction(b.at).n * parseFraction(a.at).d ||
                   directionRank(a) - directionRank(b);
        });
    }
}

// A transposing staff's transposition (MusicXML <transpose>: written -> sounding) from its notes:
// tpc2 - tpc1 (written - concert on the line of fifths) gives the interval up to octaves, and the
// octave is the one that puts the written notes on their staff lines under a clef (clefOfLines'
// sums). notes: [[tick, pitch, tpc1, tpc2, line]]; null when there are none or nothing fits.
function transposition(notes) {
    if (!notes.length) return null;
    var k = notes[0][3] - notes[0][2];
    var dia = ((4 * k) % 7 + 7) % 7, semis = ((7 * k) % 12 + 12) % 12;
    var best = null;
    var octaves = [0, -1, 1, -2];          // on a tie, the transposition within an octave
    for (var oi = 0; oi < octaves.length; oi++) {
        var o = octaves[oi], hits = 0;
        for (var i = 0; i < notes.length; i++)
            if (CLEF_SUMS[diatonicStep(notes[i][1], notes[i][2]) + dia + 7 * o + notes[i][4]]) hits++;
        if (!best || hits > best.hits) best = { o: o, hits: hits };
    }
    if (!best.hits) return null;
    var t = -(semis + 12 * best.o), d = -(dia + 7 * best.o), oc = t < 0 ? Math.ceil(t / 12) : Math.floor(t / 12);
    var clefNotes = notes.map(function (n) { return [n[0], diatonicStep(n[1], n[2]) + dia + 7 * best.o + n[4]]; });
    return { transpose: { diatonic: d - 7 * oc, chromatic: t - 12 * oc, octave_change: oc }, clefNotes: clefNotes };
}

// The order a part's voices first appear in, measure after measure, staff then voice within one
// (the order MuseScore's MusicXML export has them in, which xml2abc numbers ABC voices by); null
// when that is staff then voice order.
function voiceOrder(measures, staffIds) {
    var seen = [], flat = {};
    for (var m = 0; m < measures.length; m++)
        for (var s = 0; s < measures[m].staves.length; s++) {
            var entry = measures[m].staves[s];
            if (staffIds.indexOf(entry.staff) < 0) continue;
            for (var v = 0; v < entry.voices.length; v++) {
                var k = entry.staff + ":" + entry.voices[v].voice;
                if (!flat[k]) { flat[k] = true; seen.push([entry.staff, entry.voices[v].voice]); }
            }
        }
    var sorted = seen.slice().sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    for (var i = 0; i < seen.length; i++) if (seen[i][0] !== sorted[i][0] || seen[i][1] !== sorted[i][1]) return seen;
    return null;
}

// At one time MuseScore's MusicXML export (the order xml2abc writes them in) has a hairpin's end
// first, then dynamics, text, a hairpin's start, chord symbols.
function directionRank(d) {
    return d.wedge === "stop" ? 0 : d.dynamics ? 1 : d.words !== undefined ? 2 : d.wedge ? 3 : 4;
}

// The clef a staff starts with, from where its notes sit: a note's diatonic step (from pitch and
// spelling) plus its staff line (0: top line, in half spaces) is the same for every note under one
// clef: 38 for treble (F5 on the top line), 26 bass, 32 alto, 30 tenor, 31 treble 8vb.
var CLEF_SUMS = { 38: "treble", 26: "bass", 32: "alto", 30: "tenor", 31: "treble8vb", 36: "soprano" };

function diatonicStep(pitch, tpc) {
    var step = [3, 0, 4, 1, 5, 2, 6][((tpc + 1) % 7 + 7) % 7];
    var alter = Math.floor((tpc + 1) / 7) - 2;
    var octave = Math.floor((pitch - alter - [0, 2, 4, 5, 7, 9, 11][step]) / 12) - 1;
    return octave * 7 + step;
}

// The clef a staff starts the excerpt with; clef changes inside it are added to the measures
// (`clefs`). notes: [[tick, line sum]] of the staff's notes read; the changes' ticks come from the
// score's Clef elements (marks.clefChanges), their types from the notes after them.
function staffClefs(ms, table, from, measures, staff, notes, marks) {
    var ticks = [];
    if (marks) for (var i = 0; i < marks.clefChanges.length; i++)
        if (marks.clefChanges[i].staff === staff && ticks.indexOf(marks.clefChanges[i].tick) < 0) ticks.push(marks.clefChanges[i].tick);
    ticks.sort(function (a, b) { return a - b; });
    var regions = [];                 // per stretch between changes: votes of line sums
    for (var r = 0; r <= ticks.length; r++) regions.push({});
    for (var n = 0; n < notes.length; n++) {
        var k = 0;
        while (k < ticks.length && notes[n][0] >= ticks[k]) k++;
        regions[k][notes[n][1]] = (regions[k][notes[n][1]] || 0) + 1;
    }
    function clefOf(votes) {
        var best = null;
        for (var sum in votes) if (CLEF_SUMS[sum] && (!best || votes[sum] > votes[best])) best = sum;
        return best ? CLEF_SUMS[best] : null;
    }
    var lo = table[from].start, first = 0;
    while (first < ticks.length && ticks[first] <= lo) first++;
    // no note before the first change: the staff starts with the other of treble and bass
    if (!clefOf(regions[first]) && first < ticks.length) {
        var next = clefOf(regions[first + 1]);
        if (next === "treble" || next === "bass") regions[first][next === "treble" ? 26 : 38] = 1;
    }
    var current = clefOf(regions[first]);
    for (var c = first; c < ticks.length; c++) {
        var idx = measureAtTick(table, ticks[c]) - from, clef = clefOf(regions[c + 1]);
        if (idx < 0 || idx >= measures.length || !clef || clef === current) continue;
        var at = ticks[c] - table[from + idx].start;
        (measures[idx].clefs = measures[idx].clefs || []).push({ staff: staff, at: at ? ticksToFraction(ms, at) : "0", clef: clef });
        current = clef;
    }
    return clefOf(regions[first]);
}

// The chords and rests of one voice in one measure as excerpt events; gaps become rests.
// where: {track, marks (SM.collect's or null), clefVotes (staff line sums, see clefOfLines)}.
function voiceEvents(ms, items, row, E, warn, pitches, where) {
    var events = [], pos = row.start, marks = where.marks, beamed = [];
    for (var i = 0; i < items.length; i++) {
        var el = items[i].el, tick = items[i].tick;
        // a gap in a voice is filled with a rest that is not printed (MusicXML readers and xml2abc do the same)
        if (tick > pos) events.push(gapRest(ms, tick - pos, marks));
        // `duration` is the written value before 3.5 and the sounding one after; `globalDuration` (3.5+) is written.
        var written = el.globalDuration || el.duration;
        var nominal = ticksOf(ms, { n: written.numerator, d: written.denominator });
        var nextTick = i + 1 < items.length ? items[i + 1].tick : row.end;
        var actual = Math.min(nominal, nextTick - tick);
        if (actual <= 0) continue;
        var ev = { type: el.type === E.CHORD ? "chord" : "rest", duration: ticksToFraction(ms, actual) };
        var nf = parseFraction(fraction(nominal, wholeTicks(ms)));
        // a whole-measure rest lasts the measure but shows no dots
        var measureRest = el.type !== E.CHORD && tick === row.start && actual === row.end - row.start;
        if (dotsOf(nf) && !measureRest) ev.dots = dotsOf(nf);
        if (actual < nominal) {
            var g = gcd(actual, nominal);
            ev.tuplet = { actual: nominal / g, normal: actual / g };
        }
        var at = SM.key(where.track, tick);
        if (ev.type === "chord") {
            ev.notes = [];
            for (var n = 0; n < el.notes.length; n++) {
                var note = el.notes[n], tie = tieOf(note);
                if (tie === undefined) {      // 3.2: from the score's Tie elements
                    if (!marks) { tie = null; warn("ties", "this MuseScore version does not show ties to plugins: ties were not read"); }
                    else tie = tieFromMarks(marks, at, SM.key(where.track, tick + nominalTicks(ms, el)), note.pitch);
                }
                // tpc1 is the concert spelling (note.tpc follows the Concert Pitch button)
                var tpc = note.tpc1 !== undefined ? note.tpc1 : note.tpc;
                ev.notes.push({ pitch: note.pitch, tpc: tpc, tie: tie });
                pitches.push(note.pitch);
                if (note.line !== undefined && (note.tpc2 === undefined || note.tpc2 === tpc)) {
                    where.clefNotes.push([tick, diatonicStep(note.pitch, tpc) + note.line]);
                } else if (note.line !== undefined) {      // a transposing staff: the line shows the written note
                    where.writtenNotes.push([tick, note.pitch, tpc, note.tpc2, note.line]);
                }
            }
            ev.notes.sort(function (a, b) { return a.pitch - b.pitch; });
            var graces = graceGroups(ms, el, warn);
            if (graces.length) ev.grace = graces;
        } else if (el.visible === false) {
            ev.invisible = true;
        }
        if (marks) {
            if (marks.marks[at]) ev.marks = marks.marks[at].filter(function (x, i, all) { return all.indexOf(x) === i; });
            var slurs = {};
            if (marks.slurStart[at]) slurs.start = marks.slurStart[at];
            if (marks.slurStop[at] && ev.type === "chord") slurs.stop = marks.slurStop[at];
            if (slurs.start || slurs.stop) ev.slurs = slurs;
            // a chord shorter than a quarter without a flag is under a beam
            beamed.push(ev.type === "chord" && nominal < ms.division && !marks.hooks[at]
                        ? { onset: tick - row.start, mode: el.beamMode, short: nominal < ms.division / 2 } : null);
        }
        events.push(ev);
        pos = tick + actual;
    }
    if (pos < row.end) events.push(gapRest(ms, row.end - pos, marks && items.length));
    if (marks) markBeams(ms, events, beamed, row);
    markTupletGroups(ms, events);
    return events;
}

// Where each tuplet group starts and stops (excerpt v2 tuplet.start/.stop; 3.2 does not show
// plugins a chord's Tuplet): a group of n:m holds m of its first note's undotted value, so it ends
// once the time that much takes has passed, or before an event outside it.
function markTupletGroups(ms, events) {
    var open = -1, took = null, length = null;
    for (var i = 0; i < events.length; i++) {
        var t = events[i].tuplet;
        if (open >= 0 && (!t || t.actual !== events[open].tuplet.actual || t.normal !== events[open].tuplet.normal)) {
            events[i - 1].tuplet.stop = true;
            open = -1;
        }
        if (!t) continue;
        var d = parseFraction(events[i].duration);
        if (open < 0) {
            open = i;
            t.start = true;
            // its first note's written value (duration x actual / normal), undotted: 1/p; the group lasts normal/p
            var written = { n: d.n * t.actual, d: d.d * t.normal }, p = 1;
            while (written.n * p < written.d) p *= 2;
            length = { n: t.normal, d: p };
            took = { n: 0, d: 1 };
        }
        took = { n: took.n * d.d + d.n * took.d, d: took.d * d.d };
        if (took.n * length.d >= length.n * took.d) { t.stop = true; open = -1; }
    }
    if (open >= 0) events[events.length - 1].tuplet.stop = true;
}

function gapRest(ms, ticks, invisible) {
    var rest = { type: "rest", duration: ticksToFraction(ms, ticks) };
    if (invisible) rest.invisible = true;
    return rest;
}

function nominalTicks(ms, el) {
    var d = el.globalDuration || el.duration;
    return ticksOf(ms, { n: d.numerator, d: d.denominator });
}

// A note's tie from the score's Tie elements: started here (same pitch) and/or ending here.
function tieFromMarks(marks, at, after, pitch) {
    var f = (marks.tieStart[at] || []).indexOf(pitch) >= 0, b = (marks.tieStop[at] || []).indexOf(pitch) >= 0;
    return f && b ? "continue" : (f ? "start" : (b ? "stop" : null));
}

// Grace notes before a chord as excerpt groups ({notes, type, slash}); grace notes after one
// (noteType 32 and up) are left out with a warning.
var GRACE_TYPES = { 1: "whole", 2: "half", 4: "quarter", 8: "eighth", 16: "16th", 32: "32nd", 64: "64th" };

function graceGroups(ms, chord, warn) {
    var out = [], list = chord.graceNotes || [];
    for (var i = 0; i < list.length; i++) {
        var g = list[i], notes = [];
        var kind = g.notes.length ? g.notes[0].noteType : 0;
        if (kind >= 32) { warn("grace-after", "grace notes after a note were left out"); continue; }
        for (var n = 0; n < g.notes.length; n++)
            notes.push({ pitch: g.notes[n].pitch, tpc: g.notes[n].tpc1 !== undefined ? g.notes[n].tpc1 : g.notes[n].tpc });
        notes.sort(function (a, b) { return a.pitch - b.pitch; });
        var d = g.duration, group = { notes: notes, type: (d && d.numerator === 1 && GRACE_TYPES[d.denominator]) || "eighth" };
        if (kind === 1) group.slash = true;       // acciaccatura
        out.push(group);
    }
    return out;
}

// Beams over runs of flagless short chords (beamed[i]: {onset, mode, short} or null, per event
// before the gap rest, if any). MuseScore 3.2 does not show where a run splits into several beams:
// Chord.beamMode 1 (begin) splits, 2 (mid) joins, otherwise the time signature's default groups
// (eighths by half bar in 4/4, by bar in 2/4 and 3/4, by dotted quarter in compound meters;
// shorter notes by quarter) -- a split that would leave a chord alone under a beam is not made.
function markBeams(ms, events, beamed, row) {
    var chordEvents = events.filter(function (e) { return e.type === "chord" || e.type === "rest"; });
    var parts = String(row.time).split("/"), q = ms.division, groupE, groupS = q;
    var meter = { n: parseInt(parts[0], 10), d: parseInt(parts[1], 10) };      // not reduced: 4/4 is not 1/1
    if (meter.d === 8 && meter.n % 3 === 0) groupE = groupS = 3 * q / 2;
    else if (meter.d === 4 && (meter.n === 2 || meter.n === 3)) groupE = meter.n * q;
    else if (meter.d === 4 && meter.n === 4) groupE = 2 * q;
    else if (meter.d === 2) groupE = 2 * q;
    else groupE = q;
    var runs = [], run = [];
    for (var i = 0; i < beamed.length; i++) {
        var b = beamed[i];
        if (!b) { if (run.length) runs.push(run); run = []; continue; }
        var split = false;
        if (run.length) {
            var prev = beamed[run[run.length - 1]];
            if (b.mode === 1) split = true;
            else if (b.mode !== 2) {
                var g = b.short || prev.short ? groupS : groupE;
                split = b.onset % g === 0;
            }
        }
        if (split) { runs.push(run); run = []; }
        run.push(i);
    }
    if (run.length) runs.push(run);
    // join pieces of one beam that a split left alone (every flagless chord is under some beam)
    var joined = [];
    for (var r = 0; r < runs.length; r++) {
        var last = joined[joined.length - 1];
        var adjacent = last && runs[r][0] === last[last.length - 1] + 1;
        if (adjacent && (runs[r].length === 1 || last.length === 1)) { for (var k = 0; k < runs[r].length; k++) last.push(runs[r][k]); }
        else joined.push(runs[r].slice());
    }
    for (var j = 0; j < joined.length; j++) {
        var group = joined[j];
        if (group.length < 2) continue;
        for (var m = 0; m < group.length; m++)
            chordEvents[group[m]].beam = m === 0 ? "begin" : (m === group.length - 1 ? "end" : "continue");
    }
}

// The excerpt of the current selection plus context measures around it; throws a user message.
function readSelection(ms, options) {
    if (!ms.curScore) throw new Error("No score is open: open a score and select some measures first.");
    var table = measureTable(ms);
    var sel = selectionRange(ms, table);
    if (!sel || sel.start < 0 || sel.end <= sel.start)
        throw new Error("Nothing is selected: select one or more measures (click the first, shift-click the last), then run NotaBridge again.");
    var userStaves = sel.staves;
    if (options.staves && options.staves.length) sel.staves = options.staves;
    var before = options.contextBefore === undefined ? 16 : options.contextBefore;
    var after = options.contextAfter === undefined ? (options.mode === "infill" ? 4 : 0) : options.contextAfter;
    var from = Math.max(0, sel.start - before), to = Math.min(table.length, sel.end + after);
    // the marks need a selection of the whole score: read them, then select the user's range again
    var marks = null;
    if (options.marks !== false) {
        marks = SM.collect(ms);
        marks.file = SM.scoreFile(ms);
        // (where MuseScore cannot select the range exactly, e.g. under multi-measure rests, writing
        // says so when it selects the range itself; reading goes on)
        try { selectMeasures(ms, sel.start, sel.end, userStaves[userStaves.length - 1], userStaves[0]); } catch (e) { }
    }
    return readExcerpt(ms, table, from, to, sel, marks);
}

// ---------------------------------------------------------------- daemon (HTTP JSON)

// "9000", "localhost:9000", "http://10.0.0.5:7878/" -> "http://host:port" (port 7878 when none is
// given); null when the text is not such an address.
function normalizeAddress(text) {
    var t = String(text || "").trim().replace(/\/+$/, "");
    if (/^\d+$/.test(t)) t = "127.0.0.1:" + t;
    if (!/^https?:\/\//i.test(t)) t = "http://" + t;
    var m = /^(https?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(t);
    if (!m) return null;
    var port = m[3] ? parseInt(m[3], 10) : 7878;
    if (port < 1 || port > 65535) return null;
    return m[1].toLowerCase() + "://" + m[2] + ":" + port;
}

// The plugin's saved settings (a JSON file beside it: MuseScore 3 does not keep Qt.labs.settings
// changed by plugins, FileIO writes it does); {} when there are none or they cannot be read.
function loadSettings(fio, folder) {
    fio.source = folder + "/" + SETTINGS_FILE;
    if (!fio.exists()) return {};
    try { var s = JSON.parse(fio.read()); return s && typeof s === "object" ? s : {}; } catch (e) { return {}; }
}

function saveSettings(fio, folder, settings) {
    fio.source = folder + "/" + SETTINGS_FILE;
    return fio.write(JSON.stringify(settings, null, 1));
}

function daemonError(base, xhr) {
    if (xhr.status === 0) return "The NotaBridge daemon is not running at " + base + ": " + START_HINT + ".";
    var text = "";
    try { text = JSON.parse(xhr.responseText).error; } catch (e) { text = xhr.responseText; }
    return "The daemon answered HTTP " + xhr.status + ": " + (text || xhr.statusText);
}

// Synchronous request (the only kind that runs in `mscore3 -p`); returns the parsed JSON.
function requestSync(base, method, path, body) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, base + path, false);
    xhr.setRequestHeader("Content-Type", "application/json");
    try { xhr.send(body === undefined ? null : JSON.stringify(body)); }
    catch (e) { throw new Error("The NotaBridge daemon is not running at " + base + ": " + START_HINT + "."); }
    if (xhr.status < 200 || xhr.status >= 300) throw new Error(daemonError(base, xhr));
    return JSON.parse(xhr.responseText);
}

// Asynchronous request for the dialog: done(error, json).
function request(base, method, path, body, done) {
    var xhr = new XMLHttpRequest();
    xhr.onreadystatechange = function () {
        if (xhr.readyState !== XMLHttpRequest.DONE) return;
        if (xhr.status >= 200 && xhr.status < 300) {
            var json = null;
            try { json = JSON.parse(xhr.responseText); } catch (e) { done("The daemon sent an answer that is not JSON.", null); return; }
            done(null, json);
        } else {
            done(daemonError(base, xhr), null);
        }
    };
    xhr.open(method, base + path, true);
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.send(body === undefined ? null : JSON.stringify(body));
}

// The POST /jobs body for an excerpt and the dialog's or batch file's settings.
function jobBody(mode, excerpt, settings) {
    var body = { mode: mode, excerpt: excerpt, settings: {} };
    var known = ["temperature", "top_k", "top_p", "seed", "order"];
    for (var i = 0; i < known.length; i++)
        if (settings[known[i]] !== undefined && settings[known[i]] !== null) body.settings[known[i]] = settings[known[i]];
    if (settings.bars) body.bars = settings.bars;
    if (settings.variants) body.variants = settings.variants;
    if (settings.prompt) body.prompt = settings.prompt;
    if (mode === "accompany") body.staves = excerpt.selection.staves;
    return body;
}

// " Warning: 4 bars ... are the same as ..." when a variant copies 2 bars or more (its `originality`).
function originalityText(originality) {
    return originality && originality.warning ? " Warning: " + originality.warning + "." : "";
}

// "1. Baroque / Bach, Johann Sebastian / Choral, 2. ..." for a /suggest answer's "suggestions" object.
function suggestionText(answer) {
    var items = (answer && answer.suggestions) || [];
    if (!items.length) return "The model suggested no style.";
    return "Styles that fit the selection best: " + items.map(function (s, i) { return (i + 1) + ". " + s.prompt.join(" / "); }).join(", ") + ".";
}

function busyWait(ms) { var until = Date.now() + ms; while (Date.now() < until) { } }

// Runs a job to the end with synchronous requests (batch mode); returns the result JSON.
function runJobSync(base, body, timeoutSeconds) {
    var job = requestSync(base, "POST", "/jobs", body);
    var deadline = Date.now() + 1000 * (timeoutSeconds || 600);
    while (true) {
        var st = requestSync(base, "GET", "/jobs/" + job.id);
        if (st.status === "done") break;
        if (st.status === "error") throw new Error("The job failed: " + (st.error || "no reason given") + ". The score was not changed.");
        if (st.status === "cancelled") throw new Error("The job was cancelled. The score was not changed.");
        if (Date.now() > deadline) {
            try { requestSync(base, "POST", "/jobs/" + job.id + "/cancel", {}); } catch (e) { }
            throw new Error("The job took longer than " + (timeoutSeconds || 600) + " s and was cancelled. The score was not changed.");
        }
        busyWait(250);    // no timers run in `mscore3 -p`, and QML has no sleep
    }
    return requestSync(base, "GET", "/jobs/" + job.id + "/result?formats=excerpt");
}

// ---------------------------------------------------------------- files

function stripExtension(path) {
    var dot = path.lastIndexOf("."), slash = path.lastIndexOf("/");
    return dot > slash ? { base: path.substring(0, dot), ext: path.substring(dot + 1) } : { base: path, ext: "mscx" };
}

// The plugin's folder: MuseScore's filePath, else the header's own folder URL (Qt.resolvedUrl(".")).
function pluginFolder(ms, folderUrl) {
    if (ms.filePath) return String(ms.filePath);
    var path = decodeURIComponent(String(folderUrl || "").replace(/^file:\/\//, "")).replace(/\/$/, "");
    return /^\/[A-Za-z]:/.test(path) ? path.substring(1) : path;      // file:///C:/... on Windows
}
