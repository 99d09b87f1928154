// NotaBridge for MuseScore 4.x (Qt 6 imports, MuseScore 4 header fields). The MuseScore 3 twin is
// NotaBridge3.qml; both are thin headers around ui/NotaBridgePanel.qml and the .js files.
import QtQuick
import MuseScore 3.0
import FileIO 3.0
import "batch.js" as Batch
import "ui"

MuseScore {
    id: root
    title: "NotaBridge"
    version: "0.1.0"
    description: "Continue, infill or accompany the selected measures with a NotaGen model (needs `notabridge serve` running)"
    categoryCode: "composing-arranging-tools"
    thumbnailName: "notabridge.png"
    requiresScore: true
    pluginType: "dialog"
    width: panel.implicitWidth
    height: panel.implicitHeight

    FileIO { id: fio }
    NotaBridgePanel { id: panel; anchors.fill: parent; plugin: root; onClosed: root.quit() }

    onRun: {
        if (Batch.start(root, fio, panel, Qt.resolvedUrl(".")) === "done")
            root.quit();
    }
}
