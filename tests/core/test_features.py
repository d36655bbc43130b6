"""Features: the lookup variant an index uses is the full computation minus what it skips."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.config import ScanConfig
from dedupe.core.features import featurise
from dedupe.core.signature import permutations
from tests.strategies import documents

SKIPPED = {"doc_exact", "eligible_exact", "eligible_signatures"}


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(documents(), min_size=1, max_size=4),
    measure=st.sampled_from(["jaccard", "containment"]),
)
def test_lookup_features_equal_the_full_ones_but_for_what_they_skip(texts, measure):
    config = ScanConfig(measure=measure)
    perms = permutations(config.num_perm, config.seed)
    full = featurise(texts, config, perms)
    lookup = featurise(texts, config, perms, lookup=True)
    for field in fields(full):
        if field.name not in SKIPPED:
            assert np.array_equal(getattr(full, field.name), getattr(lookup, field.name)), (
                field.name
            )
    assert len(lookup.doc_exact) == len(lookup.eligible_exact) == 0
    assert lookup.eligible_signatures.shape == (len(full.eligible), 0)
    # One document at a time (how an index sees them) gives the batch's rows.
    alone = [featurise([text], config, perms, lookup=True) for text in texts]
    assert np.array_equal(np.concatenate([a.doc_signatures for a in alone]), full.doc_signatures)
    assert sum(len(a.repeat_later) for a in alone) == len(full.repeat_later)
