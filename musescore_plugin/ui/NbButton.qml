// A push button from QtQuick primitives only, so the same file loads in Qt 5 (MuseScore 3) and Qt 6 (MuseScore 4).
import QtQuick 2.9

Rectangle {
    id: button
    property alias text: label.text
    signal clicked()
    implicitWidth: Math.max(72, label.implicitWidth + 20)
    implicitHeight: 28
    radius: 4
    opacity: enabled ? 1.0 : 0.4
    color: area.pressed ? "#c8d4e6" : "#e4e9f0"
    border.color: "#8a99ad"
    Text { id: label; anchors.centerIn: parent; font.pixelSize: 13 }
    MouseArea { id: area; anchors.fill: parent; onClicked: button.clicked() }
}
