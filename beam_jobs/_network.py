"""Network calls in a dry run: bounded to a few seconds, or refused.

A dry run must answer in seconds. Two things can make it wait instead:

- reading a remote input to learn its files and schema (unavoidable: the
  pipeline cannot be built without them), where Google's clients retry for
  two minutes when the network is down: ``within`` gives up after a few
  seconds with "could not reach ...";
- Beam building a Dataflow or portable job, which should stay offline: any
  connection it attempts (``offline``) fails at once, also with "could not
  reach ...", instead of entering a retry loop.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import TypeVar

from featurebeam_base.errors import InputError

DRY_RUN_NETWORK_TIMEOUT_S = 5.0

T = TypeVar("T")


def within(seconds: float, what: str, call: Callable[[], T]) -> T:
    """``call()``, or InputError "could not reach WHAT" if it has not returned after ``seconds``.

    The call runs in a daemon thread; one that overruns is abandoned (a
    command exits without waiting for it).
    """
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed to the caller, whatever it is
            outcome["error"] = error

    thread = threading.Thread(target=target, name="featurebeam-bounded-call", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise InputError(
            f"could not reach {what} within {seconds:g} s (a dry run does not wait longer; "
            "check the network and your credentials, e.g. `gcloud auth application-default login`)"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class NetworkAttempt(BaseException):
    """Raised where Beam tried to connect during an offline step.

    A BaseException, so that no retry loop (they catch Exception) swallows it
    and waits: it goes straight to ``offline``.
    """


@contextmanager
def offline(what: str):
    """Refuse every connection attempted in this process while building ``what``; report it as InputError."""
    saved = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo, socket.create_connection

    def refuse(*args, **kwargs):
        raise NetworkAttempt(_address_text(args))

    socket.socket.connect = socket.socket.connect_ex = refuse
    socket.getaddrinfo = socket.create_connection = refuse
    try:
        yield
    except NetworkAttempt as attempt:
        raise InputError(
            f"could not reach {attempt.args[0]}: building {what} tried to go on the network, and a dry run "
            "stays offline (check the gs:// options and paths; a real run would contact it)"
        ) from None
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo, socket.create_connection = saved


def _address_text(args: tuple) -> str:
    """``host:port`` from the arguments of connect(address), getaddrinfo(host, port) or create_connection(address)."""
    if args and isinstance(args[0], socket.socket):
        args = args[1:]
    if len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], (int, str)):
        args = ((args[0], args[1]),)
    address = args[0] if args else None
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address) if address else "the network"


def bounded_in_dry_run(dry_run: bool, path: str, call: Callable[[], T]) -> T:
    """``call()``, which reads ``path``: bounded by ``within`` in a dry run when ``path`` is remote."""
    from featurebeam_base.paths import is_remote

    if dry_run and is_remote(path):
        return within(DRY_RUN_NETWORK_TIMEOUT_S, path, call)
    return call()


def list_inputs(job, dry_run: bool) -> tuple:
    """``list_input_files`` for the job's input; a dry run waits a few seconds at most for a remote one."""
    from beam_jobs._inputs import list_input_files

    return bounded_in_dry_run(dry_run, job.input.path, lambda: list_input_files(job.input.path, job.input.format))
