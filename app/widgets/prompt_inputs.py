"""The two text inputs of the generate panel: instruction (with history) and class picker."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QCompleter, QLineEdit, QWidget

from app.classes import ANY_CLASS_LABEL, choices, class_display, parse_class
from app.engine_access import UNCONDITIONAL_CLASS


class InstructionEdit(QLineEdit):
    """Enter submits; Up/Down walk through recent instructions, like a shell."""

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setClearButtonEnabled(True)
        self._history: list[str] = []
        self._position = -1
        self._model = QStringListModel(self)
        completer = QCompleter(self._model, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompleter(completer)
        self.returnPressed.connect(self._on_return)

    @property
    def history(self) -> list[str]:
        return list(self._history)

    def set_history(self, items: list[str]) -> None:
        self._history = list(items)
        self._model.setStringList(self._history)
        self._position = -1

    def _on_return(self) -> None:
        if self.completer().popup().isVisible():
            return  # Enter picked a completion; a second Enter submits
        self.submitted.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self._history:
            step = 1 if event.key() == Qt.Key.Key_Up else -1
            self._position = max(-1, min(len(self._history) - 1, self._position + step))
            self.setText("" if self._position < 0 else self._history[self._position])
            event.accept()
            return
        super().keyPressEvent(event)


class ClassPicker(QComboBox):
    """Editable list of common ImageNet classes; any number 0-999 may be typed."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.addItems(choices())
        completer = QCompleter(choices(), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompleter(completer)
        self.lineEdit().setPlaceholderText("class name or number 0–999")
        self.setToolTip(
            "What VAR should paint: an ImageNet class. Pick a common one, search by name, "
            "or type any class number 0–999."
        )
        self.lineEdit().textChanged.connect(self._validate)

    def class_label(self) -> int:
        """The chosen class; unknown text counts as 'Any'."""
        label = parse_class(self.currentText())
        return UNCONDITIONAL_CLASS if label is None else label

    def is_valid(self) -> bool:
        return parse_class(self.currentText()) is not None

    def set_class_label(self, label: int) -> None:
        text = class_display(label)
        index = self.findText(text)
        if index >= 0:
            self.setCurrentIndex(index)
        else:
            self.setEditText(text)

    def _validate(self, text: str) -> None:
        ok = parse_class(text) is not None
        self.setStyleSheet("" if ok else "QComboBox { border: 1px solid #d04040; }")
        if not ok:
            self.setToolTip("Unknown class: type a number 0–999 or pick a name from the list.")
        elif text == ANY_CLASS_LABEL:
            self.setToolTip("No class: the model fills in whatever fits the surroundings.")
        else:
            self.setToolTip(f"Class {self.class_label()}")
