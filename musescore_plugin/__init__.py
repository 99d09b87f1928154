"""The MuseScore plugin files (QML and JavaScript), shipped as package data for `notabridge install-musescore-plugin`."""
