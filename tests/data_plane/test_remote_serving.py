"""The serving suite's feature-vector tests, run against the remote backend.

The tests and their ``groups``/``fv`` fixtures are imported from
tests/online/test_serving.py unchanged; only ``ofs`` differs: here it is a feature
store reached over REST (vectors come from the region's Redis through the data plane).
Tests that reach into an embedded store's internals stay in that module only.
"""

from __future__ import annotations

import pytest

from tests.online.test_serving import (  # noqa: F401  (fixtures and tests, collected here)
    fv,
    groups,
    test_a_left_joined_group_without_a_row_gives_nulls,
    test_bad_entries_are_refused_with_the_serving_keys_named,
    test_bad_passed_features_and_request_parameters,
    test_join_on_a_non_key_column_makes_it_a_serving_key,
    test_missing_entity_raises_unless_allow_missing,
    test_numpy_integers_are_valid_keys,
    test_precedence_request_parameters_then_passed_features_then_stored,
    test_return_types,
    test_serving_keys_and_primary_keys,
    test_small_and_large_batches_give_identical_vectors,
    test_string_and_composite_keys,
    test_ttl_on_a_joined_group_gives_nulls_online,
    test_vector_has_the_training_columns_in_order,
    test_views_over_groups_that_are_not_online_cannot_serve,
)


@pytest.fixture
def ofs(data_plane):
    return data_plane.login().get_feature_store()
