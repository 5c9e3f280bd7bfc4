"""``apply_pyfunc``: present for tf.Transform's signature, and an error explaining why it cannot work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from featurebeam_base.errors import PreprocessingError
from preprocessing._api import api_function

WHY_NOT = (
    "a Python function inside the transform_fn cannot be served: TensorFlow Serving runs no Python, and a "
    "SavedModel holding a py_func op loads only in the process that registered the function (tf.Transform 1.21's "
    "own TF2 exports fail to reload with 'Could not find callback'). Write the computation with TensorFlow ops, "
    "or run Python over the whole dataset at analysis time with pp.experimental.ptransform_analyzer"
)


@api_function()
def apply_pyfunc(
    func: Callable, Tout: tf.DType | list[tf.DType], stateful: bool = True, name: str | None = None, *args: Any
) -> tf.Tensor:  # noqa: N803 (tf.Transform's argument name)
    """Not supported: featurebeam's transform_fn must be servable, and a Python function in it is not.

    Raises
    ------
    PreprocessingError
        Always, saying why and what to use instead.

    Examples
    --------
    >>> run_in_memory(lambda inputs: {"y": pp.apply_pyfunc(abs, tf.float32, False, "abs", inputs["x"])},
    ...               {"x": np.array([-1.0], np.float32)})
    Traceback (most recent call last):
    ...
    featurebeam_base.errors.PreprocessingError: pp.apply_pyfunc is not supported: a Python function inside ...
    """
    raise PreprocessingError(f"pp.apply_pyfunc is not supported: {WHY_NOT}")
