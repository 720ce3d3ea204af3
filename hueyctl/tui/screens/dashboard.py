"""The main screen: header, counts, plots, per-task table and the tabbed listings.

It only displays what the app hands down (``apply``) and posts what the operator
asked for (``messages.Act``, ``OpenTask``, ``QueryChanged``); it does no IO.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane, Tabs
from textual.widgets._tabs import Underline  # not re-exported; see _underline_active_tab

from engine.inspect import Event, Overview

from ... import present
from ...render import TASK_LISTINGS
from ..actions import Target
from ..data import PAGE, TABS, Filter, Listing, Query, Snapshot
from ..messages import MUTATING, Act, OpenTask, OpenWorker, PageEdge, QueryChanged, is_act_kind
from ..rows import COLUMNS, Revoked, Row, event_rows, periodic_rows, task_rows, worker_rows
from ..widgets.filter_bar import FilterBar
from ..widgets.live_table import LiveTable
from ..widgets.minute_plot import MinutePlot
from ..widgets.queue_counts import QueueCounts
from ..widgets.status_header import StatusHeader
from ..widgets.task_stats_table import TaskStatsTable

TITLES = {
    "workers": "Workers",
    "pending": "Pending",
    "scheduled": "Scheduled",
    "running": "Running",
    "periodic": "Periodic",
    "failed": "Failed",
    "events": "Events",
}
# Tab names on terminals narrower than WIDE (so "7 Events" stays on an 80-column screen).
SHORT_TITLES = {
    "workers": "Wrk",
    "pending": "Pend",
    "scheduled": "Sched",
    "running": "Run",
    "periodic": "Per",
    "failed": "Fail",
    "events": "Evt",
}
WIDE = 100
TYPING_PAUSE = 0.3  # seconds without a key before the filter being typed applies
NOUN = {
    "workers": ("worker", "workers"),
    "pending": ("pending task", "pending tasks"),
    "scheduled": ("scheduled task", "scheduled tasks"),
    "running": ("running task", "running tasks"),
    "periodic": ("periodic task", "periodic tasks"),
    "failed": ("dead letter", "dead letters"),
}


# Lines the layout needs to keep MIN_ROWS list rows (header, counts, tab bar, table
# header, the "more" line and the footer take 7): below FULL_HEIGHT the plots go,
# below PLOTLESS_HEIGHT the per-task table too (htop keeps its process list first).
MIN_ROWS = 10
PLOTLESS_HEIGHT = 7 + 9 + MIN_ROWS
FULL_HEIGHT = PLOTLESS_HEIGHT + 6


def layout_classes(height: int) -> tuple[bool, bool]:
    """(hide the plots, hide the per-task table) for a terminal ``height`` lines high."""
    return height < FULL_HEIGHT, height < PLOTLESS_HEIGHT


def _noun(tab: str, n: int) -> str:
    return NOUN[tab][0] if n == 1 else NOUN[tab][1]


class DashboardScreen(Screen[None]):
    BINDINGS = [
        # Quit and Help first, so a narrow footer never cuts them off.
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help"),
        *(
            Binding(str(n), f"tab('{tab}')", TITLES[tab], show=False)
            for n, tab in enumerate(TABS, 1)
        ),
        Binding("right_square_bracket", "step_tab(1)", "Next tab", show=False),
        Binding("left_square_bracket", "step_tab(-1)", "Previous tab", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("r", "act('revoke')", "Revoke"),
        Binding("u", "act('restore')", "Restore"),
        Binding("R", "act('retry')", "Retry"),
        Binding("D", "act('delete')", "Delete"),
        Binding("c", "act('cancel')", "Cancel"),
        Binding("s", "sort", "Sort", show=False),
        Binding("y", "copy", "Copy id", show=False),
        Binding("greater_than_sign", "page(1)", "Next page", show=False),
        Binding("less_than_sign", "page(-1)", "Previous page", show=False),
        Binding("p", "app.pause_queue", "Pause queue"),
        Binding("f", "app.freeze", "Freeze"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide and refuse the actions that change the queue when top is read-only."""
        return not (action in MUTATING and getattr(self.app, "read_only", False))

    def __init__(self, tz: dt.tzinfo | None = None, tab: str = "workers") -> None:
        super().__init__()
        self.tz = tz
        self.tab = tab
        self.filter: Filter | None = None
        self.offsets: dict[str, int] = {}  # the page each tab shows (rows skipped)
        self.tail_stopped = False  # the Events cursor left the end: the list holds still
        self._overview: Overview | None = None
        self._totals: dict[str, int | None] = {}
        self._events_seen: tuple[Sequence[Event], float] = ((), 0.0)
        self._typing: Timer | None = None

    @property
    def query_state(self) -> Query:
        offset = self.offsets.get(self.tab, 0) if self.filter is None else 0
        return Query(self.tab, self.filter, offset)

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield QueueCounts(id="counts")
        with Horizontal(id="plots"):
            yield MinutePlot("throughput /min", id="throughput")
            yield MinutePlot("failures /min", id="failures")
        yield TaskStatsTable(id="stats")
        with TabbedContent(id="tabs", initial=self.tab):
            for n, tab in enumerate(TABS, 1):
                with TabPane(f"{n} {TITLES[tab]}", id=tab):
                    yield LiveTable(COLUMNS[tab], id=f"{tab}-table", follow=tab == "events")
                    yield Static("", id=f"{tab}-more", classes="more")
        yield FilterBar(id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.table(self.tab).focus()
        self._fit(self.app.size.height)
        self.screen_layout_refresh_signal.subscribe(
            self, self._underline_active_tab, immediate=True
        )

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.height)

    def _fit(self, height: int) -> None:
        no_plots, no_stats = layout_classes(height)
        self.set_class(no_plots, "-no-plots")
        self.set_class(no_stats, "-no-stats")
        if self._overview is not None:
            self._tab_labels(self._overview)

    def _underline_active_tab(self, _screen: Screen[None] | None = None) -> None:
        """Put the tab bar's underline under the active tab, once a layout is done.

        The counts relabel the tabs (their widths change) when data arrives. Textual
        moves the underline a refresh after a relabel, but that refresh may come
        before the relabelled tab's layout: the line then stays under the old
        label width until something else moves it (seen under load, and in the
        snapshots). Right after a layout the tab's place is known, so set it there,
        without animation. A slide under way is left to finish and checked again.
        """
        tabs = self.query_one(TabbedContent).query_one(Tabs)
        active = tabs.active_tab
        if active is None:
            return
        line = tabs.query_one(Underline)
        animator = self.app.animator
        if any(animator.is_being_animated(line, a) for a in ("highlight_start", "highlight_end")):
            self.set_timer(0.5, self._underline_active_tab)
            return
        start, end = active.virtual_region.shrink(active.styles.gutter).column_span
        if (line.highlight_start, line.highlight_end) != (start, end):
            line.highlight_start, line.highlight_end = start, end

    # --- what the app hands down ---------------------------------------------------
    def table(self, tab: str) -> LiveTable:
        return self.query_one(f"#{tab}-table", LiveTable)

    def show_status(self, **status: object) -> None:
        self.query_one(StatusHeader).show(**status)  # type: ignore[arg-type]

    def apply(self, snap: Snapshot, events: Sequence[Event], now: float) -> None:
        overview = snap.overview
        self.query_one(QueueCounts).show(overview)
        self.query_one("#throughput", MinutePlot).set_values([m.count for m in overview.throughput])
        self.query_one("#failures", MinutePlot).set_values(
            [m.failures for m in overview.throughput]
        )
        self.query_one(TaskStatsTable).show(
            [s for s in snap.stats if self.filter is None or self.filter.matches(s.task)]
        )
        self._tab_labels(overview)
        self._events(events, now)
        if snap.query == self.query_state and snap.query.tab != "events":
            self._listing(snap, now)

    def _tab_labels(self, overview: Overview) -> None:
        self._overview = overview
        tabs = self.query_one(TabbedContent)
        counts = {"workers": overview.workers}
        counts.update({t: overview.in_state(present.label_state(t)) for t in TASK_LISTINGS})
        titles = TITLES if self.app.size.width >= WIDE else SHORT_TITLES
        for n, tab in enumerate(TABS, 1):
            label = f"{n} {titles[tab]}"
            if tab in counts:
                label += f" {present.count(counts[tab])}"
            tab_widget = tabs.get_tab(tab)
            if str(tab_widget.label) != label:
                tab_widget.label = label

    def _listing(self, snap: Snapshot, now: float) -> None:
        tab, listing = snap.query.tab, snap.listing
        rows: list[Row]
        if tab in TASK_LISTINGS:
            rows = task_rows(tab, listing.rows, now, Revoked(snap.revocations), self.tz)
        elif tab == "workers":
            rows = worker_rows(listing.rows, now, self.tz)
        else:
            rows = periodic_rows(listing.rows, now, self.tz)
        self._totals[tab] = listing.total
        if listing.offset and not listing.rows and listing.total is not None:
            # The rows of this page went (a queue drained): back to the last page.
            self.offsets[tab] = max(0, (listing.total - 1) // PAGE * PAGE)
            self.post_message(QueryChanged())
        self.table(tab).sync(rows)
        self.query_one(f"#{tab}-more", Static).update(self._more(tab, listing))

    def _more(self, tab: str, listing: Listing) -> str:
        shown = len(listing.rows)
        total = listing.total if listing.total is not None else shown
        if listing.offset and total:
            first, last = listing.offset + 1, listing.offset + shown
            more = " · > next" if last < total else ""
            return (
                f"rows {present.count(first)}–{present.count(last)} of {present.count(total)}"
                f" {_noun(tab, total)} · < previous{more}"
            )
        noun = _noun(tab, total if total else 2)
        where = f" matching “{self.filter.text}”" if self.filter else ""
        if self.filter is not None and listing.total is None:
            if not listing.complete:
                return (
                    f"{shown} {noun}{where} in the first {present.count(listing.scanned)} "
                    "(a filter looks at that many per refresh)"
                )
            return f"{shown} {noun}{where}" if shown else f"no {noun}{where}"
        if total == 0:
            return f"no {noun}{where}"
        if total > shown:
            return (
                f"showing the first {present.count(shown)} of {present.count(total)} {noun}{where}"
                f" · … and {present.count(total - shown)} more"
                + (" · > or PgDn at the end: next page" if self.filter is None else "")
            )
        return f"{present.count(total)} {noun}{where}"

    def _events(self, events: Sequence[Event], now: float) -> None:
        """The tail follows new events while its cursor is on the last row; moved up,
        it holds still (and says so) until the cursor is back at the end (End)."""
        self._events_seen = (events, now)
        shown = [e for e in events if self.filter is None or self.filter.matches(e.task, e.task_id)]
        table = self.table("events")
        where = f" matching “{self.filter.text}”" if self.filter else ""
        if table.row_count and not table.at_end():
            self.tail_stopped = True
            newer = len([e for e in shown if e.id not in set(table.keys())])
            text = (
                f"tail stopped: the cursor left the end ({present.count(newer)} newer)"
                " · End resumes the live tail"
            )
        else:
            self.tail_stopped = False
            table.sync(event_rows(shown, now, self.tz))
            text = (
                f"last {len(shown)} events{where} · live tail" if shown else f"no events{where} yet"
            )
        self.query_one("#events-more", Static).update(text)

    @on(DataTable.RowHighlighted, "#events-table")
    def _events_cursor(self, event: DataTable.RowHighlighted) -> None:
        table = self.table("events")
        if table.at_end() == self.tail_stopped:  # left the end, or came back to it
            self._events(*self._events_seen)

    # --- what the operator asks for ------------------------------------------------------
    def current_target(self) -> Target | None:
        focused = self.focused
        table = focused if isinstance(focused, LiveTable) else self.table(self.tab)
        return table.target()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_step_tab(self, step: int) -> None:
        self.action_tab(TABS[(TABS.index(self.tab) + step) % len(TABS)])

    def action_act(self, kind: str) -> None:
        if is_act_kind(kind):
            self.post_message(Act(kind, self.current_target()))

    def action_copy(self) -> None:
        target = self.current_target()
        text = target.copyable() if target else None
        if text is None:
            self.notify("nothing to copy here", severity="warning")
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {text}", title="clipboard (OSC 52)")

    def action_page(self, step: int) -> None:
        """The store's next (1) or previous (-1) page of this tab's rows."""
        tab = self.tab
        if tab == "events" or self.filter is not None:
            self.notify("paging works on an unfiltered list", severity="warning")
            return
        old = self.offsets.get(tab, 0)
        new = max(0, old + step * PAGE)
        total = self._totals.get(tab)
        if new == old or (total is not None and new >= total):
            self.notify("first page" if step < 0 else "last page")
            return
        self.offsets[tab] = new
        self.table(tab).clear()
        self.post_message(QueryChanged())

    @on(PageEdge)
    def _page_edge(self, event: PageEdge) -> None:
        event.stop()
        if event.table is self.table(self.tab):
            self.action_page(event.step)

    def action_sort(self) -> None:
        self.query_one(TaskStatsTable).next_sort()

    def action_filter(self) -> None:
        self.query_one(FilterBar).open(self.filter.text if self.filter else "")

    def action_clear_filter(self) -> None:
        if self.filter is not None:
            self.set_filter("")

    def set_filter(self, text: str) -> None:
        new = Filter(text) if text else None
        if new != self.filter:
            self.filter = new
            self.offsets.clear()
            self.table(self.tab).clear()
            self.post_message(QueryChanged())

    @on(FilterBar.Applied)
    def _filter_applied(self, event: FilterBar.Applied) -> None:
        self._stop_typing_timer()
        self.set_filter(event.text)
        self.table(self.tab).focus()

    @on(FilterBar.Typed)
    def _filter_typed(self, event: FilterBar.Typed) -> None:
        # Applied after a pause in typing: one read per word, not one per key.
        self._stop_typing_timer()
        self._typing = self.set_timer(TYPING_PAUSE, lambda: self.set_filter(event.text))

    def _stop_typing_timer(self) -> None:
        if self._typing is not None:
            self._typing.stop()
            self._typing = None

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        tab = str(event.pane.id)
        if tab != self.tab:
            self.tab = tab
            self.post_message(QueryChanged())
        self.table(tab).focus()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        table = event.data_table
        if not isinstance(table, LiveTable):
            return
        target = table.target()
        if target is None:
            return
        event.stop()
        if target.worker is not None:
            self.post_message(OpenWorker(target.worker))
        elif target.task_id is not None:
            self.post_message(OpenTask(target.task_id))
        elif target.name is not None:
            # A task name (task table, periodic tab): show that task's calls.
            self.set_filter(f"task:{target.name}")
