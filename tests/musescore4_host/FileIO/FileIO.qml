// Stand-in for MuseScore's FileIO type: a plugin folder without a batch file.
import QtQuick

QtObject {
    property string source
    function exists() { return false; }
    function read() { return ""; }
    function write(text) { return false; }
}
