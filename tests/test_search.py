"""Search: PostgreSQL full-text search on a GIN index, a substring match elsewhere."""

import pytest
from django.db import connection

from blog.models import Post


@pytest.fixture
def posts(make_post):
    return {
        "title": make_post(title="Microservices explained", body="An introduction."),
        "body": make_post(title="Architecture notes", body="Why teams split apps into microservices."),
        "other": make_post(title="Cooking pasta", body="Boil water, add salt."),
        "draft": make_post(title="Microservices draft", status=Post.Status.DRAFT),
    }


@pytest.mark.django_db
def test_search_finds_title_and_body_matches_only(posts):
    found = list(Post.objects.published().search("microservices"))
    assert set(found) == {posts["title"], posts["body"]}
    assert list(Post.objects.search("   ")) == []


@pytest.mark.django_db
def test_search_is_case_insensitive_and_finds_nothing_for_absent_words(posts):
    assert list(Post.objects.published().search("PASTA")) == [posts["other"]]
    assert list(Post.objects.search("kubernetes")) == []


@pytest.mark.django_db
def test_search_view_lists_matches_for_q_and_for_wordpress_s(client, posts):
    response = client.get("/search/", {"q": "microservices"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Microservices explained" in html and "Architecture notes" in html
    assert "Cooking pasta" not in html and "Microservices draft" not in html
    assert client.get("/", {"s": "microservices"})["Location"] == "/search/?q=microservices"


@pytest.mark.django_db
def test_search_backend_matches_the_database(posts):
    queryset = Post.objects.published().search("microservices apps")
    if connection.vendor == "postgresql":
        # Web-search syntax: both words must appear; only the body match has "apps".
        assert list(queryset) == [posts["body"]]
        ranked = list(Post.objects.published().search("microservices"))
        assert ranked[0] == posts["title"]  # a title match outranks a body match
        assert ranked[0].rank > ranked[1].rank
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            plan = Post.objects.search("microservices").explain()
            cursor.execute("SET enable_seqscan = on")
        assert "blog_post_search_gin" in plan
    else:
        # Substring match: the phrase as typed.
        assert list(queryset) == []
        assert list(Post.objects.published().search("split apps")) == [posts["body"]]
