"""hueyctl's engine: huey's programming model on Redis, SQLite and memory.

from engine import RedisHuey, crontab
huey = RedisHuey()

@huey.task()
def count_beans(num):
    return 'Counted %s beans' % num
"""

from ._version import __version__ as __version__
from .api import (
    BlackHoleHuey,
    Huey,
    MemoryHuey,
    PriorityRedisExpireHuey,
    PriorityRedisHuey,
    RedisExpireHuey,
    RedisHuey,
    SqliteHuey,
)
from .chord import SKIPPED, ChordResult, Error, chord, group
from .crontab import crontab
from .exceptions import (
    CancelExecution,
    ConfigurationError,
    EngineError,
    RateLimitExceeded,
    ResultTimeout,
    RetryTask,
    SignatureError,
    StoreDenied,
    StoreError,
    StoreFull,
    StoreUnavailable,
    TaskCancelled,
    TaskException,
    TaskLockedException,
    TaskTimeout,
)
from .result import Result, ResultGroup
from .signals import *  # noqa: F403 - the SIGNAL_* / EVENT_* names are public API
from .signals import ALL as ALL_SIGNALS
from .task import Task
from .wrapper import TaskWrapper

# huey's older names, as used in the getting-started guide.
TaskResultWrapper = Result
QueueTask = Task
HueyException = EngineError

__all__ = [
    "ALL_SIGNALS",
    "SKIPPED",
    "ChordResult",
    "Error",
    "TaskTimeout",
    "chord",
    "group",
    "CancelExecution",
    "TaskCancelled",
    "ConfigurationError",
    "EngineError",
    "BlackHoleHuey",
    "Huey",
    "HueyException",
    "MemoryHuey",
    "PriorityRedisExpireHuey",
    "PriorityRedisHuey",
    "RedisExpireHuey",
    "QueueTask",
    "RateLimitExceeded",
    "RedisHuey",
    "Result",
    "ResultGroup",
    "ResultTimeout",
    "RetryTask",
    "SignatureError",
    "SqliteHuey",
    "StoreDenied",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "Task",
    "TaskException",
    "TaskLockedException",
    "TaskResultWrapper",
    "TaskWrapper",
    "crontab",
]
