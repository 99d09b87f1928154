// A labelled one-line text field (numbers and short lists), QtQuick primitives only.
import QtQuick 2.9

Row {
    id: field
    property alias label: caption.text
    property alias text: input.text
    property int fieldWidth: 90
    signal accepted()
    spacing: 8
    Text { id: caption; width: 110; font.pixelSize: 13; anchors.verticalCenter: parent.verticalCenter }
    Rectangle {
        width: fieldWidth; height: 26; radius: 3; color: "white"; border.color: input.activeFocus ? "#3d6db5" : "#8a99ad"
        TextInput { id: input; anchors.fill: parent; anchors.margins: 5; font.pixelSize: 13; selectByMouse: true; clip: true
                    onAccepted: field.accepted() }
    }
}
