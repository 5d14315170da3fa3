"""Odd and hostile addresses get a 404 or a 400, never a 500 (issue 17, items 9 and 'Smaller').

The test client raises any exception a view lets through, so a 500 fails these tests
loudly. CI runs this file on SQLite and on PostgreSQL, where a NUL reaching a query is an
error (its text columns cannot hold one).
"""

import pytest

SAMPLE_PERMALINK = "/index.php/2022/10/29/mengenal-microservices-pengertian-contoh-dan-kelebihannya/"


@pytest.mark.parametrize(
    "address",
    [
        "/?p=%C2%B2",  # '²': str.isdigit() says yes, int() says no
        "/?page_id=%E2%91%A0",  # '①'
        "/index.php?p=%C2%B2",
        "/?p=%D9%A1%D9%A6%D9%A1",  # Arabic-Indic digits for 161
        "/?p=99999999999999999999999",  # past a 64-bit id
        "/?p=-161",
    ],
)
def test_wordpress_ids_that_are_not_ascii_numbers_are_404(client, sample_post, address):
    assert client.get(address).status_code == 404


def test_wordpress_ids_in_ascii_digits_still_redirect(client, sample_post):
    for address in ("/?p=161", "/?page_id=161", "/index.php?p=161"):
        response = client.get(address)
        assert (response.status_code, response["Location"]) == (301, SAMPLE_PERMALINK)


def test_month_query_in_other_digits_is_not_an_archive(client, sample_post):
    assert client.get("/?m=%C2%B2%C2%B2%C2%B2%C2%B2").status_code == 200  # the home page, no redirect
    assert client.get("/?m=202210")["Location"] == "/2022/10/"


@pytest.mark.parametrize("address", ["/9999/12/31/", "/9999/12/", "/9999/", "/0000/01/01/", "/2022/02/30/"])
def test_dates_at_the_edge_of_the_calendar_are_404(client, sample_post, address):
    assert client.get(address).status_code == 404


@pytest.mark.parametrize(
    ("address", "status"),
    [("/9999/12/31/feed/", 200), ("/9999/12/feed/", 200), ("/9999/feed/", 200), ("/2022/02/30/feed/", 404)],
)
def test_date_feeds_at_the_edge_of_the_calendar_answer(client, sample_post, address, status):
    # A valid date's feed answers (empty), as check_links counts it; the day after 9999-12-31 is no error.
    assert client.get(address).status_code == status


@pytest.mark.parametrize(
    "address",
    ["/search/?q=%00", "/tag/%00/", "/category/a%00b/", "/%00", "/author/%00/feed/", "/?p=1%00", "/admin/?q=%00"],
)
def test_a_nul_anywhere_in_the_address_is_400(client, sample_post, address):
    response = client.get(address)
    assert response.status_code == 400
    assert b"NUL" in response.content


def test_a_nul_in_the_session_cookie_is_400(client, sample_post):
    # A quoted cookie value may spell NUL as an octal escape; the session store would look it up.
    cookie = 'sessionid="' + "\\000" * 40 + '"'
    assert client.get(SAMPLE_PERMALINK, HTTP_COOKIE=cookie).status_code == 400


def test_page_zero_and_padded_page_numbers_are_404(client, make_post, category):
    for _n in range(12):
        make_post(categories=[category])
    assert client.get("/page/2/").status_code == 200
    for address in ("/page/0/", "/page/00/", "/page/02/", "/category/tutorialblogger/page/0/"):
        assert client.get(address).status_code == 404, address
    assert client.get("/category/tutorialblogger/page/2/").status_code == 200


def test_percent_encoded_permalinks_are_reached_in_either_case(client, make_post):
    # WordPress writes non-ASCII slugs percent-encoded in lower case; browsers send them as written.
    lower = make_post(title="Lower", permalink="/%e5%b0%91/")
    upper = make_post(title="Upper", permalink="/caf%C3%A9/")
    query = make_post(title="Question", permalink="/why%3f/")
    addresses = [(lower, lower.permalink), (upper, upper.permalink), (query, query.permalink)]
    addresses += [(lower, "/%E5%B0%91/"), (lower, "/少/")]  # the same address: other case, decoded
    for post, address in addresses:
        response = client.get(address)
        assert response.status_code == 200
        assert f'<h1 class="p-name">{post.title}</h1>' in response.content.decode()
