"""The vectors fast path (data_plane/api/fast_vectors.py) answers exactly as the route.

``Content-Type: application/json; charset=utf-8`` is JSON to the FastAPI route but not
to the fast path, so sending each request both ways compares the two answers.
"""

from __future__ import annotations

import pytest

import granary
from granary_core.wire import ARROW_STREAM
from tests.data_plane.conftest import rows

ROUTE_ONLY = "application/json; charset=utf-8"

BODIES = [
    b'{"entries":[{"k":1}]}',
    b'{"entries":[{"k":0},{"k":2}],"allow_missing":false}',
    b'{"entries":[{"k":99}]}',  # 404 missing_entity
    b'{"entries":[{"k":99}],"allow_missing":true}',
    b'{"entries":[{"k":"1"}]}',  # 400: the key's type
    b'{"entries":[{"nope":1}]}',  # 400: a missing serving key
    b'{"entries":[{"k":1180591620717411303424}]}',  # over 64 bits
    b'{"entries":[{"k":NaN}]}',
    b'{"entries":[]}',
    b'{"entries":[1]}',  # 422 from here on: the route's answer
    b'{"entries":[{"k":1}],"allow_missing":"true"}',
    b'{"entries":[{"k":1}],"x":1}',
    b"{}",
    b"[]",
    b"{not json",
    b"",
]


@pytest.fixture(scope="module")
def view(data_plane):
    project, key = data_plane.new_key()
    fs = granary.login(host=data_plane.api_url, api_key=key).get_feature_store()
    fg = fs.create_feature_group("g", version=1, primary_key=["k"], event_time="ts", online_enabled=True)
    fg.insert(rows())
    fs.create_feature_view("v", version=1, query=fg.select_all())
    return data_plane, project, key


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("accept", ["application/json", ARROW_STREAM])
def test_fast_path_and_route_give_the_same_answer(view, body, accept):
    import httpx

    data_plane, project, key = view
    url = f"{data_plane.api_url}/api/v1/projects/{project}/feature-views/v/versions/1/vectors"
    answers = []
    for content_type in ("application/json", ROUTE_ONLY):
        headers = {"authorization": f"Bearer {key}", "content-type": content_type, "accept": accept}
        response = httpx.post(url, content=body, headers=headers)
        answers.append((response.status_code, response.headers.get("content-type"), response.content))
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    ("authorization", "status"),
    [(None, 401), ("Bearer nonsense", 401), ("Basic abc", 401), ("Bearer gk_000000000000_x", 401)],
)
def test_fast_path_refuses_keys_as_the_route_does(view, authorization, status):
    import httpx

    data_plane, project, _ = view
    url = f"{data_plane.api_url}/api/v1/projects/{project}/feature-views/v/versions/1/vectors"
    answers = []
    for content_type in ("application/json", ROUTE_ONLY):
        headers = {"content-type": content_type} | ({"authorization": authorization} if authorization else {})
        response = httpx.post(url, content=b'{"entries":[{"k":1}]}', headers=headers)
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1] and answers[0][0] == status
