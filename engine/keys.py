"""Every name the engine gives to data in the store's key/value space, and the
records it keeps there for other processes to read.

Ground floor (imports nothing from the engine): the worker writes results and
chord members, the consumer and telemetry write the registry, the scheduler
writes periodic slots, and the read model (``engine.inspect``) and the facade
read all of them back. One module holds each name and format so writers and
readers cannot drift apart. The stores' own layout (queues, running set, dead
letters, events stream) is theirs and lives in ``engine.storage``.

Keys (flat namespace, optional TTL):

* ``result:<task id>`` - a task's result record, and user data of ``huey.put``;
* ``lock:<name>`` - a task lock held (``huey.lock_task``);
* ``ratelimit:<name>:<window>`` - calls counted in one fixed window;
* ``chord:<id>`` - how many members of a chord are done; ``chord:<id>:<index>`` -
  one member's result; ``chord:<id>:fired`` - guards the callback's enqueue;
* ``slot:<task>:<minute>`` - a periodic slot fired (once across consumers);
* ``revoke:version`` - bumped on every change to the revocations.

Maps (field -> value):

* ``workers`` - consumer id -> :class:`RegistryRecord` (JSON);
* ``catalog`` - catalog digest -> :class:`CatalogRecord` (JSON): the tasks a worker
  serves, written at its start and about once a minute (``engine.catalog``), named
  by the ``catalog`` field of its registry record;
* ``periodic`` - task name -> :class:`PeriodicRecord` (JSON);
* ``periodic_runs`` - task name -> epoch minute it last fired;
* ``revoked`` - ``id:<task id>`` / ``task:<name>`` -> revocation record;
* ``pauses`` - ``*`` (the whole queue) / task name -> :class:`PauseRecord` (JSON),
  read by every claim round (``Storage.claim_round(pauses=...)``);
* ``cancels`` - task id -> :class:`CancelRecord` (JSON): a running call to stop,
  read by each consumer's cancel watch (about twice a second while it runs tasks).

Events in the store's capped stream are :class:`EventRecord` (JSON).
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

RESULT = "result:"
LOCK = "lock:"
RATELIMIT = "ratelimit:"
CHORD = "chord:"
SLOT = "slot:"
REVOKE_VERSION = "revoke:version"

WORKERS = "workers"
CATALOG = "catalog"
PERIODIC = "periodic"
PERIODIC_RUNS = "periodic_runs"
REVOKED = "revoked"
PAUSES = "pauses"
CANCELS = "cancels"
#: The field of ``pauses`` that pauses the whole queue (any other is a task name);
#: the same value as ``engine.storage.base.QUEUE_PAUSED``.
QUEUE_PAUSED = "*"
# Fields of the ``revoked`` map: one call by id, or every call of a task by name.
REVOKE_ID = "id:"
REVOKE_TASK = "task:"


def result_key(task_id: str) -> str:
    return RESULT + task_id


def lock_key(name: str) -> str:
    return LOCK + name


def ratelimit_prefix(name: str) -> str:
    """The keys of every window of one rate limit start with this."""
    return f"{RATELIMIT}{name}:"


def ratelimit_key(name: str, window: int) -> str:
    return f"{RATELIMIT}{name}:{window}"


def chord_counter(chord_id: str) -> str:
    return CHORD + chord_id


def chord_member(chord_id: str, index: int) -> str:
    return f"{CHORD}{chord_id}:{index}"


def chord_fired(chord_id: str) -> str:
    return f"{CHORD}{chord_id}:fired"


def slot_key(task_name: str, minute: int) -> str:
    return f"{SLOT}{task_name}:{minute}"


class RunningEntry(TypedDict):
    """A task a consumer is running, in its registry record."""

    id: str
    task: str
    started: float


class StoreRecord(TypedDict):
    """What a worker found about its store at start (engine.preflight): None = unknown."""

    persistent: bool | None
    aof: bool | None
    rdb: bool | None
    eviction: str | None


class RegistryRecord(TypedDict):
    """What a consumer publishes about itself in the ``workers`` map each heartbeat."""

    id: str
    host: str
    pid: int
    version: str
    queue: str
    started: float
    heartbeat: float
    concurrency: int
    worker_type: str
    running: list[RunningEntry]
    processed: int
    failed: int
    store: NotRequired[StoreRecord]  # from the start-up check (engine.preflight)
    store_state: NotRequired[str]  # not ok: full (claims nothing new), denied, transient
    signed: NotRequired[bool]  # true: it verifies message signatures (a signing key is set)
    catalog: NotRequired[str]  # digest of its CatalogRecord in the ``catalog`` map


class ParamRecord(TypedDict):
    """One parameter of a task's function: name, kind (inspect.Parameter's kind in
    lower case: positional_or_keyword, var_positional, keyword_only, ...) and the
    repr of its default, if it has one."""

    name: str
    kind: str
    default: NotRequired[str]


class TaskRecord(TypedDict):
    """One task a worker serves: its options, and its parameters when they are known."""

    retries: int
    retry_delay: float
    params: NotRequired[list[ParamRecord]]
    periodic: NotRequired[str]  # its crontab spec ("custom" for a function of a datetime)
    priority: NotRequired[int]
    timeout: NotRequired[float]


class CatalogRecord(TypedDict):
    """What a worker can run: task name -> :class:`TaskRecord`."""

    tasks: dict[str, TaskRecord]


class EventRecord(TypedDict):
    """One signal, as written to the events stream; or an operator's action
    (``event`` is ``admin.<action>``, ``worker`` and ``actor`` name who did it as
    ``user@host``, ``target`` the task id, name or filter acted on, ``count`` how
    many tasks changed and ``detail`` a one-line account)."""

    ts: float
    event: str
    id: str
    task: str
    worker: str
    error: NotRequired[str]
    runtime: NotRequired[float]
    actor: NotRequired[str]
    target: NotRequired[str]
    count: NotRequired[int]
    detail: NotRequired[str]


class PeriodicRecord(TypedDict):
    """A periodic task's schedule, published by consumers for tools without the code."""

    crontab: str
    utc: bool


class PauseRecord(TypedDict):
    """A pause (of the queue or one task name), one field of the ``pauses`` map.

    ``until`` (epoch seconds) ends it by itself; None holds until resumed."""

    who: str  # user@host
    at: float
    until: float | None


class CancelRecord(TypedDict):
    """A request to stop one running call, one field of the ``cancels`` map."""

    who: str  # user@host
    at: float
