"""``@api_function``: what every public ``pp`` function does before its own work.

- Arguments are bound to the function's signature (tf.Transform's, in full):
  a misspelt argument fails at once, naming the nearest valid one.
- An argument of tf.Transform's that featurebeam does not support yet fails
  when it is given a value other than its default, saying so.
- An ``ArgumentError`` raised anywhere below (an analyzer spec's checks, a
  helper) is reported naming the function the user called: ``pp.bucketize``,
  not the ``pp.quantiles`` it calls.
"""

from __future__ import annotations

import functools
import inspect
import re
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar, Union

import tensorflow as tf

from featurebeam_base.errors import ArgumentError, PreprocessingError
from featurebeam_base.naming import did_you_mean

# What ``pp`` functions take: a dense tensor, or (where tf.Transform does) a
# SparseTensor or RaggedTensor.
TensorType = Union[tf.Tensor, tf.SparseTensor, tf.RaggedTensor]
T = TypeVar("T", bound=Callable)

_CALLS = threading.local()


def _bound(function: Callable, name: str, signature: inspect.Signature, args, kwargs) -> inspect.BoundArguments:
    try:
        return signature.bind(*args, **kwargs)
    except TypeError as error:
        text = str(error)
        unexpected = re.search(r"unexpected keyword argument '(\w+)'", text)
        if unexpected:
            valid = list(signature.parameters)
            hint = did_you_mean(unexpected[1], valid, quote=lambda n: f"`{n}`")
            raise PreprocessingError(
                f"pp.{name} has no argument `{unexpected[1]}`{hint}; its arguments: {', '.join(valid)}"
            ) from None
        raise PreprocessingError(f"pp.{name}: {text}") from None


def api_function(unsupported: Mapping[str, str] | None = None, namespace: str = "") -> Callable[[T], T]:
    """Decorate a public ``pp`` function.

    ``unsupported`` maps the arguments featurebeam does not support yet to why
    (a short clause); passing any of them a non-default value is an error.
    ``namespace`` is the submodule a function lives in (``"experimental"``), for messages.
    """
    unsupported = dict(unsupported or {})

    def decorate(function: T) -> T:
        signature = inspect.signature(function)
        name = f"{namespace}.{function.__name__}" if namespace else function.__name__

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            bound = _bound(function, name, signature, args, kwargs)
            for argument, reason in unsupported.items():
                if (
                    argument in bound.arguments
                    and bound.arguments[argument] is not signature.parameters[argument].default
                ):
                    if bound.arguments[argument] != signature.parameters[argument].default:
                        raise PreprocessingError(f"pp.{name}: `{argument}` is not supported yet ({reason})")
            depth = getattr(_CALLS, "depth", 0)
            _CALLS.depth = depth + 1
            try:
                return function(*args, **kwargs)
            except ArgumentError as error:
                if depth == 0 and error.function is None:
                    raise error.named(name) from None
                raise
            finally:
                _CALLS.depth = depth

        return wrapper  # type: ignore[return-value]

    return decorate
