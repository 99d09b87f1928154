// Stand-in for MuseScore 4's plugin root type (MuseScore 4 cannot be installed on the test
// machines): only the header fields and functions NotaBridge.qml uses, so Qt 6 can load the real
// plugin files and run its dialog logic up to the daemon.
import QtQuick

Item {
    property string title
    property string version
    property string description
    property string categoryCode
    property string thumbnailName
    property bool requiresScore
    property string pluginType
    property string filePath
    property var curScore: null
    property int quitCalls: 0
    signal run()
    function quit() { quitCalls++; }
    function cmd(name) { }
}
