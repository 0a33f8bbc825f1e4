"""The generate panel: model, mode, instruction, class, sampling settings, Generate.

A view over ``JobSettings``: ``settings()`` snapshots what is shown; the job controller decides
what to do with it. Modes the installed models cannot run stay visible but disabled, with a
tooltip that says why and what to do about it.
"""

from __future__ import annotations

import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import engine_access
from app.classes import parse_class
from app.engine_access import ModelEntry
from app.requests import JobSettings
from app.state.tool_settings import ToolSettings
from app.widgets.prompt_inputs import ClassPicker, InstructionEdit

MAX_SEED = 2**31 - 1
# Modes whose run the planner may describe beforehand (upscales; the big text models' memory).
ESTIMATED_MODES = ("upscale", "edit", "inpaint", "outpaint", "generate")
NO_MODEL_REASON = engine_access.why_not(None, "inpaint")
BUTTON_TEXT = {
    "inpaint": "Fill mask",
    "outpaint": "Extend canvas…",
    "edit": "Edit",
    "upscale": "Upscale",
    "generate": "Generate",
}


class GeneratePanel(QWidget):
    generate_requested = Signal()
    models_requested = Signal()
    import_requested = Signal()
    download_requested = Signal()
    mode_changed = Signal(str)

    def __init__(self, tools: ToolSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self._tools = tools
        self._models: list[ModelEntry] = []
        self._suggestions: dict[str, str | None] = {}  # task -> which model to get
        self._busy = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)

        self.model_stack = QStackedWidget(self)
        self.model_combo = QComboBox(self)
        self.model_combo.setToolTip("The model that runs the job")
        manage = QPushButton("Models…", self)
        manage.clicked.connect(self.models_requested.emit)
        picker = QWidget(self)
        row = QHBoxLayout(picker)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.model_combo, 1)
        row.addWidget(manage)
        self.model_stack.addWidget(picker)
        self.model_stack.addWidget(self._no_model_page())
        layout.addWidget(self.model_stack)

        form = QFormLayout()
        self.mode_combo = QComboBox(self)
        mode_model = QStandardItemModel(self.mode_combo)
        self.mode_combo.setModel(mode_model)
        for key, label in engine_access.TASKS.items():
            self.mode_combo.addItem(label, key)
        form.addRow("Mode", self.mode_combo)
        self.instruction = InstructionEdit(self)
        form.addRow("Prompt", self.instruction)
        self.class_picker = ClassPicker(self)
        form.addRow("Class", self.class_picker)
        self._top_form = form
        layout.addLayout(form)
        layout.addWidget(self._sampling_box())

        self.generate_button = QPushButton("Fill mask", self)
        self.generate_button.setDefault(True)
        self.generate_button.setMinimumHeight(34)
        self.generate_button.setStyleSheet("QPushButton { font-weight: bold; }")
        self.generate_button.clicked.connect(self.generate_requested.emit)
        layout.addWidget(self.generate_button)
        self.estimate = QLabel(self)  # the planner's word before an upscale: tiles, time, memory
        self.estimate.setWordWrap(True)
        self.estimate.setObjectName("estimate")
        layout.addWidget(self.estimate)
        self.blocker = QLabel(self)
        self.blocker.setWordWrap(True)
        self.blocker.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.blocker)
        layout.addStretch(1)

        self.instruction.submitted.connect(self._on_submitted)
        self.instruction.textChanged.connect(self._on_instruction_edited)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_changed)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.grow.valueChanged.connect(self._push_grow_feather)
        self.feather.valueChanged.connect(self._push_grow_feather)
        self.set_models([])
        self.apply_task_defaults()

    # -- construction -------------------------------------------------------------------------

    def _no_model_page(self) -> QWidget:
        page = QFrame(self)
        page.setFrameShape(QFrame.Shape.StyledPanel)
        box = QVBoxLayout(page)
        title = QLabel("<b>No model installed</b>", page)
        text = QLabel(
            "Finescale needs a model to fill, extend or generate. Import checkpoint files "
            "you already have, or download one once and work offline after that.",
            page,
        )
        text.setWordWrap(True)
        buttons = QHBoxLayout()
        self.import_button = QPushButton("Import…", page)
        self.download_button = QPushButton("Download…", page)
        self.import_button.clicked.connect(self.import_requested.emit)
        self.download_button.clicked.connect(self.download_requested.emit)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.download_button)
        box.addWidget(title)
        box.addWidget(text)
        box.addLayout(buttons)
        return page

    def _sampling_box(self) -> QGroupBox:
        group = QGroupBox("Sampling", self)
        form = QFormLayout(group)
        self.seed = QSpinBox(group)
        self.seed.setRange(0, MAX_SEED)
        self.seed.setValue(random.randint(0, 99_999))
        self.seed_lock = QCheckBox("Lock", group)
        self.seed_lock.setToolTip("Locked: reuse this seed. Unlocked: a new seed for every run.")
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.seed_lock)
        form.addRow("Seed", seed_row)
        self.samples = _spin(group, 1, 4, 2, "How many variations to make")
        form.addRow("Variations", self.samples)
        self.cfg = _double(group, 0.0, 20.0, 0.5, 3.0, "Guidance: higher follows the class harder")
        form.addRow("CFG", self.cfg)
        self.top_k = _spin(group, 0, 16384, 900, "Sample among the k likeliest tokens (0 = all)")
        form.addRow("Top-k", self.top_k)
        self.top_p = _double(group, 0.0, 1.0, 0.01, 0.95, "Nucleus sampling (0 = off)")
        form.addRow("Top-p", self.top_p)
        self.tau = _double(group, 0.05, 2.0, 0.05, 1.0, "Temperature: lower is more literal")
        self.tau_label = QLabel("τ", group)
        form.addRow(self.tau_label, self.tau)
        self.limit_to_mask = QCheckBox("Limit to mask", group)
        self.limit_to_mask.setToolTip(
            "Change only the painted area: every pixel outside it stays exactly as it is."
        )
        form.addRow("", self.limit_to_mask)
        self.upscale_factor = QComboBox(group)
        for factor in (2, 3, 4):
            self.upscale_factor.addItem(f"×{factor}", factor)
        self.upscale_factor.setToolTip("How many times wider and taller the result is")
        self.factor_label = QLabel("Factor", group)
        form.addRow(self.factor_label, self.upscale_factor)
        self.fidelity = _spin(
            group, 0, 16, 0, "Coarse scales taken from the photo (0 = what the photo determines)"
        )
        self.fidelity.setSpecialValueText("Auto")
        self.fidelity_label = QLabel("Fidelity", group)
        form.addRow(self.fidelity_label, self.fidelity)
        self.grow = _spin(group, 0, 256, self._tools.grow_px, "Grow the mask before generating")
        self.grow.setSuffix(" px")
        form.addRow("Grow", self.grow)
        self.feather = _spin(group, 0, 256, self._tools.feather_px, "Soft blend at the mask edge")
        self.feather.setSuffix(" px")
        form.addRow("Feather", self.feather)
        self._sampling_form = form
        return group

    # -- models and modes -----------------------------------------------------------------------

    def set_models(self, entries: list[ModelEntry]) -> None:
        previous = self.current_model()
        self._models = list(entries)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for entry in self._models:
            self.model_combo.addItem(entry.label)
            self.model_combo.setItemData(self.model_combo.count() - 1, entry.hint, Qt.ToolTipRole)
        if previous in self._models:
            self.model_combo.setCurrentIndex(self._models.index(previous))
        self.model_combo.blockSignals(False)
        self._show_model_page(0 if self._models else 1)
        self._update_modes()
        if self.current_model() != previous:  # signals were blocked: as _on_model_changed
            self.apply_task_defaults()

    def _show_model_page(self, index: int) -> None:
        """Only the visible page counts for the height, so the picker row stays compact."""
        policy = QSizePolicy.Policy
        for page in range(self.model_stack.count()):
            vertical = policy.Preferred if page == index else policy.Ignored
            self.model_stack.widget(page).setSizePolicy(policy.Preferred, vertical)
        self.model_stack.setCurrentIndex(index)
        self.model_stack.adjustSize()

    def current_model(self) -> ModelEntry | None:
        index = self.model_combo.currentIndex()
        return self._models[index] if 0 <= index < len(self._models) else None

    @property
    def models(self) -> list[ModelEntry]:
        return list(self._models)

    def mode(self) -> str:
        return str(self.mode_combo.currentData())

    def set_mode(self, mode: str) -> None:
        index = self.mode_combo.findData(mode)
        if index >= 0 and self.mode_reason(mode) is None:
            self.mode_combo.setCurrentIndex(index)

    def mode_reason(self, mode: str) -> str | None:
        """Why ``mode`` cannot run now, or None when it can."""
        entry = self.current_model()
        if entry is None:
            reason = engine_access.why_not(None, mode)
        else:
            reason = engine_access.why_not(entry.family, mode, entry.label)
            if reason is None and mode not in entry.tasks:
                task = engine_access.TASKS[mode].lower()
                reason = f"{entry.label} cannot {task}; pick another model."
        if reason is not None and not any(mode in m.tasks for m in self._models):
            hint = self._suggestions.setdefault(mode, engine_access.suggest_model(mode))
            reason = f"{reason} {hint}" if hint else reason
        return reason

    def prompted(self) -> bool:
        """Whether the prompt box is a text prompt for this mode and model (an instruction
        edit, or in/out-painting with a text family such as Infinity), not a class name."""
        entry = self.current_model()
        family = engine_access.FAMILIES.get(entry.family) if entry else None
        painting = self.mode() in ("inpaint", "outpaint", "generate")
        return self.mode() == "edit" or (
            painting and family is not None and family.condition == "text"
        )

    def apply_task_defaults(self) -> None:
        """The sampler settings the capability table gives this model family and mode."""
        entry = self.current_model()
        defaults = engine_access.task_defaults(entry.family if entry else "var", self.mode())
        self.cfg.setValue(defaults.sampling.cfg)
        self.top_k.setValue(defaults.sampling.top_k)
        self.top_p.setValue(defaults.sampling.top_p)
        self.tau.setValue(defaults.sampling.tau)

    def _update_modes(self) -> None:
        model: QStandardItemModel = self.mode_combo.model()
        for row, key in enumerate(engine_access.TASKS):
            item = model.item(row)
            reason = self.mode_reason(key)
            item.setEnabled(reason in (None, NO_MODEL_REASON))
            item.setToolTip(reason or "")
        if self.mode_reason(self.mode()) is not None and self._models:
            for key in engine_access.TASKS:
                if self.mode_reason(key) is None:
                    self.set_mode(key)
                    break
        self._refresh()

    # -- state ------------------------------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._refresh()

    def set_blocker(self, reason: str | None) -> None:
        """A reason Generate cannot run (shown under the button), e.g. 'Paint a mask first'."""
        self.blocker.setText(reason or "")
        self.blocker.setVisible(bool(reason))

    def set_estimate(self, text: str) -> None:
        """What the planner expects of the run about to start: an upscale's tiles and time, an
        instruction edit's memory plan (shown in those modes only)."""
        self.estimate.setText(text)
        self.estimate.setVisible(self.mode() in ESTIMATED_MODES and bool(text))

    def set_history(self, items: list[str]) -> None:
        self.instruction.set_history(items)

    def settings(self, reroll: bool = True) -> JobSettings:
        """Snapshot for one job; an unlocked seed is re-rolled first so every run differs."""
        if reroll and not self.seed_lock.isChecked():
            self.seed.setValue(random.randint(0, MAX_SEED))
        entry = self.current_model()
        return JobSettings(
            mode=self.mode(),
            model=entry.choice if entry else None,
            class_label=self.class_picker.class_label(),
            instruction=self.instruction.text().strip(),
            seed=self.seed.value(),
            samples=self.samples.value(),
            cfg=self.cfg.value(),
            top_k=self.top_k.value(),
            top_p=self.top_p.value(),
            grow_px=self.grow.value(),
            feather_px=self.feather.value(),
            tau=self.tau.value(),
            limit_to_mask=self.limit_to_mask.isChecked(),
            scale=int(self.upscale_factor.currentData()),
            fidelity=self.fidelity.value() or None,
        )

    def _refresh(self) -> None:
        mode = self.mode()
        reason = self.mode_reason(mode)
        self.generate_button.setText(BUTTON_TEXT.get(mode, "Generate"))
        self.generate_button.setEnabled(not self._busy and reason is None)
        self.generate_button.setToolTip(reason or "Run (Enter in the prompt box)")
        editing, prompted = mode == "edit", self.prompted()
        self.instruction.setPlaceholderText(
            "Describe the change, e.g. 'make it winter'"
            if editing
            else "Describe what to paint, e.g. 'a wooden bench in the grass'"
            if prompted
            else "What goes there, e.g. 'golden retriever' or 207"
        )
        self.class_picker.setEnabled(not prompted)
        self.tau.setVisible(prompted)
        self.tau_label.setVisible(prompted)
        self.limit_to_mask.setVisible(editing)
        upscaling = mode == "upscale"
        for widget in (self.instruction, self.class_picker):  # an upscale takes no prompt
            self._top_form.setRowVisible(widget, not upscaling)
        for widget in (self.samples, self.grow, self.feather):  # one result, no mask
            self._sampling_form.setRowVisible(widget, not upscaling)
        for widget in (self.upscale_factor, self.factor_label):
            widget.setVisible(upscaling)
        entry = self.current_model()
        with_model = upscaling and entry is not None and entry.family != "lanczos"
        self.fidelity.setVisible(with_model)
        self.fidelity_label.setVisible(with_model)
        self.estimate.setVisible(mode in ESTIMATED_MODES and bool(self.estimate.text()))

    def _on_model_changed(self, _index: int) -> None:
        self._update_modes()
        self.apply_task_defaults()

    def _on_mode_changed(self, _index: int) -> None:
        self.apply_task_defaults()
        self._refresh()
        self.mode_changed.emit(self.mode())

    def _on_instruction_edited(self, text: str) -> None:
        """For VAR models a typed class name or number also picks the class."""
        if self.prompted() or not text.strip():
            return
        label = parse_class(text)
        if label is not None:
            self.class_picker.set_class_label(label)

    def _on_submitted(self) -> None:
        if self.generate_button.isEnabled():
            self.generate_requested.emit()

    def _push_grow_feather(self) -> None:
        self._tools.set_grow_feather(self.grow.value(), self.feather.value())


def _spin(parent: QWidget, low: int, high: int, value: int, tip: str) -> QSpinBox:
    spin = QSpinBox(parent)
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setAlignment(Qt.AlignmentFlag.AlignRight)
    return spin


def _double(
    parent: QWidget, low: float, high: float, step: float, value: float, tip: str
) -> QDoubleSpinBox:
    spin = QDoubleSpinBox(parent)
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setDecimals(2)
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setAlignment(Qt.AlignmentFlag.AlignRight)
    return spin
