// A labelled picker: "<" and ">" step through `options` (strings), QtQuick primitives only.
import QtQuick 2.9

Row {
    id: choice
    property alias label: caption.text
    property var options: []
    property int index: 0
    readonly property string value: options.length ? options[index] : ""
    spacing: 8
    Text { id: caption; width: 110; font.pixelSize: 13; anchors.verticalCenter: parent.verticalCenter }
    NbButton { text: "<"; implicitWidth: 28; enabled: choice.options.length > 1
               onClicked: choice.index = (choice.index + choice.options.length - 1) % choice.options.length }
    Text { width: 220; elide: Text.ElideRight; font.pixelSize: 13; anchors.verticalCenter: parent.verticalCenter
           text: choice.value }
    NbButton { text: ">"; implicitWidth: 28; enabled: choice.options.length > 1
               onClicked: choice.index = (choice.index + 1) % choice.options.length }
}
