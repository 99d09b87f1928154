// What excerpt v2 adds to the notes (docs/excerpt.md, "Version 2"), read the way MuseScore 3.2.3's
// plugin API allows: its Note has no tieFor/tieBack and its Chord no beam or articulation list,
// but a range selection of the whole score (cmd("select-all")) lists every tie, slur, hairpin,
// articulation, fermata, flag (Hook), dynamic and text, each with its track and its tick (a
// spanner's spannerTick/spannerTicks, else its parent segment's tick). Collected once per read,
// keyed "track:tick"; notabridge.js puts them on the events it reads with the Cursor.
.pragma library

function key(track, tick) { return track + ":" + tick; }

function ticksOf(f) { return f && f.ticks !== undefined ? f.ticks : -1; }

// The tick of an element on a segment (parent Segment) or on a chord or rest (parent Chord/Rest,
// whose parent is the Segment); -1 for one on a grace chord (whose parent is its main chord).
function tickOf(el) {
    var up = el.parent;
    if (up && up.name !== "Segment") up = up.parent;
    return up && up.name === "Segment" ? up.tick : -1;
}

// MuseScore's articulation names (Articulation.userName()) -> MusicXML's, as excerpt marks
var ARTICULATIONS = [
    [/staccatissimo|wedge/i, "staccatissimo"], [/staccato/i, "staccato"], [/marcato/i, "strong-accent"],
    [/accent/i, "accent"], [/tenuto/i, "tenuto"], [/short trill|prall/i, "inverted-mordent"],
    [/trill/i, "trill-mark"], [/inverted mordent/i, "inverted-mordent"], [/mordent/i, "mordent"],
    [/inverted turn/i, "inverted-turn"], [/turn/i, "turn"], [/up ?bow/i, "up-bow"], [/down ?bow/i, "down-bow"],
    [/open/i, "open-string"], [/stopped|left-hand pizz/i, "stopped"], [/snap pizz/i, "snap-pizzicato"],
    [/thumb/i, "thumb-position"], [/breath/i, "breath-mark"]];

function articulationName(el) {
    var text = el.userName ? String(el.userName()) : "";
    for (var i = 0; i < ARTICULATIONS.length; i++) if (ARTICULATIONS[i][0].test(text)) return ARTICULATIONS[i][1];
    return null;
}

// "<sym>dynamicForte</sym><sym>dynamicForte</sym>" -> "ff"; null for what excerpt v2 has no name for
var DYNAMIC_LETTERS = { dynamicPiano: "p", dynamicForte: "f", dynamicMezzo: "m", dynamicSforzando: "s", dynamicZ: "z",
                        dynamicRinforzando: "r", dynamicNiente: "n" };
var DYNAMICS = ["p", "pp", "ppp", "pppp", "f", "ff", "fff", "ffff", "mp", "mf", "sfz"];

function dynamicName(text) {
    var name = String(text || "").replace(/<sym>(\w+)<\/sym>/g, function (m, sym) { return DYNAMIC_LETTERS[sym] || "?"; })
                                  .replace(/<[^>]*>/g, "").trim();
    return DYNAMICS.indexOf(name) >= 0 ? name : null;
}

// Text as it prints: tags and symbols out, a metronome mark ("<sym>metNoteQuarterUp</sym> = 96") out
// (its number is the measure's tempo); "" when nothing is left.
function plainText(text, isTempo) {
    var t = String(text || "");
    // a metronome mark is symbols (<sym>metNoteQuarterUp</sym>, or their private-use glyphs) "= 96"
    t = t.replace(/<sym>\w+<\/sym>/g, "\ue000").replace(/<[^>]*>/g, "");
    if (isTempo) t = t.replace(/\(?\s*[\ue000-\uf8ff][\ue000-\uf8ff\s.]*=\s*[\d.]+\s*\)?/g, "");
    return t.replace(/[\ue000-\uf8ff]/g, "").replace(/\s+/g, " ").trim();
}

// A chord symbol as MuseScore prints it ("Fmi7b5", "Ebma7", "C7susb9") -> as xml2abc spells the
// MusicXML MuseScore exports for it ("Fm7b5", "Ebmaj7", "C7b9sus4"): notabridge/notation/marks.py.
function chordSymbol(text) {
    var t = plainText(text, false).replace(/[()]/g, "").replace(/\u00f8/g, "m7b5").replace(/[\u00b0o](?=\d|$)/g, "dim")
                                   .replace(/\u0394/g, "maj");
    var m = /^([A-G][#b]?)(.*?)(\/[A-G][#b]?)?$/.exec(t);
    if (!m) return t || null;
    var kind = m[2].replace(/^(mi|min|-)(?!\w*maj)/, "m").replace(/ma(?!j)|Maj|M(?=7|9|13)/, "maj");
    var sus = /sus([24]?)/.exec(kind);
    if (sus) kind = kind.replace(sus[0], "") + "sus" + (sus[1] || "4");
    return m[1] + kind + (m[3] || "");
}

// Selects the whole score, reads the marks, and leaves nothing selected (the caller selects again
// what it needs). `firstElement`/`select-all` end an open undo command: call this outside one.
function collect(ms) {
    var out = { tieStart: {}, tieStop: {}, slurStart: {}, slurStop: {}, marks: {}, hooks: {}, directions: [], clefChanges: [] };
    ms.cmd("select-all");
    var els = ms.curScore.selection.elements;
    function add(map, k, value) { (map[k] = map[k] || []).push(value); }
    for (var i = 0; i < els.length; i++) {
        var el = els[i], name = el.name;
        if (name === "Tie") {
            var t0 = ticksOf(el.spannerTick), len = ticksOf(el.spannerTicks), pitch = el.parent ? el.parent.pitch : undefined;
            // a tie into another voice is left out, as xml2abc and the MusicXML reader leave it out
            if (t0 < 0 || len <= 0 || pitch === undefined || el.spannerTrack2 !== el.track) continue;
            add(out.tieStart, key(el.track, t0), pitch);
            add(out.tieStop, key(el.track, t0 + len), pitch);
        } else if (name === "Slur") {
            var s0 = ticksOf(el.spannerTick), sl = ticksOf(el.spannerTicks);
            // xml2abc keeps a slur only when it starts and ends in one voice
            if (s0 < 0 || sl <= 0 || el.spannerTrack2 !== el.track) continue;
            out.slurStart[key(el.track, s0)] = (out.slurStart[key(el.track, s0)] || 0) + 1;
            out.slurStop[key(el.track, s0 + sl)] = (out.slurStop[key(el.track, s0 + sl)] || 0) + 1;
        } else if (name === "Articulation") {
            var mark = articulationName(el);
            if (mark) add(out.marks, key(el.track, tickOf(el)), mark);
        } else if (name === "Fermata") {
            add(out.marks, key(el.track, tickOf(el)), "fermata");
        } else if (name === "Arpeggio") {
            add(out.marks, key(el.track, tickOf(el)), "arpeggiate");
        } else if (name === "Clef") {
            // a clef change inside the score (the type is not shown to plugins: notabridge.js reads it
            // from where the notes after it sit); generated clefs are the courtesy ones
            if (!el.generated && tickOf(el) > 0) out.clefChanges.push({ staff: Math.floor(el.track / 4), tick: tickOf(el) });
        } else if (name === "Hook") {
            out.hooks[key(el.track, tickOf(el))] = true;
        } else if (name === "Dynamic") {
            var dyn = dynamicName(el.text);
            if (dyn) out.directions.push({ track: el.track, tick: tickOf(el), item: { dynamics: dyn } });
        } else if (name === "HairPin") {
            var h0 = ticksOf(el.spannerTick), hl = ticksOf(el.spannerTicks);
            if (h0 < 0 || el.hairpinType === undefined) continue;
            // hairpinType: 0 crescendo hairpin, 1 decrescendo hairpin (2, 3: the dashed-line kinds)
            out.directions.push({ track: el.track, tick: h0, item: { wedge: el.hairpinType % 2 ? "diminuendo" : "crescendo" } });
            if (hl > 0) out.directions.push({ track: el.track, tick: h0 + hl, item: { wedge: "stop" }, end: true });
        } else if (name === "Harmony") {
            var chord = chordSymbol(el.text);
            if (chord) out.directions.push({ track: el.track, tick: tickOf(el), item: { chord: chord } });
        } else if (name === "StaffText" || name === "SystemText" || name === "Tempo") {
            var words = plainText(el.text, name === "Tempo");
            // placement: 0 above, 1 below
            if (words) out.directions.push({ track: el.track, tick: tickOf(el), item: { words: words, placement: el.placement === 1 ? "below" : "above" } });
        }
    }
    ms.cmd("escape");
    return out;
}

// The right barline and repeat start of a measure as excerpt v2 fields (BarLine.barlineType:
// 2 double, 4 start repeat, 8 end repeat, 32 final, 64 end and start repeat).
function measureBarlines(m) {
    var out = {}, seg = m.firstSegment, start = seg ? seg.tick : -1;
    for (var i = 0; i < 8 && seg && seg.tick === start; i++) {
        var first = seg.elementAt ? seg.elementAt(0) : null;
        var kind = first && first.name === "BarLine" ? Number(first.barlineType) : 0;
        if (kind === 4 || kind === 64) out.repeat_start = true;
        seg = seg.next;
    }
    // the end barline is the last segment, or before a courtesy key or time signature at the end
    var last = m.lastSegment, bl = null;
    for (var j = 0; j < 4 && last && !bl; j++) {
        var el = last.elementAt ? last.elementAt(0) : null;
        if (el && el.name === "BarLine") bl = el;
        last = last.prev;
    }
    if (bl) {
        var type = Number(bl.barlineType);        // an enum value, not a plain number
        if (type === 8 || type === 64) out.barline = "repeat-end";
        else if (type === 2) out.barline = "double";
        else if (type === 32) out.barline = "final";
    }
    return out;
}

// ---------------------------------------------------------------- from the score's own file

// What the 3.2 plugin API does not show at all, read from the score as MuseScore saves it (.mscx,
// written to a temporary file with writeScore and read with FileIO): key modes, brackets over
// parts, voltas. {modes: {measure index: mode}, brackets: [{first, last (staff indices), symbol,
// barline}], voltas: {measure index: {volta | volta_end}}}; null where the host cannot write files
// (MuseScore 4 has no writeScore).
var fileIO = null;

function setFileIO(fio) { fileIO = fio; }

var BRACKETS = { 0: "bracket", 1: "brace", 2: "square", 3: "line" };

function scoreFile(ms) {
    if (!fileIO || !ms.writeScore || !fileIO.tempPath) return null;
    var base = fileIO.tempPath() + "/notabridge-read-" + Date.now();
    if (!ms.writeScore(ms.curScore, base, "mscx")) return null;
    fileIO.source = base + ".mscx";
    var text = fileIO.read();
    fileIO.remove();
    var main = (text.split("<Score>")[1] || text).split("<Excerpt")[0];      // parts follow the main score
    var out = { modes: {}, brackets: [], voltas: {} };
    // staff definitions inside <Part>: brackets (type, span in staves)
    var definitions = [], music = null, re = /<Staff id="(\d+)">([\s\S]*?)<\/Staff>/g, m;
    while ((m = re.exec(main)) !== null) {
        if (m[2].indexOf("<Measure") >= 0) { if (m[1] === "1" && !music) music = m[2]; }
        else definitions[parseInt(m[1], 10) - 1] = m[2];
    }
    for (var s = 0; s < definitions.length; s++) {
        var def = definitions[s] || "", b = /<bracket type="(\d+)" span="(\d+)"/.exec(def);
        if (!b || !BRACKETS[b[1]] || parseInt(b[2], 10) < 2) continue;
        // barline: false as MuseScore 3.2's own MusicXML export writes it (no <group-barline>, whatever
        // the staves' barLineSpan), which is the text NotaGen would get from the user's export
        out.brackets.push({ first: s, last: s + parseInt(b[2], 10) - 1, symbol: BRACKETS[b[1]], barline: false });
    }
    if (!music) return out;
    var measures = music.split(/<Measure[ >]/).slice(1);
    for (var i = 0; i < measures.length; i++) {
        var body = measures[i], mode = /<KeySig>[\s\S]*?<\/KeySig>/.exec(body);
        if (mode) out.modes[i] = (/<mode>(\w+)<\/mode>/.exec(mode[0]) || [null, "none"])[1];
        var volta = /<Spanner type="Volta">\s*<Volta>([\s\S]*?)<\/Volta>([\s\S]*?)<\/Spanner>/.exec(body);
        if (volta) {
            var endings = (/<endings>([^<]*)<\/endings>/.exec(volta[1]) || [null, "1"])[1].replace(/\s+/g, "");
            var span = parseInt((/<measures>(\d+)<\/measures>/.exec(volta[2]) || [null, "1"])[1], 10);
            (out.voltas[i] = out.voltas[i] || {}).volta = endings;
            // endHookType 1: a hook at the end (MusicXML "stop"), else "discontinue"
            var end = Math.max(i, i + span - 1);
            (out.voltas[end] = out.voltas[end] || {}).volta_end = /<endHookType>1</.test(volta[1]) ? "stop" : "discontinue";
        }
    }
    return out;
}
