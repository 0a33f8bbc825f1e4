"""The mask tool bar: tools, brush size/hardness, overlay opacity, mask actions.

Only binds ``ToolSettings`` and emits requests for document-level actions; it never reaches
into the canvas or the document itself.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QLabel, QSlider, QSpinBox, QToolBar, QWidget

from app.state.tool_settings import MAX_SIZE, MIN_SIZE, ToolSettings

_TOOLS = (
    ("brush", "Brush", "B", "Paint the area to regenerate"),
    ("eraser", "Eraser", "E", "Remove paint from the mask"),
    ("rect", "Rectangle", "R", "Drag a rectangle to add it to the mask (Alt: subtract)"),
    ("lasso", "Lasso", "L", "Draw a closed shape to add it to the mask (Alt: subtract)"),
)


class MaskToolBar(QToolBar):
    invert_requested = Signal()
    clear_requested = Signal()
    save_mask_requested = Signal()
    load_mask_requested = Signal()

    def __init__(self, tools: ToolSettings, parent: QWidget | None = None):
        super().__init__("Mask tools", parent)
        self.setObjectName("mask_tools")
        self._tools = tools
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.tool_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for key, label, shortcut, tip in _TOOLS:
            action = QAction(label, self, checkable=True)
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{tip} ({shortcut})")
            action.triggered.connect(lambda _checked=False, k=key: tools.set_tool(k))
            group.addAction(action)
            self.addAction(action)
            self.tool_actions[key] = action
        self.addSeparator()

        self.size_spin = QSpinBox(self)
        self.size_spin.setRange(MIN_SIZE, MAX_SIZE)
        self.size_spin.setSuffix(" px")
        self.size_spin.setToolTip("Brush size ([ smaller, ] larger)")
        self.size_spin.valueChanged.connect(tools.set_size)
        self.addWidget(QLabel(" Size ", self))
        self.addWidget(self.size_spin)

        self.hardness = self._slider("Hardness: soft edges are dithered, then feathered", 0, 100)
        self.hardness.valueChanged.connect(lambda v: tools.set_hardness(v / 100))
        self.addWidget(QLabel("  Hardness ", self))
        self.addWidget(self.hardness)

        self.opacity = self._slider("How strongly the mask tint covers the image", 5, 100)
        self.opacity.valueChanged.connect(lambda v: tools.set_opacity(v / 100))
        self.addWidget(QLabel("  Overlay ", self))
        self.addWidget(self.opacity)
        self.addSeparator()

        # Shortcut-only actions: the window adds them to itself (the size spin box shows them).
        self.smaller = self._action("Smaller brush", "[", lambda: tools.grow_size(-1), add=False)
        self.larger = self._action("Larger brush", "]", lambda: tools.grow_size(1), add=False)
        self.shortcut_actions = [self.smaller, self.larger]
        self.invert = self._action("Invert", "Ctrl+I", self.invert_requested.emit)
        self.clear = self._action("Clear", "Shift+Delete", self.clear_requested.emit)
        self.grow_preview = self._action("Show grow/feather", "G", None, checkable=True)
        self.grow_preview.setToolTip(
            "Preview the area that is really regenerated after grow and feather (G)"
        )
        self.grow_preview.toggled.connect(tools.set_show_grow)
        self.save_mask = self._action("Save mask…", None, self.save_mask_requested.emit)
        self.load_mask = self._action("Load mask…", None, self.load_mask_requested.emit)

        tools.changed.connect(self._sync)
        self._sync()

    def _slider(self, tip: str, low: int, high: int) -> QSlider:
        slider = QSlider(Qt.Orientation.Horizontal, self)
        slider.setRange(low, high)
        slider.setFixedWidth(90)
        slider.setToolTip(tip)
        return slider

    def _action(
        self, text: str, shortcut: str | None, slot, checkable: bool = False, add: bool = True
    ) -> QAction:
        action = QAction(text, self, checkable=checkable)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{text} ({shortcut})")
        if slot is not None:
            action.triggered.connect(lambda _checked=False: slot())
        if add:
            self.addAction(action)
        return action

    def _sync(self) -> None:
        """Show the settings' values without echoing them back."""
        tools = self._tools
        for key, action in self.tool_actions.items():
            action.setChecked(key == tools.tool)
        for widget, value in (
            (self.size_spin, tools.size),
            (self.hardness, round(tools.hardness * 100)),
            (self.opacity, round(tools.opacity * 100)),
        ):
            if widget.value() != value:
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)
        if self.grow_preview.isChecked() != tools.show_grow:
            self.grow_preview.setChecked(tools.show_grow)
