"""User errors: problems the user can fix, reported in one line with exit status 2.

Everything else that goes wrong is a bug in featurebeam (an internal error,
exit status 1). The two are told apart by type, never by the text of a
message or a traceback. A user error raised in a worker process travels to
the launching process as a record (``to_record``/``from_record``), so its type
survives runners that only report a worker's traceback as text.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: the job file, the input data or the preprocessing_fn.

    ``details`` is printed after the message (the user's own traceback when
    their preprocessing_fn raised).
    """

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details

    def to_record(self) -> dict:
        return {"type": type(self).__name__, "message": str(self), "details": self.details}

    @staticmethod
    def from_record(record: dict) -> UserError:
        cls = _BY_NAME.get(record.get("type"), UserError)
        return cls(record["message"], record.get("details", ""))


class ConfigError(UserError):
    """The job file (or a ``--set`` override) is invalid."""


class InputError(UserError):
    """The input data does not match the job: missing files, nulls, bad values."""


class PreprocessingError(UserError):
    """A preprocessing_fn uses the ``preprocessing`` API wrongly (found while tracing it)."""


class ArgumentError(PreprocessingError):
    """One argument of a ``pp`` function is wrong.

    ``function`` is the function the user called (``bucketize``), ``argument``
    the parameter (``num_buckets``) and ``problem`` what is wrong with it, in the
    one message shape: ``must be an integer >= 1; got 0``.
    """

    def __init__(self, argument: str, problem: str, function: str | None = None):
        self.argument, self.problem, self.function = argument, problem, function
        where = f"pp.{function}: " if function else ""
        super().__init__(f"{where}`{argument}` {problem}")

    def named(self, function: str) -> ArgumentError:
        """The same error, naming the function the user called."""
        return ArgumentError(self.argument, self.problem, function)


_BY_NAME = {cls.__name__: cls for cls in (UserError, ConfigError, InputError, PreprocessingError)}
