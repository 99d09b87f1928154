// The plugin's entry point and its batch mode (docs/musescore.md, "Scripted use"), shared by
// NotaBridge.qml (MuseScore 4) and NotaBridge3.qml (MuseScore 3).
.pragma library
.import "notabridge.js" as NB
.import "write.js" as W

var BATCH_FILE = "notabridge-batch.json";


// Runs one batch request (docs/musescore.md); returns the report object (never throws).
// readFile(path) -> text or null; the caller writes the report.
// savedDaemon: the address saved by the dialog, used when the batch names none.
function runBatch(ms, batch, readFile, savedDaemon) {
    var report = { ok: false, mode: batch.mode, message: "", warnings: [], written: [] };
    function save(path) {
        var out = NB.stripExtension(path);
        if (!ms.writeScore(ms.curScore, out.base, out.ext)) throw new Error("could not save the score to " + path);
        return path;
    }
    try {
        if (!ms.curScore) throw new Error("No score is open.");
        var table = NB.measureTable(ms);
        if (batch.measures) {
            var a = batch.measures[0], b = batch.measures[1];
            if (!(a >= 0 && b > a && b <= table.length))
                throw new Error("batch 'measures' must be [first, end) within 0.." + table.length);
            var staves = batch.staves && batch.staves.length ? batch.staves : [0];
            NB.selectMeasures(ms, a, b, Math.max.apply(null, staves));
        }
        var mode = batch.mode === "export-only" || batch.mode === "apply-only" || batch.mode === "suggest"
            ? (batch.apply_as || "continue") : batch.mode;
        var excerpt = NB.readSelection(ms, { mode: mode, staves: batch.staves,
                                          contextBefore: batch.context_before, contextAfter: batch.context_after });
        report.selection = excerpt.selection;
        report.score_measures = table.length;
        report.excerpt = excerpt;
        if (batch.mode === "export-only") { report.ok = true; report.message = "excerpt exported"; return report; }
        if (batch.mode === "suggest") {      // the style prompts that fit the selection; the score is not touched
            var daemon = batch.daemon ? NB.normalizeAddress(batch.daemon) : savedDaemon;
            report.suggestions = NB.requestSync(daemon, "POST", "/suggest", { excerpt: excerpt }).suggestions;
            report.ok = true;
            report.message = NB.suggestionText(report.suggestions);
            return report;
        }
        if (batch.before_output) save(batch.before_output);      // the score as loaded, saved by this MuseScore
        var result;
        if (batch.mode === "apply-only") {
            var text = readFile(batch.result_file);
            if (!text) throw new Error("cannot read result_file " + batch.result_file);
            result = JSON.parse(text);
        } else {
            var base = batch.daemon ? NB.normalizeAddress(batch.daemon) : savedDaemon;
            if (!base) throw new Error("batch 'daemon' " + JSON.stringify(batch.daemon) + " is not an address like http://127.0.0.1:7878");
            var answer = NB.runJobSync(base, NB.jobBody(mode, excerpt, batch.settings || {}), batch.timeout);
            var variant = answer.variants[batch.variant || 0];
            if (!variant) throw new Error("the daemon returned no variant " + (batch.variant || 0));
            result = variant.excerpt;
            report.originality = variant.originality || null;
            report.job = { provider: answer.provider, seconds: answer.seconds, variants: answer.variants.length, warnings: answer.warnings || [] };
            report.result = result;
        }
        var done = W.applyResult(ms, result, { mode: mode, selection: excerpt.selection, staves: batch.staves });
        report.written = done.written;
        report.warnings = done.warnings;
        if (batch.output) report.saved = save(batch.output);
        report.ok = true;
        report.message = "wrote " + done.written.length + " measure(s)";
        if (batch.undo_output) {              // one Ctrl+Z, as a user would press it, then saved
            W.undo(ms, 1);
            report.undone = save(batch.undo_output);
        }
    } catch (err) {
        report.message = String(err.message || err);
    }
    return report;
}


// The plugin's entry point. If a batch file sits beside the plugin, runs it: headless (returns "done",
// the report is written) or, with "dialog": true, through the dialog's asynchronous path (returns
// "dialog"). Without a batch file starts the dialog (returns "dialog").
// fio: a FileIO item (MuseScore's file access for plugins); panel: the NotaBridgePanel.
function start(ms, fio, panel, folderUrl) {
    var folder = NB.pluginFolder(ms, folderUrl);
    W.setFileIO(fio);
    var saved = NB.normalizeAddress(NB.loadSettings(fio, folder).daemon);
    if (saved) panel.daemon = saved;
    panel.io = fio;
    panel.folder = folder;
    fio.source = folder + "/" + BATCH_FILE;
    if (!fio.exists()) { panel.start(); return "dialog"; }
    var batch = null, report;
    try { batch = JSON.parse(fio.read()); }
    catch (e) { report = { ok: false, message: "cannot parse " + fio.source + ": " + e.message }; }
    if (batch && batch.dialog) { panel.autorun(batch, fio); return "dialog"; }
    function readFile(path) { fio.source = path; return fio.exists() ? fio.read() : null; }
    if (batch) report = runBatch(ms, batch, readFile, saved || NB.DEFAULT_DAEMON);
    console.log("NotaBridge batch: " + (report.ok ? "ok: " : "failed: ") + report.message);
    fio.source = batch && batch.report ? batch.report : NB.pluginFolder(ms, folderUrl) + "/notabridge-report.json";
    fio.write(JSON.stringify(report, null, 1));
    return "done";
}
