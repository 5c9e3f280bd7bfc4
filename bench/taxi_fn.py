"""The benchmark's preprocessing_fn, written once against tf.Transform's API.

``make_preprocessing_fn(tx)`` takes the module providing the analyzers and
mappers: ``tensorflow_transform`` or featurebeam's ``preprocessing``. Every
input and output has shape ``[batch]``. All analyzers read raw inputs, so the
fn has one analysis phase (tf.Transform 1.21 on Beam 2.77 cannot run 3+).

``preprocessing_fn`` (featurebeam, for ``bench/job.yaml``) and
``tft_preprocessing_fn`` bind the module lazily, so importing this file
imports neither.
"""

from __future__ import annotations

import tensorflow as tf

Z_SCORE = ("fare", "tips", "trip_miles", "trip_seconds")
BUCKETIZE = {"fare": 20, "trip_miles": 10, "pickup_latitude": 10, "pickup_longitude": 10}
SCALE_0_1 = ("tolls", "extras", "trip_start_hour")


def make_preprocessing_fn(tx):
    """A taxi-trip preprocessing_fn using ``tx``'s analyzers (tft or preprocessing)."""

    def preprocessing_fn(inputs):
        outputs = {}
        for name in Z_SCORE:
            outputs[f"{name}_z"] = tx.scale_to_z_score(inputs[name], name=f"{name}_z")
        for name, num_buckets in BUCKETIZE.items():
            outputs[f"{name}_bucket"] = tx.bucketize(inputs[name], num_buckets, name=f"{name}_bucket")
        for name in SCALE_0_1:
            outputs[f"{name}_01"] = tx.scale_to_0_1(tf.cast(inputs[name], tf.float32), name=f"{name}_01")

        # Vocabularies: top_k + OOV bucket; full; the high-cardinality id with top_k and
        # OOV buckets; vocabulary/apply_vocabulary with a frequency threshold and a
        # default; an integer column.
        outputs["company_id"] = tx.compute_and_apply_vocabulary(
            inputs["company"], top_k=20, num_oov_buckets=1, vocab_filename="company", name="company_vocab"
        )
        outputs["payment_type_id"] = tx.compute_and_apply_vocabulary(
            inputs["payment_type"], vocab_filename="payment_type", name="payment_type_vocab"
        )
        outputs["taxi_id_id"] = tx.compute_and_apply_vocabulary(
            inputs["taxi_id"], top_k=5000, num_oov_buckets=10, vocab_filename="taxi_id", name="taxi_id_vocab"
        )
        tract_vocab = tx.vocabulary(
            inputs["dropoff_census_tract"],
            frequency_threshold=50,
            vocab_filename="dropoff_census_tract",
            name="dropoff_census_tract_vocab",
        )
        outputs["dropoff_census_tract_id"] = tx.apply_vocabulary(
            inputs["dropoff_census_tract"], tract_vocab, default_value=-1
        )
        outputs["pickup_community_area_id"] = tx.compute_and_apply_vocabulary(
            inputs["pickup_community_area"],
            num_oov_buckets=1,
            vocab_filename="pickup_community_area",
            name="pickup_community_area_vocab",
        )

        # Derived label: the tip is more than 20% of the fare.
        outputs["big_tipper"] = tf.cast(inputs["tips"] > 0.2 * inputs["fare"], tf.int64)
        return outputs

    return preprocessing_fn


def preprocessing_fn(inputs):
    """featurebeam's binding (``preprocessing_fn: taxi_fn.py:preprocessing_fn``)."""
    import preprocessing

    return make_preprocessing_fn(preprocessing)(inputs)


def tft_preprocessing_fn(inputs):
    """tf.Transform's binding."""
    import tensorflow_transform

    return make_preprocessing_fn(tensorflow_transform)(inputs)
