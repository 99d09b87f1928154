// NotaBridge plugin logic, shared by NotaBridge.qml (MuseScore 4) and NotaBridge3.qml (MuseScore 3).
//
// Everything that touches the score goes through MuseScore's plugin API object `ms` (the plugin's
// root item: curScore, newElement, removeElement, cmd, writeScore, Element, division), passed in
// explicitly so this file stays a plain library usable from both QML files.
// Exchange format: excerpt JSON v1 (docs/excerpt.md); daemon API: docs/musescore.md.
.pragma library

var DEFAULT_DAEMON = "http://127.0.0.1:7878";
var START_HINT = "start it with `notabridge serve` in a terminal";
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

// Makes a real range selection of measures [start, end) from staff 0 to lastStaff with MuseScore
// actions (works on 3.2, which lacks selection.selectRange).
function selectMeasures(ms, start, end, lastStaff) {
    if (ms.curScore.selection.selectRange) {
        var table = measureTable(ms);
        ms.curScore.selection.selectRange(table[start].start, table[end - 1].end, 0, lastStaff + 1);
        return;
    }
    ms.cmd("first-element");
    ms.cmd("next-measure");
    ms.cmd("prev-measure");
    for (var i = 0; i < start; i++) ms.cmd("next-measure");
    for (var j = start; j < end; j++) ms.cmd("select-next-measure");
    for (var s = 0; s < lastStaff; s++) ms.cmd("select-staff-below");
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

// Reads measures [from, to) of every staff and voice into excerpt JSON v1.
// sel: {start, end, staves} is stored as the excerpt's selection.
function readExcerpt(ms, table, from, to, sel) {
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
        measures.push(mj);
    }
    var staffPitches = [], keys = [], shifts = [];
    for (var s = 0; s < score.nstaves; s++) {
        staffPitches.push([]);
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
                var events = voiceEvents(ms, perMeasure[m], table[from + m], E, warn, staffPitches[s]);
                if (v === 0 || events.some(function (e) { return e.type === "chord"; }))
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
        for (var q = 0; q < ids.length; q++)
            staves.push({ index: ids[q], part: "P" + (p + 1), clef: clefFor(staffPitches[ids[q]] || []) });
    }
    return { format: "notabridge-excerpt", version: 1, title: score.title || score.scoreName || "",
             parts: parts, staves: staves, measures: measures,
             selection: { start: sel.start, end: sel.end, staves: sel.staves }, warnings: warnings };
}

// The chords and rests of one voice in one measure as excerpt events; gaps become rests.
function voiceEvents(ms, items, row, E, warn, pitches) {
    var events = [], pos = row.start;
    for (var i = 0; i < items.length; i++) {
        var el = items[i].el, tick = items[i].tick;
        if (tick > pos) events.push({ type: "rest", duration: ticksToFraction(ms, tick - pos) });
        // `duration` is the written value before 3.5 and the sounding one after; `globalDuration` (3.5+) is written.
        var written = el.globalDuration || el.duration;
        var nominal = ticksOf(ms, { n: written.numerator, d: written.denominator });
        var nextTick = i + 1 < items.length ? items[i + 1].tick : row.end;
        var actual = Math.min(nominal, nextTick - tick);
        if (actual <= 0) continue;
        var ev = { type: el.type === E.CHORD ? "chord" : "rest", duration: ticksToFraction(ms, actual) };
        var nf = parseFraction(fraction(nominal, wholeTicks(ms)));
        if (dotsOf(nf)) ev.dots = dotsOf(nf);
        if (actual < nominal) {
            var g = gcd(actual, nominal);
            ev.tuplet = { actual: nominal / g, normal: actual / g };
        }
        if (ev.type === "chord") {
            ev.notes = [];
            for (var n = 0; n < el.notes.length; n++) {
                var note = el.notes[n], tie = tieOf(note);
                if (tie === undefined) { tie = null; warn("ties", "this MuseScore version does not show ties to plugins: ties were not read"); }
                // tpc1 is the concert spelling (note.tpc follows the Concert Pitch button)
                ev.notes.push({ pitch: note.pitch, tpc: note.tpc1 !== undefined ? note.tpc1 : note.tpc, tie: tie });
                pitches.push(note.pitch);
            }
            ev.notes.sort(function (a, b) { return a.pitch - b.pitch; });
            if (el.graceNotes && el.graceNotes.length) warn("grace", "grace notes were left out");
        }
        events.push(ev);
        pos = tick + actual;
    }
    if (pos < row.end) events.push({ type: "rest", duration: ticksToFraction(ms, row.end - pos) });
    return events;
}

// The excerpt of the current selection plus context measures around it; throws a user message.
function readSelection(ms, options) {
    if (!ms.curScore) throw new Error("No score is open: open a score and select some measures first.");
    var table = measureTable(ms);
    var sel = selectionRange(ms, table);
    if (!sel || sel.start < 0 || sel.end <= sel.start)
        throw new Error("Nothing is selected: select one or more measures (click the first, shift-click the last), then run NotaBridge again.");
    if (options.staves && options.staves.length) sel.staves = options.staves;
    var before = options.contextBefore === undefined ? 16 : options.contextBefore;
    var after = options.contextAfter === undefined ? (options.mode === "infill" ? 4 : 0) : options.contextAfter;
    var from = Math.max(0, sel.start - before), to = Math.min(table.length, sel.end + after);
    return readExcerpt(ms, table, from, to, sel);
}

// ---------------------------------------------------------------- writing

function measureIsEmpty(ms, row) {
    var empty = true;
    for (var t = 0; t < ms.curScore.ntracks && empty; t++) {
        walkTrack(ms, t, function (c) {
            if (c.tick >= row.end) return false;
            if (c.tick >= row.start && c.element.type === ms.Element.CHORD) { empty = false; return false; }
            return true;
        });
    }
    return empty;
}

// Checks a result excerpt against the score before anything is touched; returns the plan:
// which result measure goes to which score measure and how many measures must be made.
function planWrite(ms, table, result, job) {
    var errors = [];
    if (!result || result.format !== "notabridge-excerpt" || !result.measures || !result.measures.length)
        throw new Error("The daemon's answer holds no measures to write.");
    var measures = result.measures.slice().sort(function (a, b) { return a.index - b.index; });
    var sel = job.selection, staves = null, targets = [], insertAt = -1, make = 0;
    if (job.mode === "continue") {
        var free = 0;
        while (free < measures.length && sel.end + free < table.length && measureIsEmpty(ms, table[sel.end + free])) free++;
        make = measures.length - free;
        insertAt = sel.end + free;      // == table.length means append at the end
        var lastTime = table[sel.end - 1].time;
        for (var i = 0; i < measures.length; i++) {
            var at = sel.end + i;
            var want = at < table.length && i < free ? table[at].end - table[at].start
                                                     : ticksOf(ms, parseFraction(lastTime));
            targets.push({ index: at, ticks: want, data: measures[i] });
        }
    } else {
        // infill rewrites the selected staves (the daemon keeps the others as given), accompany the chosen ones
        staves = job.staves && job.staves.length ? job.staves : sel.staves;
        for (var j = 0; j < measures.length; j++) {
            var idx = measures[j].index;
            if (!(idx >= sel.start && idx < sel.end))
                errors.push("result measure " + idx + " lies outside the selected measures " + sel.start + "-" + (sel.end - 1));
            else targets.push({ index: idx, ticks: table[idx].end - table[idx].start, data: measures[j] });
        }
    }
    for (var k = 0; k < targets.length; k++) {
        var tg = targets[k], st = tg.data.staves || [];
        for (var s = 0; s < st.length; s++) {
            if (st[s].staff < 0 || st[s].staff >= ms.curScore.nstaves) { errors.push("result names staff " + st[s].staff + ", the score has " + ms.curScore.nstaves); continue; }
            var vs = st[s].voices || [];
            for (var v = 0; v < vs.length; v++) {
                var sum = 0;
                try {
                    for (var e = 0; e < vs[v].events.length; e++) sum += ticksOf(ms, parseFraction(vs[v].events[e].duration));
                } catch (err) { errors.push(String(err.message)); continue; }
                if (sum !== tg.ticks)
                    errors.push("result measure " + tg.data.index + " staff " + st[s].staff + " voice " + vs[v].voice +
                                " lasts " + ticksToFraction(ms, sum) + " but the score's measure lasts " + ticksToFraction(ms, tg.ticks));
            }
        }
    }
    if (errors.length) throw new Error("The result does not fit the score, nothing was changed: " + errors.join("; "));
    return { targets: targets, insertAt: insertAt, make: make, staves: staves };
}

// Groups events into write units: plain events, or tuplet groups that end back on the regular grid.
function writeUnits(events) {
    var units = [], group = null;
    for (var i = 0; i < events.length; i++) {
        var ev = events[i], f = parseFraction(ev.duration);
        if (!ev.tuplet) { units.push({ events: [ev], span: f }); continue; }
        if (!group) group = { events: [], span: { n: 0, d: 1 }, tuplet: ev.tuplet };
        group.events.push(ev);
        var n = group.span.n * f.d + f.n * group.span.d, d = group.span.d * f.d, g = gcd(n, d);
        group.span = { n: n / g, d: d / g };
        if (isPowerOfTwo(group.span.d)) { units.push(group); group = null; }
    }
    if (group) units.push(group);
    return units;
}

// Writes one voice of one measure at tick; returns the {tick, event} list for the finishing pass.
// Puts cursor c (or a new one) on staff/voice exactly at tick inside the measure starting at
// measureStart. MuseScore's own advance after addNote is not trusted: in voices 2-4 it can skip a
// position or run into the next measure.
function seek(ms, c, staff, voice, tick, measureStart) {
    if (c && c.segment && c.track === staff * VOICES + voice && c.tick === tick) return c;
    if (!c || !c.segment || c.track !== staff * VOICES + voice || c.tick > tick) {
        c = cursorAt(ms, staff, measureStart);      // voice 0 always has a chord or rest there
        c.voice = voice;
    }
    while (c.segment && c.tick < tick) c.next();
    if (!c.segment || c.tick !== tick)
        throw new Error("cannot place the cursor at tick " + tick + " of staff " + (staff + 1) + " voice " + (voice + 1));
    return c;
}

function writeVoice(ms, staff, voice, tick, events, warn) {
    var c = seek(ms, null, staff, voice, tick, tick);
    var placed = [], pos = tick;
    function put(ev, f) {
        c = seek(ms, c, staff, voice, pos, tick);
        c.setDuration(f.n, f.d);
        if (ev.type === "chord") c.addNote(ev.notes[0].pitch);
        else if (c.addRest) c.addRest();
        else c.addNote(60);        // placeholder chord, turned into a rest by finishVoice (MuseScore < 3.5)
        placed.push({ tick: pos, event: ev });
        pos += ticksOf(ms, f);
    }
    var units = writeUnits(events);
    for (var u = 0; u < units.length; u++) {
        var unit = units[u];
        if (unit.tuplet && c.addTuplet) {
            var t = unit.tuplet;
            c = seek(ms, c, staff, voice, pos, tick);
            c.addTuplet(ms.fraction(t.actual, t.normal), ms.fraction(unit.span.n, unit.span.d));
            for (var k = 0; k < unit.events.length; k++) {
                var f = parseFraction(unit.events[k].duration);
                var nominal = parseFraction(fraction(f.n * t.actual, f.d * t.normal));
                c.setDuration(nominal.n, nominal.d);
                var ev = unit.events[k];
                if (ev.type === "chord") c.addNote(ev.notes[0].pitch); else c.addRest();
                placed.push({ tick: pos, event: ev });
                pos += ticksOf(ms, f);
            }
            continue;
        }
        var first = unit.events[0];
        if (unit.tuplet) {
            // No Cursor.addTuplet before MuseScore 3.5: the group becomes one chord of its length.
            warn("tuplet", "this MuseScore version cannot write tuplets from a plugin: each tuplet was written as one chord of the same length");
            for (var x = 0; x < unit.events.length; x++) if (unit.events[x].type === "chord") { first = unit.events[x]; break; }
        }
        var pieces = plainPieces(unit.span);
        for (var p = 0; p < pieces.length; p++) put(first, pieces[p]);
    }
    return placed;
}

// Second pass over what writeVoice placed: spelling, the other notes of each chord, rests, ties.
function finishVoice(ms, staff, voice, start, end, placed, warn) {
    var byTick = {};
    walkTrack(ms, staff * VOICES + voice, function (c) {
        if (c.tick >= end) return false;
        if (c.tick >= start) byTick[c.tick] = c.element;
        return true;
    });
    var ties = [];
    for (var i = 0; i < placed.length; i++) {
        var el = byTick[placed[i].tick], ev = placed[i].event;
        if (!el) continue;
        if (ev.type === "rest") {
            if (el.type === ms.Element.CHORD) ms.removeElement(el);
            continue;
        }
        if (el.type !== ms.Element.CHORD) continue;
        var first = el.notes[0];
        // the staff's transposition, as MuseScore spelled the note it wrote (0 for concert-pitch staves)
        var shift = first.tpc2 - first.tpc1;
        setSpelling(first, ev.notes[0].tpc, shift);
        for (var n = 1; n < ev.notes.length; n++) {
            var note = ms.newElement(ms.Element.NOTE);
            note.pitch = ev.notes[n].pitch;
            el.add(note);
            setSpelling(note, ev.notes[n].tpc, shift);
        }
        for (var k = 0; k < ev.notes.length; k++)
            if (ev.notes[k].tie === "start" || ev.notes[k].tie === "continue") ties.push({ chord: el, pitch: ev.notes[k].pitch });
    }
    return ties;
}

// Concert spelling tpc; the written one (tpc2) keeps the staff's transposition.
function setSpelling(note, tpc, shift) {
    if (tpc === undefined || tpc === null) return;
    note.tpc1 = tpc;
    note.tpc2 = tpc + shift;
}

// Ties the written notes that start a tie to the next note of the same pitch, all with one "tie"
// command (MuseScore 3.5+ and 4 let plugins select notes); returns the undo steps it took.
function addTies(ms, ties, warn) {
    if (!ties.length) return 0;
    var sel = ms.curScore.selection;
    if (!(sel.select && sel.clear)) {
        warn("ties-w", "this MuseScore version cannot add ties from a plugin: tied notes were written as repeated notes");
        return 0;
    }
    sel.clear();
    for (var i = 0; i < ties.length; i++) {
        var notes = ties[i].chord.notes;
        for (var n = 0; n < notes.length; n++)
            if (notes[n].pitch === ties[i].pitch && !notes[n].tieFor) sel.select(notes[n], true);
    }
    ms.cmd("tie");
    sel.clear();
    return 1;
}

// Removes every chord and rest of voices 1-3 of a staff in a measure (so a written measure holds
// exactly the result's voices).
function clearUpperVoices(ms, staff, row) {
    for (var v = 1; v < VOICES; v++) {
        var found = [];
        walkTrack(ms, staff * VOICES + v, function (c) {
            if (c.tick >= row.end) return false;
            if (c.tick >= row.start) found.push(c.element);
            return true;
        });
        for (var i = 0; i < found.length; i++) ms.removeElement(found[i]);
    }
}

// Inserts `count` empty measures before measure `at` with MuseScore's own command (the plugin API
// of MuseScore 3 cannot insert measures). Each insertion is an undo step of its own: a cmd() run
// inside the plugin's startCmd/endCmd would end that command early, so this runs before it.
function insertMeasures(ms, at, count) {
    var table = measureTable(ms);
    selectMeasures(ms, at, at + 1, 0);
    for (var i = 0; i < count; i++) ms.cmd("insert-measure");
    var made = measureTable(ms).length - table.length;
    if (made !== count) {
        for (var j = 0; j < made; j++) ms.cmd("undo");
        throw new Error("MuseScore did not insert the empty measures needed before measure " + table[at].number);
    }
}

// Writes a result excerpt into the open score. job: {mode, selection, staves}. Returns
// {written: [score measure indices], warnings, undoSteps}: the edit is one undo step, plus one per
// measure MuseScore had to insert before notes and one for ties (MuseScore's own commands).
// Throws a user message, and then the score is as it was.
function applyResult(ms, result, job) {
    var score = ms.curScore;
    var warnings = (result.warnings || []).slice(), warned = {};
    function warn(key, text) { if (!warned[key]) { warned[key] = true; warnings.push(text); } }
    var plan = planWrite(ms, measureTable(ms), result, job);
    var steps = 0;
    var append = plan.make > 0 && plan.insertAt >= measureTable(ms).length;
    if (plan.make > 0 && !append) {
        insertMeasures(ms, plan.insertAt, plan.make);
        steps += plan.make;
    }
    var written = [], ties = [];
    score.startCmd();
    steps += 1;
    try {
        if (append) score.appendMeasures(plan.make);
        var table = measureTable(ms);
        for (var i = 0; i < plan.targets.length; i++) {
            var tg = plan.targets[i], row = table[tg.index];
            if (row.end - row.start !== tg.ticks)
                throw new Error("measure " + row.number + " does not have the length of the result's measure");
            var st = tg.data.staves || [];
            for (var s = 0; s < st.length; s++) {
                var staff = st[s].staff;
                if (plan.staves && plan.staves.indexOf(staff) < 0) continue;
                clearUpperVoices(ms, staff, row);
                var voices = (st[s].voices || []).slice().sort(function (a, b) { return a.voice - b.voice; });
                for (var v = 0; v < voices.length; v++) {
                    var placed = writeVoice(ms, staff, voices[v].voice, row.start, voices[v].events, warn);
                    ties = ties.concat(finishVoice(ms, staff, voices[v].voice, row.start, row.end, placed, warn));
                }
            }
            written.push(tg.index);
        }
        score.endCmd();
    } catch (err) {
        score.endCmd();
        undo(ms, steps);
        throw new Error("Writing the result failed, the score was restored: " + (err.message || err));
    }
    steps += addTies(ms, ties, warn);
    return { written: written, warnings: warnings, undoSteps: steps };
}

function undo(ms, steps) { for (var i = 0; i < steps; i++) ms.cmd("undo"); }

// ---------------------------------------------------------------- daemon (HTTP JSON)

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

// ---------------------------------------------------------------- batch mode

var BATCH_FILE = "notabridge-batch.json";

function stripExtension(path) {
    var dot = path.lastIndexOf("."), slash = path.lastIndexOf("/");
    return dot > slash ? { base: path.substring(0, dot), ext: path.substring(dot + 1) } : { base: path, ext: "mscx" };
}

// Runs one batch request (docs/musescore.md); returns the report object (never throws).
// readFile(path) -> text or null; the caller writes the report.
function runBatch(ms, batch, readFile) {
    var report = { ok: false, mode: batch.mode, message: "", warnings: [], written: [] };
    try {
        if (!ms.curScore) throw new Error("No score is open.");
        var table = measureTable(ms);
        if (batch.measures) {
            var a = batch.measures[0], b = batch.measures[1];
            if (!(a >= 0 && b > a && b <= table.length))
                throw new Error("batch 'measures' must be [first, end) within 0.." + table.length);
            var staves = batch.staves && batch.staves.length ? batch.staves : [0];
            selectMeasures(ms, a, b, Math.max.apply(null, staves));
        }
        var mode = batch.mode === "export-only" || batch.mode === "apply-only" || batch.mode === "suggest"
            ? (batch.apply_as || "continue") : batch.mode;
        var excerpt = readSelection(ms, { mode: mode, staves: batch.staves,
                                          contextBefore: batch.context_before, contextAfter: batch.context_after });
        report.selection = excerpt.selection;
        report.score_measures = table.length;
        report.excerpt = excerpt;
        if (batch.mode === "export-only") { report.ok = true; report.message = "excerpt exported"; return report; }
        if (batch.mode === "suggest") {      // the style prompts that fit the selection; the score is not touched
            report.suggestions = requestSync(batch.daemon || DEFAULT_DAEMON, "POST", "/suggest", { excerpt: excerpt }).suggestions;
            report.ok = true;
            report.message = suggestionText(report.suggestions);
            return report;
        }
        var result;
        if (batch.mode === "apply-only") {
            var text = readFile(batch.result_file);
            if (!text) throw new Error("cannot read result_file " + batch.result_file);
            result = JSON.parse(text);
        } else {
            var base = batch.daemon || DEFAULT_DAEMON;
            var answer = runJobSync(base, jobBody(mode, excerpt, batch.settings || {}), batch.timeout);
            var variant = answer.variants[batch.variant || 0];
            if (!variant) throw new Error("the daemon returned no variant " + (batch.variant || 0));
            result = variant.excerpt;
            report.originality = variant.originality || null;
            report.job = { provider: answer.provider, seconds: answer.seconds, variants: answer.variants.length, warnings: answer.warnings || [] };
            report.result = result;
        }
        var done = applyResult(ms, result, { mode: mode, selection: excerpt.selection, staves: batch.staves });
        report.written = done.written;
        report.warnings = done.warnings;
        if (batch.output) {
            var out = stripExtension(batch.output);
            if (!ms.writeScore(ms.curScore, out.base, out.ext)) throw new Error("could not save the score to " + batch.output);
            report.saved = batch.output;
        }
        report.ok = true;
        report.message = "wrote " + done.written.length + " measure(s)";
    } catch (err) {
        report.message = String(err.message || err);
    }
    return report;
}

// The plugin's folder: MuseScore's filePath, else the header's own folder URL (Qt.resolvedUrl(".")).
function pluginFolder(ms, folderUrl) {
    if (ms.filePath) return String(ms.filePath);
    var path = decodeURIComponent(String(folderUrl || "").replace(/^file:\/\//, "")).replace(/\/$/, "");
    return /^\/[A-Za-z]:/.test(path) ? path.substring(1) : path;      // file:///C:/... on Windows
}

// The plugin's entry point. If a batch file sits beside the plugin, runs it: headless (returns "done",
// the report is written) or, with "dialog": true, through the dialog's asynchronous path (returns
// "dialog"). Without a batch file starts the dialog (returns "dialog").
// fio: a FileIO item (MuseScore's file access for plugins); panel: the NotaBridgePanel.
function start(ms, fio, panel, folderUrl) {
    fio.source = pluginFolder(ms, folderUrl) + "/" + BATCH_FILE;
    if (!fio.exists()) { panel.start(); return "dialog"; }
    var batch = null, report;
    try { batch = JSON.parse(fio.read()); }
    catch (e) { report = { ok: false, message: "cannot parse " + fio.source + ": " + e.message }; }
    if (batch && batch.dialog) { panel.autorun(batch, fio); return "dialog"; }
    function readFile(path) { fio.source = path; return fio.exists() ? fio.read() : null; }
    if (batch) report = runBatch(ms, batch, readFile);
    console.log("NotaBridge batch: " + (report.ok ? "ok: " : "failed: ") + report.message);
    fio.source = batch && batch.report ? batch.report : pluginFolder(ms, folderUrl) + "/notabridge-report.json";
    fio.write(JSON.stringify(report, null, 1));
    return "done";
}
