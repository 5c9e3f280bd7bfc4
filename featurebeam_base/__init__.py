"""featurebeam's bottom layer: what ``preprocessing``, ``analyzers`` and ``beam_jobs`` share.

It imports nothing of ours, and neither TensorFlow nor (at import) Apache Beam:

- ``errors``: the user-error classes (exit status 2) and their record form;
- ``naming``: one "did you mean" formatter and quoting of allowed values;
- ``types``: the one table of feature types (dtype, numpy, Arrow, tf.Example, schema);
- ``columns``: ``OutputColumn``, one transformed output's name, dtype and shape;
- ``paths``: the one "is this path remote?" check, built on Beam's ``FileSystems.get_scheme``.

Import the modules themselves (``from featurebeam_base.errors import InputError``);
this file imports none of them, so that each costs only what it uses.
"""
