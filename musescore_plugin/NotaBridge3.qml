// NotaBridge for MuseScore 3.x (Qt 5). The MuseScore 4 twin is NotaBridge.qml; both are thin headers
// around ui/NotaBridgePanel.qml and notabridge.js, which hold all the logic.
import QtQuick 2.9
import MuseScore 3.0
import FileIO 3.0
import "batch.js" as Batch
import "ui"

MuseScore {
    id: root
    menuPath: "Plugins.NotaBridge"
    version: "0.1.0"
    description: "Continue, infill or accompany the selected measures with a NotaGen model (needs `notabridge serve` running)"
    requiresScore: true
    pluginType: "dialog"
    width: panel.implicitWidth
    height: panel.implicitHeight

    FileIO { id: fio }
    NotaBridgePanel { id: panel; anchors.fill: parent; plugin: root; onClosed: Qt.quit() }

    onRun: {
        if (Batch.start(root, fio, panel, Qt.resolvedUrl(".")) === "done")
            Qt.quit();
    }
}
