"""``ptransform_analyzer``: a user's own Beam PTransform as an analyzer, with a checked contract.

The contract (also in the README):

- **Input.** The PTransform is applied to a PCollection with one element per
  batch of rows: a tuple holding one numpy array per input tensor, in the
  order given, each with the batch dimension first (``[rows, ...]``). Numbers
  keep their dtype; strings are object arrays of ``bytes``. An empty dataset
  gives an empty PCollection.
- **Output.** It returns one PCollection per declared output (a single
  PCollection when one output is declared, else a tuple or list of them), each
  holding exactly one element: the result, as something ``numpy.asarray``
  takes (an array, a list, a number, ``str`` or ``bytes``).
- **Checks.** Each result must have the declared dtype's kind (an integer
  dtype takes integers; a float dtype, numbers; ``tf.string``, text) and the
  declared shape, where ``None`` stands for any size. A result is one value
  for the whole dataset (no batch dimension), as every analyzer's is.

On Beam (``beam_jobs``) the PTransform runs inside the pipeline. Without Beam
(``run_in_memory``) ``extract`` runs it in-process on Beam's DirectRunner,
over the same batches, so it behaves the same in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from analyzers._spec import AnalyzerSpec, Output
from featurebeam_base.errors import PreprocessingError

FUNCTION = "pp.experimental.ptransform_analyzer"


def batch_arrays(inputs: tuple) -> tuple[np.ndarray, ...]:
    """One batch's inputs as numpy arrays: Arrow string columns become object arrays of bytes."""
    arrays = []
    for value in inputs:
        if isinstance(value, (pa.Array, pa.ChunkedArray)):
            column = value.combine_chunks() if isinstance(value, pa.ChunkedArray) else value
            width = column.type.list_size if pa.types.is_fixed_size_list(column.type) else None
            flat = column.flatten() if width else column
            if pa.types.is_string(flat.type) or pa.types.is_large_string(flat.type):
                flat = flat.cast(pa.binary())
            value = flat.to_numpy(zero_copy_only=False)
            value = value.reshape(len(column), width) if width else value
        arrays.append(np.asarray(value))
    return tuple(arrays)


def _shape_text(shape) -> str:
    return "[" + ", ".join("None" if size is None else str(size) for size in shape) + "]"


def _as_declared(value, dtype: str, index: int, name: str) -> np.ndarray:
    """``value`` as an array of ``dtype``; a PreprocessingError saying what was expected otherwise."""
    where = f"{FUNCTION}: output {index} of {name}"
    if dtype == "string":
        array = np.asarray(value, dtype=object)
        flat = array.reshape(-1)
        if not all(isinstance(item, (bytes, str)) for item in flat):
            raise PreprocessingError(f"{where} must be text (str or bytes) for tf.string; got {value!r:.200}")
        return np.array([item.encode() if isinstance(item, str) else item for item in flat], object).reshape(
            array.shape
        )
    array = np.asarray(value)
    wanted = np.dtype(dtype)
    if array.dtype == object or not np.can_cast(array.dtype, wanted, casting="same_kind"):
        kind = "integers" if wanted.kind in "iu" else "numbers" if wanted.kind == "f" else f"{wanted} values"
        raise PreprocessingError(
            f"{where} must be {kind} for tf.{dtype}; got a {array.dtype} value {array.tolist()!r:.200}"
        )
    return array.astype(wanted)


@dataclass(frozen=True, eq=False)
class PTransformSpec(AnalyzerSpec):
    """The user's ``ptransform``; outputs as declared: ``output_dtypes`` (names) and ``output_shapes``."""

    kind = "ptransform_analyzer"
    ptransform: Any
    output_dtypes: tuple[str, ...]
    output_shapes: tuple[tuple[int | None, ...], ...]

    @property
    def name(self) -> str:
        return f"{type(self.ptransform).__name__} (analyzer {self.key!r})"

    def outputs(self):
        return tuple(
            Output(f"output_{i}", dtype, shape)
            for i, (dtype, shape) in enumerate(zip(self.output_dtypes, self.output_shapes, strict=True))
        )

    def parameters(self) -> dict:
        return {
            "ptransform": type(self.ptransform).__name__,
            "output_dtypes": list(self.output_dtypes),
            "output_shapes": [list(shape) for shape in self.output_shapes],
        }

    def returned(self, outputs) -> tuple:
        """The PTransform's return value as a tuple of PCollections, checked against the declared count."""
        outputs = tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)
        if len(outputs) != len(self.output_dtypes):
            raise PreprocessingError(
                f"{FUNCTION}: {self.name} returned {len(outputs)} PCollection(s); "
                f"output_dtypes declares {len(self.output_dtypes)}"
            )
        return outputs

    def checked(self, collected: list[list]) -> tuple[np.ndarray, ...]:
        """The results, from each output PCollection's elements; each must hold one of the declared dtype and shape."""
        results = []
        for index, (elements, dtype, shape) in enumerate(zip(collected, self.output_dtypes, self.output_shapes)):
            if len(elements) != 1:
                raise PreprocessingError(
                    f"{FUNCTION}: output {index} of {self.name} must be a PCollection of exactly one element "
                    f"(the result for the whole dataset); got {len(elements)} elements"
                )
            value = _as_declared(elements[0], dtype, index, self.name)
            fits = value.ndim == len(shape) and all(s is None or s == v for s, v in zip(shape, value.shape))
            if not fits:
                raise PreprocessingError(
                    f"{FUNCTION}: output {index} of {self.name} must have shape {_shape_text(shape)} "
                    f"(as declared in output_shapes); got shape {_shape_text(value.shape)}"
                )
            results.append(value)
        return tuple(results)

    # -- without Beam: the batches are kept, and the PTransform runs on a local DirectRunner ----

    def create(self):
        return []

    def add(self, accumulator, inputs):
        accumulator.append(batch_arrays(inputs))
        return accumulator

    def merge(self, accumulator, other):
        accumulator.extend(other)
        return accumulator

    def extract(self, accumulator):
        from analyzers._local_pipeline import run_ptransform

        return self.checked(run_ptransform(self, accumulator))
