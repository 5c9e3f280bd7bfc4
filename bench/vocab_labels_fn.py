"""The preprocessing_fn of bench/vocab_labels.py: vocabularies ranked by mutual information with a label."""

import preprocessing as pp

TOP_K = 20000


def preprocessing_fn(inputs):
    token, label = inputs["token"], inputs["label"]
    # the file bench/vocab_labels.py checks: "<mutual information> <token>" lines
    pp.vocabulary(token, labels=label, top_k=TOP_K, store_frequency=True, vocab_filename="token_mi")
    token_id = pp.compute_and_apply_vocabulary(token, labels=label, top_k=TOP_K, num_oov_buckets=1)
    return {"token_id": token_id, "label": label}
