// The NotaBridge dialog, shared by NotaBridge.qml (MuseScore 4) and NotaBridge3.qml (MuseScore 3).
// Asks the daemon for prompts and shared settings, sends the selection as a job, shows progress
// (polling with a Timer), previews each variant in the score (one undo step each) and keeps one.
import QtQuick 2.9
import "../notabridge.js" as NB
import "../write.js" as W

Rectangle {
    id: panel
    property var plugin                       // the MuseScore plugin root: curScore, cmd, newElement...
    property string daemon: NB.DEFAULT_DAEMON
    property var io: null                     // FileIO, for the saved settings beside the plugin
    property string folder: ""                // the plugin's folder
    signal closed()

    property var prompts: []                  // [[period, composer, instrumentation], ...]
    property string jobId: ""
    property var excerpt: null
    property string jobMode: ""
    property var variants: []
    property var suggestions: []              // [{prompt: [...], log_likelihood, ...}] from POST /suggest
    property int variantIndex: -1
    property bool previewing: false           // a variant is written in the score (undoable)
    property int previewSteps: 0              // how many undo steps remove it
    property string message: "Connecting to the NotaBridge daemon..."
    property real progress: 0
    property var lastWritten: []
    property var auto: null                   // a batch request with "dialog": true drives this dialog (docs/musescore.md)
    property var autoIo: null                 // FileIO for its report

    color: "#f4f6f9"
    implicitWidth: 470
    implicitHeight: 456

    Timer { id: poll; interval: 400; repeat: true; onTriggered: panel.pollJob() }
    Timer { id: scriptedCancel; interval: 150; onTriggered: panel.cancel() }

    function start() { daemonField.text = daemon; loadDaemon(); }

    // The address typed in the Daemon field: used from now on and saved beside the plugin.
    // Returns false (and says why) when it is not an address.
    function useDaemon(text) {
        var address = NB.normalizeAddress(text);
        if (!address) {
            say("'" + text + "' is not a daemon address: type the one `notabridge serve` prints, e.g. http://127.0.0.1:7878.");
            return false;
        }
        daemonField.text = address;
        if (address === daemon) return true;
        daemon = address;
        if (io && folder && !NB.saveSettings(io, folder, { daemon: address }))
            say("Using " + address + " for now; it could not be saved in " + folder + ".");
        return true;
    }

    function say(text) { message = text; }

    // A message that ends the current attempt (the score is unchanged).
    function fail(text) { say(text); autoFinish(false); }

    function loadDaemon() {
        NB.request(daemon, "GET", "/capabilities", undefined, function (err, caps) {
            if (err) { if (!auto) say(err); return; }
            prompts = caps.prompts || [];
            var names = ["(shared setting)"];
            for (var i = 0; i < prompts.length; i++) names.push(prompts[i].join(" / "));
            promptChoice.options = names;
            NB.request(daemon, "GET", "/settings", undefined, function (err2, s) {
                if (err2 || auto) { if (err2) say(err2); return; }
                temperature.text = String(s.temperature);
                topP.text = String(s.top_p);
                variantCount.text = String(s.variants);
                bars.text = String(s.bars);
                say("Ready: model " + (caps.model && caps.model.name ? caps.model.name : "") + " on " + caps.provider +
                    ". Select measures, then Generate.");
            });
        });
    }

    function numberOr(text, fallback) { var v = Number(text); return text !== "" && !isNaN(v) ? v : fallback; }

    function chosenStaves() {
        var out = [], parts = staves.text.split(",");
        for (var i = 0; i < parts.length; i++) { var n = parseInt(parts[i], 10); if (n > 0) out.push(n - 1); }
        return out;
    }

    function settings() {
        var s = { temperature: numberOr(temperature.text, undefined), top_p: numberOr(topP.text, undefined),
                  variants: numberOr(variantCount.text, undefined), bars: numberOr(bars.text, undefined) };
        if (promptChoice.index > 0) {
            var p = prompts[promptChoice.index - 1];
            s.prompt = { period: p[0], composer: p[1], instrumentation: p[2] };
        }
        if (auto && auto.settings && auto.settings.seed !== undefined) s.seed = auto.settings.seed;
        return s;
    }

    function generate() {
        if (!useDaemon(daemonField.text)) return;
        discardPreview();
        variants = []; variantIndex = -1; progress = 0;
        jobMode = modeChoice.value;
        try {
            excerpt = NB.readSelection(plugin, { mode: jobMode, staves: jobMode === "accompany" ? chosenStaves() : null });
        } catch (e) { fail(e.message); return; }
        if (jobMode === "accompany" && !chosenStaves().length) { fail("Accompany: type the staves to write (e.g. 2,3)."); return; }
        NB.request(daemon, "POST", "/jobs", NB.jobBody(jobMode, excerpt, settings()), function (err, job) {
            if (err) { fail(err); return; }
            jobId = job.id;
            say("Queued...");
            poll.start();
        });
    }

    // Asks the daemon which of the model's prompts fit the selected measures; each answer becomes
    // a button that picks that style in one click.
    function suggest() {
        suggestions = [];
        var selected;
        try { selected = NB.readSelection(plugin, { mode: "continue" }); } catch (e) { fail(e.message); return; }
        say("Listening to the selection...");
        NB.request(daemon, "POST", "/suggest", { excerpt: selected }, function (err, res) {
            if (err) { fail(err); return; }
            suggestions = (res.suggestions && res.suggestions.suggestions) || [];
            say(NB.suggestionText(res.suggestions) + (suggestions.length ? " Click one to use it." : ""));
        });
    }

    function useSuggestion(i) {
        var wanted = suggestions[i].prompt.join(" / ");
        var at = promptChoice.options.indexOf(wanted);
        if (at < 0) { say("The style " + wanted + " is not in this model's list."); return; }
        promptChoice.index = at;
        say("Style set to " + wanted + ". Select measures, then Generate.");
    }

    function pollJob() {
        if (!jobId) { poll.stop(); return; }
        NB.request(daemon, "GET", "/jobs/" + jobId, undefined, function (err, st) {
            if (err) { poll.stop(); jobId = ""; fail(err + " The score was not changed."); return; }
            var p = st.progress || {};
            if (p.bars_total) progress = p.bars_done / p.bars_total;
            if (st.status === "queued" || st.status === "running") {
                // a scripted run with "cancel": true presses Cancel once the job is under way, between
                // two polls as a user would (not from inside a request's callback)
                if (auto && auto.cancel && !auto.cancelPressed) { auto.cancelPressed = true; scriptedCancel.start(); }
                say((st.status === "queued" ? "Waiting in the queue" : "Writing bar " + (p.bars_done || 0) + " of " + (p.bars_total || "?"))
                    + (p.variant !== undefined && p.variant !== null ? " (variant " + (p.variant + 1) + ")" : "") + "...");
                return;
            }
            poll.stop();
            var id = jobId; jobId = "";
            if (st.status === "error") { fail("The job failed: " + (st.error || "no reason given") + ". The score was not changed."); return; }
            if (st.status === "cancelled") { fail("Cancelled. The score was not changed."); return; }
            NB.request(daemon, "GET", "/jobs/" + id + "/result?formats=excerpt", undefined, function (err2, res) {
                if (err2) { fail(err2); return; }
                variants = res.variants || [];
                if (!variants.length) { fail("The daemon returned no variant. The score was not changed."); return; }
                showVariant(0);
                // a scripted run steps through the variants up to the one it keeps, as a user would
                while (auto && previewing && variantIndex < Math.min(auto.variant || 0, variants.length - 1)) showVariant(variantIndex + 1);
                if (auto) autoFinish(previewing);
            });
        });
    }

    function showVariant(i) {
        discardPreview();
        try {
            var done = W.applyResult(plugin, variants[i].excerpt, { mode: jobMode, selection: excerpt.selection, staves: excerpt.selection.staves });
            previewing = true;
            previewSteps = done.undoSteps;
            variantIndex = i;
            lastWritten = done.written;
            say("Variant " + (i + 1) + " of " + variants.length + " written in the score (" + done.written.length + " measures)." +
                (variants.length > 1 ? " Step through with < >, then Keep." : " Keep it or Discard.") +
                (done.warnings.length ? " Note: " + done.warnings.join(" ") : "") +
                NB.originalityText(variants[i].originality));
        } catch (e) { variantIndex = i; say(e.message); if (auto) autoFinish(false); }
    }

    function discardPreview() {
        if (previewing) { W.undo(plugin, previewSteps); previewing = false; }
    }

    // Fills the dialog from a batch request, selects its measures and presses Generate.
    function autorun(batch, io) {
        auto = batch;
        autoIo = io;
        if (batch.daemon) daemonField.text = batch.daemon;      // typed in the Daemon field; Generate uses it
        modeChoice.index = Math.max(0, modeChoice.options.indexOf(batch.mode));
        var s = batch.settings || {};
        if (s.temperature !== undefined) temperature.text = String(s.temperature);
        if (s.top_p !== undefined) topP.text = String(s.top_p);
        if (s.variants !== undefined) variantCount.text = String(s.variants);
        if (s.bars !== undefined) bars.text = String(s.bars);
        var chosen = batch.staves && batch.staves.length ? batch.staves : [0];
        staves.text = chosen.map(function (x) { return x + 1; }).join(",");
        if (batch.before_output) {            // the score as it was, saved by this MuseScore
            var before = NB.stripExtension(batch.before_output);
            plugin.writeScore(plugin.curScore, before.base, before.ext);
        }
        if (batch.measures) NB.selectMeasures(plugin, batch.measures[0], batch.measures[1], Math.max.apply(null, chosen));
        if (batch.result_file) { previewFile(batch); return; }
        generate();
        loadDaemon();
    }

    // A scripted run with a result file: previews it as if the daemon had sent it (no daemon asked).
    function previewFile(batch) {
        jobMode = batch.apply_as || batch.mode;
        try {
            excerpt = NB.readSelection(plugin, { mode: jobMode, staves: batch.staves });
            autoIo.source = batch.result_file;
            variants = [{ excerpt: JSON.parse(autoIo.read()) }];
        } catch (e) { fail(e.message); return; }
        showVariant(0);
        autoFinish(previewing);
    }

    // Ends a scripted run: keeps the previewed variant, saves the score, writes the report.
    function autoFinish(ok) {
        if (!auto) return;
        var batch = auto, report = { ok: ok, dialog: true, message: message, mode: jobMode, written: ok ? lastWritten : [],
                                     variants: variants.length, kept: ok ? variantIndex : -1 };
        auto = null;
        if (ok) {
            previewing = false;
            if (batch.output) {
                var out = NB.stripExtension(batch.output);
                report.saved = plugin.writeScore(plugin.curScore, out.base, out.ext) ? batch.output : null;
            }
        }
        autoIo.source = batch.report;
        autoIo.write(JSON.stringify(report, null, 1));
        closed();
    }

    function cancel() {
        if (jobId) { NB.request(daemon, "POST", "/jobs/" + jobId + "/cancel", {}, function () {}); say("Cancelling..."); return; }
        discardPreview();
        closed();
    }

    Column {
        anchors.fill: parent
        anchors.margins: 14
        spacing: 8
        Text { text: "NotaBridge"; font.pixelSize: 17; font.bold: true }
        NbField { id: daemonField; label: "Daemon"; fieldWidth: 300
                  onAccepted: if (panel.useDaemon(text)) panel.loadDaemon() }
        NbChoice { id: modeChoice; label: "Mode"; options: ["continue", "infill", "accompany"] }
        NbChoice { id: promptChoice; label: "Style"; options: ["(shared setting)"] }
        NbField { id: bars; label: "Bars (continue)" }
        NbField { id: staves; label: "Staves to write"; visible: modeChoice.value === "accompany"; text: "2" }
        NbField { id: temperature; label: "Temperature" }
        NbField { id: topP; label: "Top-p" }
        NbField { id: variantCount; label: "Variants" }
        Rectangle {
            width: parent.width; height: 8; radius: 4; color: "#dde3ea"
            Rectangle { width: parent.width * panel.progress; height: parent.height; radius: 4; color: "#3d6db5" }
        }
        Repeater {
            model: panel.suggestions.length
            NbButton { text: (index + 1) + ". " + panel.suggestions[index].prompt.join(" / "); objectName: "suggestion" + index
                       onClicked: panel.useSuggestion(index) }
        }
        Text { width: parent.width; wrapMode: Text.WordWrap; font.pixelSize: 13; text: panel.message; objectName: "message" }
        Row {
            spacing: 8
            NbButton { text: "Generate"; enabled: !panel.jobId; onClicked: panel.generate() }
            NbButton { text: "Suggest"; enabled: !panel.jobId; onClicked: panel.suggest() }
            NbButton { text: panel.jobId ? "Cancel" : (panel.previewing ? "Discard" : "Close"); onClicked: panel.cancel() }
            NbButton { text: "<"; implicitWidth: 28; visible: panel.variants.length > 1
                       onClicked: panel.showVariant((panel.variantIndex + panel.variants.length - 1) % panel.variants.length) }
            NbButton { text: ">"; implicitWidth: 28; visible: panel.variants.length > 1
                       onClicked: panel.showVariant((panel.variantIndex + 1) % panel.variants.length) }
            NbButton { text: "Keep"; visible: panel.previewing; onClicked: { panel.previewing = false; panel.closed(); } }
        }
    }
}
