"""The queue core: what every part of the engine needs to know about one queue.

Core floor (imports the model, storage and the ground; never the runtime nor
the facade). :class:`QueueCore` holds the queue's name, its store, its envelope
(codec and signing), the registry of :class:`~engine.task.TaskSpec` by name,
signals, execution hooks, revocations and result settings, and turns tasks into
messages and values into result records and back.

The runtime (worker, scheduler, consumer, telemetry, supervisor) and the read
model (``engine.inspect``) are typed against this class, not against ``Huey``:
that is what keeps the engine's import graph free of cycles (see
``docs/design.md``). ``engine.api.Huey`` subclasses it and adds the producer
API (decorators, enqueue, results, revoke, locks, admin verbs).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from .codec import Codec, canonical_json, sign, verify
from .envelope import Envelope
from .exceptions import CancelExecution, CodecError, ConfigurationError, TaskException
from .ids import new_task_id, new_task_ids
from .keys import EventRecord, result_key
from .revocation import Revocations
from .signals import SIGNAL_INTERRUPTED, Signals
from .storage.base import Message, Storage
from .storage.memory import MemoryStorage
from .task import Task, TaskSpec, error_metadata

Hook = Callable[..., Any]

# Logger names predate the core: hooks were run by the worker and the facade.
_worker_log = logging.getLogger("huey.executor")
_api_log = logging.getLogger("huey.api")


# --- the audit trail: operators' actions as events ------------------------------------------
ADMIN_EVENT = "admin."  # an operator's action is the event ``admin.<action>``
ACTOR_ENV = "HUEYCTL_ACTOR"  # who acts, for automation: overrides ``user@host``


def admin_actor() -> str:
    """Who is acting: ``$HUEYCTL_ACTOR`` when set (a deploy bot, a CI job), else
    ``user@host`` of this process (``uid<N>@host`` when the user has no name)."""
    given = os.environ.get(ACTOR_ENV, "").strip()
    if given:
        return given[:100]
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # a container user without a passwd entry
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{socket.gethostname()}"


class _Empty:
    def __repr__(self) -> str:
        return "EMPTY"


EMPTY: Final = _Empty()  # "no result stored", as distinct from a stored None


_WARNED_PICKLE: set[str] = set()


def _warn_unsigned_pickle(name: str) -> None:
    """Once per queue name and process: pickle without a signing key decodes whatever the
    store holds (huey's behaviour, kept as the user's choice)."""
    if name not in _WARNED_PICKLE:
        _WARNED_PICKLE.add(name)
        _api_log.warning(
            "queue %r uses codec='pickle' without a signing_key: anyone who can write to "
            "the store can run code in its workers and producers; set signing_key",
            name,
        )


class QueueCore:
    """One queue's store, codec, registry, hooks, revocations and result settings."""

    storage_class: type[Storage] = MemoryStorage

    def __init__(
        self,
        name: str = "huey",
        results: bool = True,
        store_none: bool = False,
        utc: bool = True,
        codec: str | Codec = "json",
        signing_key: bytes | str | Sequence[bytes | str] | None = None,
        result_ttl: float | None = None,
        storage_class: type[Storage] | None = None,
        storage_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.results = results
        self.store_none = store_none
        self.utc = utc
        self.result_ttl = result_ttl
        self.envelope = Envelope(codec, signing_key)
        if self.envelope.codec.name == "pickle" and not self.envelope.verify_keys:
            _warn_unsigned_pickle(name)
        self.signals = Signals()
        self.registry: dict[str, TaskSpec] = {}
        self._pre_execute: dict[str, Hook] = {}
        self._post_execute: dict[str, Hook] = {}
        self._startup: dict[str, Hook] = {}
        self._shutdown: dict[str, Hook] = {}
        self._storage_class = storage_class or self.storage_class
        self._storage_kwargs = storage_kwargs or {}
        self.storage = self.create_storage()
        self.revocations = Revocations(lambda: self.storage)
        # The calls running in this process, by id (see notify_interrupted_tasks).
        self.in_flight: dict[str, Task] = {}

    def create_storage(self) -> Storage:
        """A new connection to this queue's store (a forked worker process makes its own)."""
        return self._storage_class(self.name, **self._storage_kwargs)

    def storage_for(self, name: str) -> Storage:
        """A new connection to another queue ``name`` of the same store (``hueyctl
        queues`` reads each one's counts); the caller closes it."""
        return self._storage_class(name, **self._storage_kwargs)

    # --- audit trail -----------------------------------------------------------------
    def record_admin_action(
        self,
        action: str,
        target: str = "",
        *,
        task_id: str = "",
        task: str = "",
        count: int | None = None,
        detail: str = "",
        actor: str | None = None,
        now: float | None = None,
    ) -> None:
        """Write one operator action to the event stream as ``admin.<action>``.

        The one call every admin tool makes after it changed the queue (hueyctl's
        revoke, restore, retry, delete, purge, bulk actions, pause, resume,
        cancel; top's keys): ``action`` is a word (``retry``, ``pause``),
        ``target`` what was acted on as the operator said it (a task id, a task
        name, a filter such as ``state=dead task=tasks.boom``), ``task_id`` and
        ``task`` the one task id and name when there is one (``events --task``
        filters on the name), ``count`` how many tasks changed, ``detail`` a
        one-line account (``retried 10 of 12 matching; 2 skipped``). ``actor``
        defaults to :func:`admin_actor` (``user@host``, or ``$HUEYCTL_ACTOR``).

        One store write (the stream's append, capped like every event), never
        made by workers' per-task path. Raises the store's ``EngineError`` when
        the write fails: the action it records is done by then, so a caller
        reports that as a warning, not as the action failing.
        """
        who = actor or admin_actor()
        record: EventRecord = {
            "ts": time.time() if now is None else now,
            "event": ADMIN_EVENT + action,
            "id": task_id,
            "task": task,
            "worker": who,
            "actor": who,
            "target": target,
        }
        if count is not None:
            record["count"] = count
        if detail:
            record["detail"] = detail[:300]
        self.storage.record([json.dumps(record, separators=(",", ":")).encode()], [])

    # --- registry ---------------------------------------------------------------------
    def spec(self, name: str) -> TaskSpec | None:
        """The registered task of that name, if this process knows it."""
        return self.registry.get(name)

    def periodic_specs(self) -> list[TaskSpec]:
        """The registered periodic tasks."""
        return [s for s in self.registry.values() if s.periodic is not None]

    # --- hooks --------------------------------------------------------------------------
    def run_pre_execute(self, task: Task) -> CancelExecution | None:
        """Run the pre-execute hooks; the ``CancelExecution`` one raised, if any (a hook
        that fails otherwise is logged and does not stop the task)."""
        if not self._pre_execute:
            return None
        for hook in list(self._pre_execute.values()):
            try:
                hook(task)
            except CancelExecution as exc:
                return exc
            except Exception:
                _worker_log.exception("pre_execute hook failed for %s", task.id)
        return None

    def notify_interrupted_tasks(self) -> None:
        """Send SIGNAL_INTERRUPTED for each call still running in this process, as
        huey. A consumer does it when it stops with calls unfinished: it has handed
        them back, and they run again (at least once) on a worker."""
        while self.in_flight:
            try:
                _, task = self.in_flight.popitem()
            except KeyError:  # finished meanwhile
                break
            self.signals.send(SIGNAL_INTERRUPTED, task)

    def run_post_execute(self, task: Task, value: Any, exception: Exception | None) -> None:
        """Run the post-execute hooks (after the outcome is committed); failures are logged."""
        if not self._post_execute:
            return
        for hook in list(self._post_execute.values()):
            try:
                hook(task, value, exception)
            except Exception:
                _worker_log.exception("post_execute hook failed for %s", task.id)

    def run_hooks(self, kind: str, *args: Any) -> None:
        """Run the ``startup`` or ``shutdown`` hooks of a consumer; failures are logged."""
        registry = {"startup": self._startup, "shutdown": self._shutdown}[kind]
        for name, hook in list(registry.items()):
            try:
                hook(*args)
            except Exception:
                _api_log.exception("%s hook %s failed", kind, name)

    # --- time ------------------------------------------------------------------------
    def to_timestamp(self, when: dt.datetime | float, naive_is_local: bool | None = None) -> float:
        """Epoch seconds of ``when``. Naive datetimes are UTC in UTC mode and local
        time otherwise, unless ``naive_is_local`` says which."""
        if isinstance(when, (int, float)):
            return float(when)
        if not isinstance(when, dt.datetime):
            raise ConfigurationError(
                f"expected a datetime or epoch seconds, got {type(when).__name__}"
            )
        if when.tzinfo is not None:
            return when.timestamp()
        local = (not self.utc) if naive_is_local is None else naive_is_local
        return when.timestamp() if local else when.replace(tzinfo=dt.UTC).timestamp()

    def set_expiry(self, task: Task, expires: float | dt.timedelta | dt.datetime) -> None:
        """Give a call its expiry: relative (seconds, timedelta: from enqueue) or absolute."""
        if isinstance(expires, dt.timedelta):
            task.expires_in = expires.total_seconds()
        elif isinstance(expires, dt.datetime):
            task.expires = self.to_timestamp(expires)
        else:
            task.expires_in = float(expires)

    # --- calls and messages --------------------------------------------------------------
    def new_call(
        self,
        spec: TaskSpec,
        args: Iterable[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        id: str | None = None,
        retries: int | None = None,
        retry_delay: float | None = None,
        retry_backoff: float | None = None,
        priority: int | None = None,
        expires: float | dt.timedelta | dt.datetime | None = None,
        timeout: float | None = None,
        minted: str | None = None,
    ) -> Task:
        """A call of a registered task; options left None take the spec's own. Without
        ``id`` the call gets a new one (``minted``: one made already by
        :func:`~engine.ids.new_task_ids`, see :meth:`new_calls`)."""
        task = Task(
            name=spec.label or spec.name,
            registered_name=spec.name,
            args=tuple(args),
            kwargs=dict(kwargs or {}),
            id=id if id is not None else minted or new_task_id(),
            retries=spec.retries if retries is None else retries,
            retry_delay=spec.retry_delay if retry_delay is None else retry_delay,
            retry_backoff=spec.retry_backoff if retry_backoff is None else retry_backoff,
            priority=spec.priority if priority is None else priority,
            timeout=spec.timeout if timeout is None else timeout,
        )
        if id is None:
            task.mint()
        exp = spec.expires if expires is None else expires
        if exp is not None:
            self.set_expiry(task, exp)
        return task

    def new_calls(self, spec: TaskSpec, calls: Iterable[Sequence[Any]]) -> list[Task]:
        """Calls of a registered task with positional arguments only and the spec's own
        options (``map``'s), as :meth:`new_call` makes them, their ids made together."""
        calls = list(calls)
        ids = new_task_ids(len(calls))
        return [self.new_call(spec, a, minted=i) for a, i in zip(calls, ids, strict=True)]

    def prepare(self, task: Task, now: float) -> Message:
        """The message enqueuing a task (a whole pipeline) at ``now``: every stage is
        stamped with its enqueue time and its relative expiry is made absolute."""
        stage: Task | None = task
        while stage is not None:
            stage.enqueued_at = now
            if stage.expires_in is not None:
                stage.expires = now + stage.expires_in
            stage = stage.on_complete
        return Message(task.id, self.envelope.encode(task), task.priority, task.take_fresh())

    def message(self, task: Task, now: float) -> Message:
        """The message enqueuing one stage at ``now`` (the next stage of a pipeline,
        an error handler, a chord callback); later stages are stamped when they run."""
        task.enqueued_at = now
        if task.expires_in is not None:
            task.expires = now + task.expires_in
        return Message(task.id, self.envelope.encode(task), task.priority)

    def encode_message(self, task: Task) -> Message:
        """The message for a task as it is (a retry keeps its stamps)."""
        return Message(task.id, self.envelope.encode(task), task.priority)

    def use_signing_key(self, key: bytes | str | Sequence[bytes | str] | None) -> None:
        """Sign (and verify) with this key or list of keys from now on (the queue's
        ``signing_key`` option, set after construction: hueyctl's --signing-key-file)."""
        self.envelope = Envelope(self.envelope.codec, key)

    # --- result records ---------------------------------------------------------------------
    # With a signing key a result record carries ``"sig"``, the HMAC of the record without
    # it (as for messages), and a record is verified before anything in it is decoded.
    def _seal(self, body: bytes) -> bytes:
        key = self.envelope.signing_key
        if key is None:
            return body
        # One serialisation and one HMAC: the signature is spliced into the object.
        return body[:-1] + b',"sig":"' + sign(key, body).encode("ascii") + b'"}'

    def encode_value(self, value: Any) -> bytes:
        """The result record of a return value (or of ``put`` data)."""
        return self._seal(canonical_json({"value": self.envelope.codec.encode(value)}))

    def build_error_result(self, task: Task, exception: BaseException) -> dict[str, Any]:
        """The error metadata stored when a task fails for good (huey's hook: override
        it to add to or reshape what ``TaskException.metadata`` holds)."""
        return error_metadata(task, exception)

    def encode_error(self, metadata: dict[str, Any]) -> bytes:
        """The result record of a final failure (its error metadata)."""
        return self._seal(canonical_json({"error": metadata}))

    def decode_value(self, data: bytes) -> dict[str, Any]:
        """A result record back: ``{"value": ...}``, ``{"error": {...}}`` or another marker.

        Raises :class:`SignatureError` (a CodecError) when the queue has a signing key
        and the record is unsigned or signed with another key: nothing in it is decoded.
        """
        try:
            rec = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CodecError(f"result is not JSON: {exc}") from None
        if not isinstance(rec, dict):
            raise CodecError("result is not a result record (not a JSON object)")
        if self.envelope.verify_keys:
            sig = rec.pop("sig", None)
            verify(self.envelope.verify_keys, canonical_json(rec), sig, "result")
        if "value" in rec:
            rec["value"] = self.envelope.codec.decode(rec["value"])
        return dict(rec)

    def read_result(self, task_id: str, preserve: bool) -> dict[str, Any] | _Empty:
        """A task's decoded result record (removed unless ``preserve``), or :data:`EMPTY`."""
        key = result_key(task_id)
        data = self.storage.peek(key) if preserve else self.storage.pop(key)
        return EMPTY if data is None else self.decode_value(data)

    def has_result(self, task_id: str) -> bool:
        """Whether a result is stored for the task (without reading it)."""
        return self.storage.peek(result_key(task_id)) is not None

    @staticmethod
    def unwrap_result(rec: dict[str, Any]) -> Any:
        """The value of a result record; a failure's record raises :class:`TaskException`."""
        if "error" in rec:
            raise TaskException(rec["error"])
        return rec["value"]
