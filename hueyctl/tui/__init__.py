"""``hueyctl top``: a live, keyboard-driven dashboard of one queue (Textual).

Build it with :func:`hueyctl.tui.app.make_app`; the command line and the snapshot
tests share that factory. Nothing here talks to a store directly: reads go
through ``engine.inspect.Inspector`` and actions through the ``Huey`` facade, both
from thread workers, never on the UI thread.
"""
