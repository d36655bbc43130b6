"""What only the Redis backend has: optimistic conflicts, key prefixes, the URL, the CLI."""

from __future__ import annotations

import pytest

from dedupe import ConfigError, Index
from dedupe.storage import Conflict
from tests.conftest import fresh_location
from tests.test_index import BODY, LEAD


def test_a_write_that_raced_another_commit_is_refused_whole(redis_url, tmp_path, request):
    at = fresh_location("redis", tmp_path, request, "race")
    with Index(at) as first, Index(at) as second:
        (record,) = first._prepare([("late", f"{LEAD}\n\n{BODY}")])
        with pytest.raises(Conflict), first._store.write() as tx:
            first._add(tx, record)  # decided on an index without "early"
            second.add("early", f"{LEAD}\n\n{BODY}")
        assert "late" not in first and len(first) == 1
        # Run again through the index, it sees "early" and is its duplicate.
        assert first.check_and_add("late", f"{LEAD}\n\n{BODY}").duplicate_of == "early"


def test_prefixes_keep_indexes_apart(redis_url, tmp_path, request):
    one = fresh_location("redis", tmp_path, request, "one")
    two = fresh_location("redis", tmp_path, request, "two")
    with Index(one) as a, Index(two, threshold=0.7) as b:
        a.add("a", LEAD)
        assert "a" not in b and b.check("x", LEAD).status == "new"
        assert (len(a), len(b)) == (1, 0)


def test_bad_urls_are_config_errors():
    with pytest.raises(ConfigError, match="cannot reach Redis"):
        Index("redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match="prefix"):
        Index("redis://127.0.0.1:1/0?prefix=a:b")
