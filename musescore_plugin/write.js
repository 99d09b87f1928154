// Writing a result excerpt (docs/excerpt.md) into the open score as ONE undo step.
//
// MuseScore 3.2's plugin API writes plain notes and rests with its Cursor; tuplets and ties only
// through MuseScore's own commands (cmd "triplet", "tie"), and every editing command closes the
// plugin's undo step (startCmd/endCmd). So on 3.2, a result with tuplets or ties, or one that
// needs measures inserted, is written into a scratch copy of the score first (a file read back
// with readScore), checked there, copied, and pasted into the score: the paste is the one editing
// command of the step, and Ctrl+Z removes the whole job. Everything else is written directly.
// Probed facts behind this: ../shared/HOSTS.md. MuseScore 3.5+ and 4 (selection.selectRange,
// Cursor.addTuplet) take the direct route with their own tuplet and tie calls (not run in tests).
.pragma library
.import "notabridge.js" as NB

var VOICES = 4;
var TUPLET_COMMAND = { 2: "duplet", 3: "triplet", 4: "quadruplet", 5: "quintuplet", 6: "sextuplet",
                       7: "septuplet", 8: "octuplet", 9: "nonuplet" };
var io = null;                 // a FileIO item, for the scratch file (set by setFileIO)

function setFileIO(fio) { io = fio; NB.setFileIO(fio); }

function frac(text) { return NB.parseFraction(text); }

function mul(a, b) { return frac(NB.fraction(a.n * b.n, a.d * b.d)); }

function add(a, b) { return frac(NB.fraction(a.n * b.d + b.n * a.d, a.d * b.d)); }

// ---------------------------------------------------------------- planning (nothing changes)

function measureIsEmpty(ms, row) {
    var empty = true;
    for (var t = 0; t < ms.curScore.ntracks && empty; t++) {
        NB.walkTrack(ms, t, function (c) {
            if (c.tick >= row.end) return false;
            if (c.tick >= row.start && c.element.type === ms.Element.CHORD) { empty = false; return false; }
            return true;
        });
    }
    return empty;
}

// Groups events into write units: plain events, or tuplet groups that end back on the regular grid.
function writeUnits(events) {
    var units = [], group = null;
    for (var i = 0; i < events.length; i++) {
        var ev = events[i], f = frac(ev.duration);
        if (!ev.tuplet) {
            if (group) { units.push(group); group = null; }
            units.push({ events: [ev], span: f });
            continue;
        }
        if (!group) group = { events: [], span: { n: 0, d: 1 }, tuplet: ev.tuplet, mixed: false };
        if (ev.tuplet.actual * group.tuplet.normal !== ev.tuplet.normal * group.tuplet.actual) group.mixed = true;
        group.events.push(ev);
        group.span = add(group.span, f);
        if (NB.isPowerOfTwo(group.span.d)) { units.push(group); group = null; }
    }
    if (group) units.push(group);
    return units;
}

// The n-tuplet command of MuseScore 3.2 turns a chord or rest of length `span` into n notes in the
// time of `normal` (Score::cmdTuplet: n / numerator of span, denominator doubled while n >= 2x).
// Returns the command that makes the tuplet `t` over `span`, or null when none does.
function tupletCommand(t, span) {
    if (!NB.isPlain(span)) return null;
    for (var n = t.actual; n <= 9; n += t.actual) {
        var normal = span.n;
        while (n >= 2 * normal) normal *= 2;
        if (n * t.normal === normal * t.actual && TUPLET_COMMAND[n]) return TUPLET_COMMAND[n];
    }
    return null;
}

function tupletProblem(unit) {
    var t = unit.tuplet, what = t.actual + ":" + t.normal + " tuplet over " + unit.span.n + "/" + unit.span.d;
    if (unit.mixed) return "tuplets of different ratios in one group (nested tuplets)";
    if (!NB.isPowerOfTwo(unit.span.d)) return "a " + what + " that does not end on the beat grid";
    if (!tupletCommand(t, unit.span)) return "a " + what + ", which MuseScore 3.2's tuplet commands do not make";
    for (var i = 0; i < unit.events.length; i++)
        if (!NB.isPlain(mul(frac(unit.events[i].duration), { n: t.actual, d: t.normal })))
            return "a " + what + " holding a " + unit.events[i].duration + " note that no single note value shows";
    return null;
}

function hasTies(events) {
    for (var i = 0; i < events.length; i++) {
        var ev = events[i];
        if (ev.type !== "chord") continue;
        if (!NB.isPlain(frac(ev.duration)) && !ev.tuplet) return true;       // written as tied pieces
        for (var k = 0; k < ev.notes.length; k++)
            if (ev.notes[k].tie === "start" || ev.notes[k].tie === "continue") return true;
    }
    return false;
}

// Checks a result excerpt against the score before anything is touched; returns the plan: which
// result measure goes to which score measure, how many measures must be made, which staves are
// written, whether it needs MuseScore's commands (tuplets, ties, inserted measures on 3.2).
// Throws a user message (nothing was changed).
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
                                                     : NB.ticksOf(ms, frac(lastTime));
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
    var api35 = !!ms.curScore.selection.selectRange, tuplets = false, ties = false, written = {};
    for (var k = 0; k < targets.length; k++) {
        var tg = targets[k], st = tg.data.staves || [], number = k < table.length && tg.index < table.length ? table[tg.index].number : tg.index + 1;
        for (var s = 0; s < st.length; s++) {
            if (st[s].staff < 0 || st[s].staff >= ms.curScore.nstaves) { errors.push("result names staff " + st[s].staff + ", the score has " + ms.curScore.nstaves); continue; }
            if (staves && staves.indexOf(st[s].staff) < 0) continue;
            written[st[s].staff] = true;
            var vs = st[s].voices || [];
            for (var v = 0; v < vs.length; v++) {
                var sum = 0, units;
                try {
                    for (var e = 0; e < vs[v].events.length; e++) sum += NB.ticksOf(ms, frac(vs[v].events[e].duration));
                    units = writeUnits(vs[v].events);
                } catch (err) { errors.push(String(err.message)); continue; }
                if (sum !== tg.ticks)
                    errors.push("result measure " + tg.data.index + " staff " + st[s].staff + " voice " + vs[v].voice +
                                " lasts " + NB.ticksToFraction(ms, sum) + " but the score's measure lasts " + NB.ticksToFraction(ms, tg.ticks));
                if (vs[v].voice < 0 || vs[v].voice >= VOICES) errors.push("result names voice " + vs[v].voice);
                ties = ties || hasTies(vs[v].events);
                for (var u = 0; u < units.length; u++) {
                    if (!units[u].tuplet) continue;
                    tuplets = true;
                    var problem = api35 ? null : tupletProblem(units[u]);
                    if (problem) errors.push("measure " + number + " staff " + (st[s].staff + 1) + " voice " + (vs[v].voice + 1) + ": " + problem);
                }
            }
        }
    }
    if (errors.length) throw new Error("The result cannot be written exactly, nothing was changed: " + errors.join("; "));
    var writtenStaves = [];
    for (var w in written) writtenStaves.push(parseInt(w, 10));
    writtenStaves.sort(function (a, b) { return a - b; });
    var append = make > 0 && insertAt >= table.length;
    return { targets: targets, insertAt: insertAt, make: make, append: append, staves: staves, written: writtenStaves,
             viaScratch: !api35 && (tuplets || ties || (make > 0 && !append)) };
}

// ---------------------------------------------------------------- writing into the current score

// Puts cursor c (or a new one) on staff/voice exactly at tick inside the measure starting at
// measureStart. MuseScore's own advance after addNote is not trusted: in voices 2-4 it can skip a
// position or run into the next measure.
function seek(ms, c, staff, voice, tick, measureStart) {
    if (c && c.segment && c.track === staff * VOICES + voice && c.tick === tick) return c;
    if (!c || !c.segment || c.track !== staff * VOICES + voice || c.tick > tick) {
        c = NB.cursorAt(ms, staff, measureStart);      // voice 0 always has a chord or rest there
        c.voice = voice;
    }
    while (c.segment && c.tick < tick) c.next();
    if (!c.segment || c.tick !== tick)
        throw new Error("cannot place the cursor at tick " + tick + " of staff " + (staff + 1) + " voice " + (voice + 1));
    return c;
}

// Concert spelling tpc; the written one (tpc2) keeps the staff's transposition.
function setSpelling(note, tpc, shift) {
    if (tpc === undefined || tpc === null) return;
    note.tpc1 = tpc;
    note.tpc2 = tpc + shift;
}

// The selected note (what addNote wrote), or null.
function selectedNote(ms) {
    var els = ms.curScore.selection.elements;
    return els.length && els[0].type === ms.Element.NOTE ? els[0] : null;
}

// With a note of a chord selected, selects that chord's note of `pitch` (MuseScore's Alt+Up/Down).
function selectPitch(ms, pitch) {
    ms.cmd("bottom-chord");
    for (var guard = 0; guard < 16; guard++) {
        var note = selectedNote(ms);
        if (!note) return false;
        if (note.pitch === pitch) return true;
        if (note.pitch > pitch) return false;
        ms.cmd("up-chord");
    }
    return false;
}

// Ties each of `pitches` of the selected chord to the next note of the same pitch in its voice
// (MuseScore 3.2's "tie" on a selected note, outside note input). Returns the pitches it could select.
function tieSelected(ms, pitches) {
    var done = [];
    for (var i = 0; i < pitches.length; i++) {
        if (!selectPitch(ms, pitches[i])) continue;
        ms.cmd("tie");
        done.push(pitches[i]);
    }
    return done;
}

// Writes one voice of one measure. ctx: {cmds (MuseScore's commands may be used), pending
// (track -> pitches of the previous chord that tie into the next one), last (the last measure
// written), placed (track -> [{tick, ticks, pitches}] for the check)}.
function writeVoice(ms, staff, voice, row, events, ctx) {
    var track = staff * VOICES + voice, c = null, pos = row.start;
    var placed = ctx.placed[track] = ctx.placed[track] || [];
    function put(ev, nominal, ticks, tieNext, isLast) {
        c = seek(ms, c, staff, voice, pos, row.start);
        c.setDuration(nominal.n, nominal.d);
        var chord = null;
        if (ev.type !== "chord" && c.addRest) {
            c.addRest();
        } else {
            c.addNote(ev.type === "chord" ? ev.notes[0].pitch : 60);     // 60: a placeholder, removed below (3.2 has no addRest)
            var note = selectedNote(ms);
            if (!note) throw new Error("MuseScore did not write the note at tick " + pos + " of staff " + (staff + 1));
            chord = note.parent;
        }
        if (ev.type !== "chord") {
            if (chord) ms.removeElement(chord);
            ctx.pending[track] = [];
            placed.push({ tick: pos, ticks: ticks, pitches: null });
            pos += ticks;
            return;
        }
        // the staff's transposition, as MuseScore spelled the note it wrote (0 for concert-pitch staves)
        var shift = chord.notes[0].tpc2 - chord.notes[0].tpc1;
        setSpelling(chord.notes[0], ev.notes[0].tpc, shift);
        for (var n = 1; n < ev.notes.length; n++) {
            var extra = ms.newElement(ms.Element.NOTE);
            extra.pitch = ev.notes[n].pitch;
            chord.add(extra);
            setSpelling(extra, ev.notes[n].tpc, shift);
        }
        var pitches = ev.notes.map(function (x) { return x.pitch; });
        if (ctx.cmds) {
            var into = (ctx.pending[track] || []).filter(function (p) { return pitches.indexOf(p) >= 0; });
            if (isLast && tieNext.length) tieSelected(ms, tieNext);       // into the music after the range
            if (into.length) {
                ms.cmd("prev-chord");
                if (tieSelected(ms, into).length !== into.length)
                    throw new Error("MuseScore did not tie the notes before tick " + pos + " of staff " + (staff + 1));
            }
            // moving the selection moved MuseScore's input position, where the Cursor's next addNote
            // would write: the next note starts from a new cursor
            if (into.length || (isLast && tieNext.length)) c = null;
        }
        ctx.pending[track] = tieNext;
        placed.push({ tick: pos, ticks: ticks, pitches: pitches.slice().sort(function (a, b) { return a - b; }) });
        pos += ticks;
    }
    function tiedPitches(ev) {
        var out = [];
        for (var k = 0; k < ev.notes.length; k++)
            if (ev.notes[k].tie === "start" || ev.notes[k].tie === "continue") out.push(ev.notes[k].pitch);
        return out;
    }
    var units = writeUnits(events);
    for (var u = 0; u < units.length; u++) {
        var unit = units[u], lastUnit = u === units.length - 1;
        if (unit.tuplet) {
            var t = unit.tuplet, ratio = { n: t.actual, d: t.normal };
            if (ms.curScore.newCursor().addTuplet) {
                c = seek(ms, c, staff, voice, pos, row.start);
                c.addTuplet(ms.fraction(t.actual, t.normal), ms.fraction(unit.span.n, unit.span.d));
            } else {
                // 3.2: in note input a cursor moved to the tick sets the input position; the command
                // makes the tuplet of rests over a chord or rest of the span's length (probed, HOSTS.md)
                ms.cmd("note-input");
                c = seek(ms, null, staff, voice, pos, row.start);
                c.setDuration(unit.span.n, unit.span.d);
                ms.cmd(tupletCommand(t, unit.span));
                ms.cmd("escape");
            }
            c = null;
            for (var k = 0; k < unit.events.length; k++) {
                var ev = unit.events[k], f = frac(ev.duration);
                put(ev, mul(f, ratio), NB.ticksOf(ms, f), ev.type === "chord" ? tiedPitches(ev) : [],
                    ctx.last && lastUnit && k === unit.events.length - 1);
            }
            continue;
        }
        var one = unit.events[0], pieces = NB.plainPieces(unit.span);
        for (var p = 0; p < pieces.length; p++) {
            var lastPiece = p === pieces.length - 1;
            // a value no single note shows is written as tied notes (5/8 = 1/2 + 1/8)
            var next = one.type !== "chord" ? [] : (lastPiece ? tiedPitches(one) : one.notes.map(function (x) { return x.pitch; }));
            put(one, pieces[p], NB.ticksOf(ms, pieces[p]), next, ctx.last && lastUnit && lastPiece);
        }
    }
}

// Empties a staff's measure (voice 1 rests, voices 2-4 nothing) before it is written: so it holds
// exactly the result's voices, and no old tuplet is left for new notes to fall into. With
// MuseScore's commands: select it and "delete" (removes tuplets whole). Without: voices 2-4 removed
// and voice 1 overwritten by rests, which cannot take a tuplet apart (the write's check catches that).
function clearMeasure(ms, staff, row, index, cmds) {
    if (cmds) {
        NB.selectMeasures(ms, index, index + 1, staff, staff);
        ms.cmd("delete");
        ms.cmd("escape");
        return;
    }
    clearUpperVoices(ms, index, index + 1, staff, staff);
    var c = null, pos = row.start, pieces = NB.plainPieces(frac(NB.ticksToFraction(ms, row.end - row.start)));
    for (var p = 0; p < pieces.length; p++) {
        c = seek(ms, c, staff, 0, pos, row.start);
        c.setDuration(pieces[p].n, pieces[p].d);
        c.addNote(60);
        var note = selectedNote(ms);
        if (note) ms.removeElement(note.parent);     // a chord removed from voice 1 leaves its rest
        pos += NB.ticksOf(ms, pieces[p]);
    }
}

// Writes every target measure of the plan into the current score (which already has the measures).
// Returns {written: [measure indices], placed}.
function writeTargets(ms, plan, cmds) {
    var table = NB.measureTable(ms), written = [];
    var ctx = { cmds: cmds, pending: {}, placed: {}, last: false };
    for (var i = 0; i < plan.targets.length; i++) {
        var tg = plan.targets[i], row = table[tg.index];
        if (row.end - row.start !== tg.ticks)
            throw new Error("measure " + row.number + " does not have the length of the result's measure");
        ctx.last = i === plan.targets.length - 1;
        var st = tg.data.staves || [];
        for (var s = 0; s < st.length; s++) {
            var staff = st[s].staff;
            if (plan.staves && plan.staves.indexOf(staff) < 0) continue;
            clearMeasure(ms, staff, row, tg.index, cmds);
            var voices = (st[s].voices || []).slice().sort(function (a, b) { return a.voice - b.voice; });
            for (var v = 0; v < voices.length; v++) writeVoice(ms, staff, voices[v].voice, row, voices[v].events, ctx);
        }
        written.push(tg.index);
    }
    return { written: written, placed: ctx.placed };
}

// The chords of a track between ticks lo and hi: [{tick, ticks (as they sound), pitches (sorted)}].
function readChords(ms, track, lo, hi) {
    var items = [], got = [];
    NB.walkTrack(ms, track, function (c) {
        if (c.tick >= hi) return false;
        if (c.tick >= lo) items.push({ tick: c.tick, el: c.element });
        return true;
    });
    for (var i = 0; i < items.length; i++) {
        var el = items[i].el;
        if (el.type !== ms.Element.CHORD) continue;
        var nominal = NB.ticksOf(ms, { n: el.duration.numerator, d: el.duration.denominator });
        var nextTick = i + 1 < items.length ? items[i + 1].tick : hi;
        var pitches = [];
        for (var n = 0; n < el.notes.length; n++) pitches.push(el.notes[n].pitch);
        got.push({ tick: items[i].tick, ticks: Math.min(nominal, nextTick - items[i].tick),
                   pitches: pitches.sort(function (a, b) { return a - b; }) });
    }
    return got;
}

// Reads back the written tracks and compares them with what was placed: chords at the same ticks
// with the same pitches and lengths, and nothing else (rests may be split or merged). Returns the
// first difference as text, or "".
function checkWritten(ms, plan, placed) {
    var table = NB.measureTable(ms), lo = table[plan.targets[0].index].start;
    var hi = table[plan.targets[plan.targets.length - 1].index].end;
    for (var t0 in placed) {            // voices the result leaves out are empty in its staves
        for (var v = 0; v < VOICES; v++) {
            var other = Math.floor(t0 / VOICES) * VOICES + v;
            if (placed[other]) continue;
            var stray = "";
            NB.walkTrack(ms, other, function (c) {
                if (c.tick >= hi) return false;
                if (c.tick >= lo && c.element.type === ms.Element.CHORD) { stray = "staff " + (Math.floor(other / VOICES) + 1) + " voice " + (v + 1) + " still holds notes"; return false; }
                return true;
            });
            if (stray) return stray;
        }
    }
    for (var track in placed) {
        var want = placed[track].filter(function (x) { return x.pitches; }), got = readChords(ms, parseInt(track, 10), lo, hi);
        var staff = Math.floor(track / VOICES) + 1, voice = track % VOICES + 1;
        for (var k = 0; k < Math.max(want.length, got.length); k++) {
            var a = want[k], b = got[k];
            if (!a || !b || a.tick !== b.tick || a.ticks !== b.ticks || String(a.pitches) !== String(b.pitches)) {
                var where = NB.measureAtTick(table, (a || b).tick);
                return "staff " + staff + " voice " + voice + " measure " + (table[where] ? table[where].number : "?") + ": " +
                       (a ? "wanted " + a.pitches + " for " + NB.ticksToFraction(ms, a.ticks) : "wanted nothing") + ", MuseScore holds " +
                       (b ? b.pitches + " for " + NB.ticksToFraction(ms, b.ticks) : "nothing");
            }
        }
    }
    return "";
}

// ---------------------------------------------------------------- the two routes

// Straight into the score inside one startCmd/endCmd (one undo step).
function writeDirect(ms, plan) {
    var score = ms.curScore, out;
    score.startCmd();
    try {
        if (plan.append) {
            var total = NB.measureTable(ms).length;
            score.appendMeasures(plan.make);
            moveEndBarline(ms, total - 1, total + plan.make - 1);
        }
        out = writeTargets(ms, plan, false);
        var wrong = checkWritten(ms, plan, out.placed);
        if (wrong) throw new Error("MuseScore did not write what was sent (" + wrong + ")");
    } catch (err) {
        score.endCmd();
        undo(ms, 1);
        throw new Error("Writing the result failed, the score was restored: " + (err.message || err));
    }
    score.endCmd();
    return out.written;
}

function removeFile(path) {
    io.source = path;
    if (io.exists()) io.remove();
}

// Through a scratch copy: write there with MuseScore's commands, check, copy; then one paste into
// the score inside one startCmd/endCmd (with the measures appended that the paste fills).
function writeViaScratch(ms, plan, warnings) {
    if (!io) throw new Error("The plugin has no file access (FileIO) for its scratch copy; nothing was changed.");
    var table = NB.measureTable(ms), total = table.length, nstaves = ms.curScore.nstaves;
    var first = plan.targets[0].index, end = plan.targets[plan.targets.length - 1].index + 1;
    var low = plan.written.length ? plan.written[0] : 0, high = plan.written.length ? plan.written[plan.written.length - 1] : 0;
    var shifts = plan.make > 0 && !plan.append;
    if (shifts) {                         // the music after the new measures moves with them
        end = total + plan.make;
        low = 0;
        high = nstaves - 1;
        var marks = tailMarks(ms, plan.insertAt);
        if (marks.breaks)
            warnings.push("The line and page breaks after measure " + table[plan.insertAt - 1].number + " stay at their measure numbers " +
                          "(MuseScore 3.2's plugins cannot move them with the music).");
        if (marks.block)
            throw new Error("Continuing in the middle needs " + plan.make + " new measure(s) after measure " + table[plan.insertAt - 1].number +
                            ", and MuseScore 3.2 cannot move the " + marks.block + " after them within one undo step. Insert " + plan.make +
                            " empty measure(s) there yourself (select measure " + table[plan.insertAt].number +
                            ", Insert > Measures) and Generate again: empty measures after the selection are filled. Nothing was changed.");
    }
    // MuseScore 3.2 refuses to paste ("Cannot paste into tuplet") when the first chord or rest it
    // pastes over is in a tuplet: the paste then starts at a staff above whose first one is not,
    // carrying that staff's own music from the scratch copy (checked unchanged afterwards)
    var pasteLow = plan.make === 0 ? pasteStart(ms, table, first, low) : low;
    var base = io.tempPath() + "/notabridge-scratch-" + Date.now();
    if (!ms.writeScore(ms.curScore, base, "mscx")) throw new Error("Could not write a scratch copy of the score in " + io.tempPath() + "; nothing was changed.");
    var scratch = ms.readScore(base + ".mscx");
    if (!scratch) { removeFile(base + ".mscx"); throw new Error("MuseScore could not open its scratch copy of the score; nothing was changed."); }
    var out;
    try {
        // emptied measures would merge into multi-measure rests, which selections cannot tell apart
        io.source = base + ".mscx";
        var main = (io.read().split("<Score>")[1] || "");        // the score's own style, not its parts'
        if (/<createMultiMeasureRests>1</.test(main)) ms.cmd("toggle-mmrest");
        if (shifts) {
            NB.selectMeasures(ms, plan.insertAt, plan.insertAt + 1, 0);
            for (var i = 0; i < plan.make; i++) ms.cmd("insert-measure");
            if (NB.measureTable(ms).length !== total + plan.make) throw new Error("MuseScore did not insert the measures in its scratch copy");
        } else if (plan.append) {
            ms.curScore.appendMeasures(plan.make);
        }
        out = writeTargets(ms, plan, true);
        var wrong = checkWritten(ms, plan, out.placed);
        if (wrong) throw new Error("MuseScore 3.2 did not write what was sent (" + wrong + ")");
        // copied from the saved and reopened copy: a paste of what was just written with the tuplet
        // commands crashed MuseScore 3.2 on a piano score (Der Lindenbaum); the same music read back
        // from its file pastes fine
        ms.cmd("escape");
        ms.cmd("file-save");
        ms.closeScore(scratch);
        scratch = ms.readScore(base + ".mscx");
        if (!scratch) throw new Error("MuseScore could not reopen its scratch copy");
        NB.selectMeasures(ms, first, end, high, pasteLow);
        ms.cmd("copy");
    } catch (err) {
        closeScratch(ms, scratch, base);
        throw new Error("The result cannot be written exactly by this MuseScore, nothing was changed: " + (err.message || err));
    }
    closeScratch(ms, scratch, base);
    var score = ms.curScore;
    var kept = pasteLow < low ? keptTracks(ms, pasteLow, low, first, end) : null;
    if (plan.make === 0) NB.anchorSelection(ms);        // (first-element ends a command: before it)
    score.startCmd();
    try {
        if (plan.make > 0) {
            score.appendMeasures(plan.make);
            moveEndBarline(ms, total - 1, total + plan.make - 1);
        }
        clearUpperVoices(ms, first, end, low, high);
        if (plan.make === 0) NB.selectFromAnchor(ms, first, end, pasteLow, high);
        else NB.selectMeasures(ms, first, end, high, low, true);
        ms.cmd("paste");                  // ends the undo step, which holds the appended measures too
    } catch (err) {
        score.endCmd();
        undo(ms, 1);
        throw new Error("Pasting the result failed, the score was restored: " + (err.message || err));
    }
    score.endCmd();                       // (already ended by the paste; MuseScore logs a warning)
    var check = checkWritten(ms, plan, out.placed) || (kept && keptChanged(ms, kept, first, end));
    if (check) {
        undo(ms, 1);
        throw new Error("The pasted result differs from what was sent (" + check + "); the score was restored.");
    }
    return out.written;
}

// The highest staff at or above `low` whose first chord or rest in measure `first` (voice 1) is
// not in a tuplet; throws a user message when there is none.
function pasteStart(ms, table, first, low) {
    var tick = table[first].start;
    for (var staff = low; staff >= 0; staff--) {
        var found = null, next = table[first].end;
        NB.walkTrack(ms, staff * VOICES, function (c) {
            if (found) { next = c.tick; return false; }
            if (c.tick === tick) found = c.element;
            return c.tick <= tick;
        });
        if (!found) continue;
        var nominal = NB.ticksOf(ms, { n: found.duration.numerator, d: found.duration.denominator });
        if (nominal <= next - tick) return staff;       // a tuplet member lasts less than it is written
    }
    throw new Error("MuseScore 3.2 cannot paste over the tuplet at the start of measure " + table[first].number +
                    " of staff " + (low + 1) + " (\"Cannot paste into tuplet\"), and no staff above starts that measure " +
                    "outside a tuplet. Nothing was changed; select from the measure before or after it and Generate again.");
}

// Staves the paste carries without writing them (pasteStart): their chords in the range, per track.
function keptTracks(ms, from, to, first, end) {
    var table = NB.measureTable(ms), lo = table[first].start, hi = table[end - 1].end, kept = {};
    for (var track = from * VOICES; track < to * VOICES; track++) kept[track] = readChords(ms, track, lo, hi);
    return kept;
}

function keptChanged(ms, kept, first, end) {
    var table = NB.measureTable(ms), lo = table[first].start, hi = table[end - 1].end;
    for (var track in kept)
        if (JSON.stringify(readChords(ms, parseInt(track, 10), lo, hi)) !== JSON.stringify(kept[track]))
            return "staff " + (Math.floor(track / VOICES) + 1) + " changed, which was not to be written";
    return "";
}

// Removes the chords and rests of voices 2-4 in measures [first, end) of staves low..high: a paste
// replaces voice 1 but leaves the destination's other voices where the copy has none (probed).
function clearUpperVoices(ms, first, end, low, high) {
    var table = NB.measureTable(ms), lo = table[first].start, hi = table[end - 1].end;
    for (var staff = low; staff <= high; staff++) {
        for (var v = 1; v < VOICES; v++) {
            var found = [];
            NB.walkTrack(ms, staff * VOICES + v, function (c) {
                if (c.tick >= hi) return false;
                if (c.tick >= lo) found.push(c.element);
                return true;
            });
            for (var i = 0; i < found.length; i++) ms.removeElement(found[i]);
        }
    }
}

// Saved first (to its own temporary file), so closing it asks nothing; then its files are removed.
function closeScratch(ms, scratch, base) {
    ms.cmd("escape");
    ms.cmd("file-save");
    ms.closeScore(scratch);
    removeFile(base + ".mscx");
    removeFile(base.replace(/[^\/]*$/, function (name) { return "." + name; }) + ".mscx,");   // MuseScore's backup
}

// What the measures from `from` on hold that a paste does not carry, read from the score's file:
// {block: names of what would end up at the wrong measure (time or key changes, repeats, voltas,
// jumps, special barlines, irregular measures), breaks: whether line or page breaks follow}.
// The final barline is not listed: moveEndBarline moves it.
function tailMarks(ms, from) {
    var base = io.tempPath() + "/notabridge-marks-" + Date.now();
    if (!ms.writeScore(ms.curScore, base, "mscx")) return { block: "", breaks: false };
    io.source = base + ".mscx";
    var text = io.read();
    removeFile(base + ".mscx");
    var main = (text.split("<Score>")[1] || text).split("<Excerpt")[0];      // parts follow the main score
    // probed: a paste neither moves measure properties nor clears the destination's clefs, texts,
    // lines or second voices, so what follows must be plain notes and rests in voice 1 (with what
    // hangs on them: lyrics, articulations, ties, tuplets, beams)
    var kinds = { "<TimeSig>": "time signature changes", "<KeySig>": "key changes", "<startRepeat": "repeats",
                  "<endRepeat": "repeats", "Volta": "voltas", "<Marker>": "markers", "<Jump>": "jumps",
                  "<BarLine>": "special barlines", "<irregular>": "irregular measures", "<Spacer>": "spacers",
                  "<noOffset>": "measure number changes", "<breakMultiMeasureRest>": "multi-measure rest breaks",
                  "<Clef>": "clef changes", "<Dynamic>": "dynamics", "<StaffText>": "texts", "<SystemText>": "texts",
                  "<Tempo>": "tempo marks", "<RehearsalMark>": "rehearsal marks", "<Harmony>": "chord symbols",
                  "<FiguredBass>": "figured bass", "<InstrumentChange>": "instrument changes", "<Breath>": "breath marks",
                  "<Spanner type=\"Slur\"": "slurs", "<Spanner type=\"HairPin\"": "hairpins", "<Spanner type=\"Ottava\"": "octave lines",
                  "<Spanner type=\"Pedal\"": "pedal lines", "<Spanner type=\"Trill\"": "trills", "<Spanner type=\"TextLine\"": "lines" };
    var found = {}, breaks = false, staves = main.split(/<Staff id="\d+">/).slice(1);
    for (var s = 0; s < staves.length; s++) {
        var measures = staves[s].split("<Measure");
        for (var m = 1 + from; m < measures.length; m++) {
            var body = measures[m];
            if (m === measures.length - 1) body = body.replace(/<BarLine>\s*<subtype>end<\/subtype>[\s\S]*?<\/BarLine>/, "");
            for (var key in kinds) if (body.indexOf(key) >= 0) found[kinds[key]] = true;
            if (body.split("<voice>").length > 2) found["second voices"] = true;
            if (body.indexOf("<LayoutBreak>") >= 0) breaks = true;
        }
    }
    var names = [];
    for (var k in found) names.push(k);
    return { block: names.join(", "), breaks: breaks };
}

// Appending measures leaves the score's final barline (an end barline, say) on the old last
// measure: moves it to the new last one, in every staff (undoable property changes).
function moveEndBarline(ms, oldLast, newLast) {
    var table = NB.measureTable(ms), from = table[oldLast].measure.lastSegment, to = table[newLast].measure.lastSegment;
    for (var s = 0; s < ms.curScore.nstaves; s++) {
        var old = from.elementAt(s * VOICES), now = to.elementAt(s * VOICES);
        if (!old || !now || old.barlineType === now.barlineType) continue;
        var span = old.barlineSpan;
        now.barlineType = old.barlineType;
        old.barlineType = 1;                 // BarLineType::NORMAL
        // changing the type resets the span outside the undo record (3.2: one undo then lost a
        // staff's "span 0"); setting it again puts it in the record, so undo restores it
        old.barlineSpan = span + 1;
        old.barlineSpan = span;
    }
}

// ---------------------------------------------------------------- entry point

// Writes a result excerpt into the open score. job: {mode, selection, staves}. Returns
// {written: [score measure indices], warnings, undoSteps}: one undo step removes the whole job.
// Throws a user message, and then the score is as it was.
function applyResult(ms, result, job) {
    var warnings = (result.warnings || []).slice();
    var plan = planWrite(ms, NB.measureTable(ms), result, job);
    var written;
    if (!plan.viaScratch && !ms.curScore.selection.selectRange && !(plan.make > 0 && !plan.append)) {
        // plain notes and rests go straight in; where MuseScore does not hold what was written (an
        // old tuplet in the way), that write is undone and the scratch route takes over
        try { written = writeDirect(ms, plan); } catch (err) { plan.viaScratch = true; }
        if (written) return { written: written, warnings: warnings, undoSteps: 1 };
    }
    if (plan.viaScratch) {
        written = writeViaScratch(ms, plan, warnings);
    } else if (plan.make > 0 && !plan.append) {
        insertMeasures(ms, plan.insertAt, plan.make);      // MuseScore 3.5+/4: not one undo step (untested here)
        written = writeDirect(ms, plan);
        return { written: written, warnings: warnings, undoSteps: plan.make + 1 + addTies35(ms, plan) };
    } else {
        written = writeDirect(ms, plan);
    }
    return { written: written, warnings: warnings, undoSteps: 1 + (plan.viaScratch ? 0 : addTies35(ms, plan)) };
}

// MuseScore 3.5+ and 4 let plugins select notes: ties there are one "tie" command after the
// write (an undo step of its own). Not run in this project's tests (only 3.2 installs here).
function addTies35(ms, plan) {
    var sel = ms.curScore.selection;
    if (!(sel.select && sel.clear)) return 0;
    var table = NB.measureTable(ms), any = false;
    sel.clear();
    for (var i = 0; i < plan.targets.length; i++) {
        var tg = plan.targets[i], row = table[tg.index], st = tg.data.staves || [];
        for (var s = 0; s < st.length; s++) {
            if (plan.staves && plan.staves.indexOf(st[s].staff) < 0) continue;
            var vs = st[s].voices || [];
            for (var v = 0; v < vs.length; v++) {
                var byTick = {}, pos = row.start;
                NB.walkTrack(ms, st[s].staff * VOICES + vs[v].voice, function (c) {
                    if (c.tick >= row.end) return false;
                    if (c.tick >= row.start) byTick[c.tick] = c.element;
                    return true;
                });
                for (var e = 0; e < vs[v].events.length; e++) {
                    var ev = vs[v].events[e], el = byTick[pos];
                    pos += NB.ticksOf(ms, frac(ev.duration));
                    if (ev.type !== "chord" || !el || el.type !== ms.Element.CHORD) continue;
                    for (var k = 0; k < ev.notes.length; k++) {
                        if (ev.notes[k].tie !== "start" && ev.notes[k].tie !== "continue") continue;
                        for (var n = 0; n < el.notes.length; n++)
                            if (el.notes[n].pitch === ev.notes[k].pitch && !el.notes[n].tieFor) { sel.select(el.notes[n], true); any = true; }
                    }
                }
            }
        }
    }
    if (!any) return 0;
    ms.cmd("tie");
    sel.clear();
    return 1;
}

// Inserts `count` empty measures before measure `at` with MuseScore's own command (MuseScore 3.5+
// and 4 only; on 3.2 the scratch route inserts them in one undo step with the notes).
function insertMeasures(ms, at, count) {
    var table = NB.measureTable(ms);
    NB.selectMeasures(ms, at, at + 1, 0);
    for (var i = 0; i < count; i++) ms.cmd("insert-measure");
    var made = NB.measureTable(ms).length - table.length;
    if (made !== count) {
        undo(ms, made);
        throw new Error("MuseScore did not insert the empty measures needed before measure " + table[at].number);
    }
}

function undo(ms, steps) { for (var i = 0; i < steps; i++) ms.cmd("undo"); }
