"""``r``: revoke this call or every call of its task, once or until a time."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Static

from ..actions import RevokeChoice, Target


class RevokeScreen(ModalScreen[RevokeChoice | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: Target) -> None:
        super().__init__()
        self.target = target

    def compose(self) -> ComposeResult:
        t = self.target
        with Vertical(id="dialog", classes="revoke"):
            yield Static("Revoke", classes="dialog-title")
            with RadioSet(id="scope"):
                if t.task_id:
                    yield RadioButton(f"this call only: {t.task_id}", value=True, id="scope-id")
                if t.name:
                    yield RadioButton(
                        f"every call of {t.name}", value=not t.task_id, id="scope-task"
                    )
            # One call runs once anyway: "once" only means something for a task name.
            yield Checkbox(
                "once: only the next run it stops",
                value=bool(t.task_id),
                disabled=bool(t.task_id),
                id="once",
            )
            with Horizontal(classes="until"):
                yield Label("for")
                yield Input(placeholder="minutes", type="number", id="minutes")
                yield Label("minutes (empty: until restored with u)")
            with Horizontal(classes="buttons"):
                yield Button("Revoke", variant="warning", id="revoke")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(RadioSet).focus()

    @on(RadioSet.Changed)
    def _scope_changed(self, event: RadioSet.Changed) -> None:
        # One call is naturally revoked once; a whole task usually until restored.
        one_call = event.pressed.id == "scope-id"
        once = self.query_one("#once", Checkbox)
        once.value, once.disabled = one_call, one_call

    def choice(self) -> RevokeChoice | None:
        pressed = self.query_one(RadioSet).pressed_button
        if pressed is None:
            return None
        raw = self.query_one("#minutes", Input).value.strip()
        try:
            minutes = float(raw) if raw else None
        except ValueError:
            minutes = None
        if minutes is not None and minutes <= 0:
            minutes = None
        scope = "id" if pressed.id == "scope-id" else "task"
        return RevokeChoice(scope, self.query_one("#once", Checkbox).value, minutes)

    @on(Button.Pressed, "#revoke")
    @on(Input.Submitted, "#minutes")
    def _submit(self) -> None:
        self.dismiss(self.choice())

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
