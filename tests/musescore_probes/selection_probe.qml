// Test probe (not installed for users): loads beside the installed plugin's notabridge.js and
// selects every range listed in selection_probe.json with the plugin's own selectMeasures, then
// reads each selection back as the plugin does; writes what it found to the file the JSON names.
import QtQuick 2.9
import MuseScore 3.0
import FileIO 3.0
import "notabridge.js" as NB

MuseScore {
    id: root
    menuPath: "Plugins.NotaBridgeSelectionProbe"
    FileIO { id: fio }
    onRun: {
        var folder = NB.pluginFolder(root, Qt.resolvedUrl("."));
        fio.source = folder + "/selection_probe.json";   // written by tests/musescore_helpers.run_probe
        var job = JSON.parse(fio.read()), out = [];
        for (var i = 0; i < job.ranges.length; i++) {
            var r = job.ranges[i], row = { range: r };
            try {
                if (r[4]) curScore.startCmd();      // [4]: select as inside an open undo command
                NB.selectMeasures(root, r[0], r[1], r[2], r[3] || 0, !!r[4]);
                if (r[4]) curScore.endCmd();
                row.ok = true;
            } catch (e) { row.ok = false; row.message = String(e.message || e); }
            var sel = NB.selectionRange(root, NB.measureTable(root));
            row.read = sel ? [sel.start, sel.end, sel.staves[sel.staves.length - 1], sel.staves[0]] : null;
            out.push(row);
        }
        fio.source = job.output;
        fio.write(JSON.stringify({ measures: NB.measureTable(root).length, staves: curScore.nstaves, rows: out }));
    }
}
