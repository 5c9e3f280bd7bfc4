"""The rides example's preprocessing_fn: tf.Transform-style, with `import preprocessing as pp`."""

import tensorflow as tf

import preprocessing as pp


def preprocessing_fn(inputs):
    """Scale the numbers, bucketize the distance, index the categories, derive a label.

    ``name=`` makes the analyzers' keys readable in ``featurebeam inspect``; it
    must not be the name of an input column.
    """
    fare = inputs["fare"]
    return {
        "fare_z": pp.scale_to_z_score(fare, name="fare_z"),
        "trip_miles_bucket": pp.bucketize(inputs["trip_miles"], num_buckets=5, name="trip_miles_bucket"),
        "trip_minutes_01": pp.scale_to_0_1(tf.cast(inputs["trip_seconds"], tf.float32) / 60.0, name="trip_minutes"),
        "company_id": pp.compute_and_apply_vocabulary(
            inputs["company"], top_k=5, num_oov_buckets=1, name="company_vocab"
        ),
        "payment_id": pp.compute_and_apply_vocabulary(inputs["payment_type"], name="payment_vocab"),
        "big_tipper": tf.cast(inputs["tips"] > 0.2 * fare, tf.int64),
    }
