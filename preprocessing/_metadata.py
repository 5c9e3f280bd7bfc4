"""``transformed_metadata/``: the output schema in tf.Transform's format.

tf.Transform (and TFX) read ``transformed_metadata/schema.pbtxt``, a
tensorflow_metadata ``Schema`` in protobuf text format. It is small and regular,
so it is written directly rather than through the tensorflow_metadata package.
"""

from __future__ import annotations

import json
import os

from featurebeam_base.columns import OutputColumn

SCHEMA_FILE = "schema.pbtxt"


def schema_pbtxt(outputs: list[OutputColumn]) -> str:
    lines = []
    for info in sorted(outputs, key=lambda o: o.name):
        lines.append("feature {")
        lines.append(f"  name: {json.dumps(info.name)}")
        lines.append(f"  type: {info.feature_type.schema_type}")
        if info.int_domain is not None:
            lines += ["  int_domain {", f"    min: {info.int_domain[0]}", f"    max: {info.int_domain[1]}"]
            lines += ["    is_categorical: true", "  }"]
        lines.append("  presence {")
        lines.append("    min_fraction: 1.0")
        lines.append("  }")
        if info.shape:
            lines.append("  shape {")
            for size in info.shape:
                lines.append("    dim {")
                lines.append(f"      size: {size}")
                lines.append("    }")
            lines.append("  }")
        else:
            lines.append("  shape {")
            lines.append("  }")
        lines.append("}")
    return "\n".join(lines) + "\n"


def write_transformed_metadata(directory: str, outputs: list[OutputColumn]) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, SCHEMA_FILE), "w") as handle:
        handle.write(schema_pbtxt(outputs))
