"""Absolute links and the first image in stored post HTML."""

from blog.html_links import absolute_links, first_image_src

BASE = "https://blog.example/2022/10/post/"


def test_relative_links_become_absolute_and_others_stay():
    html = (
        '<p><a href="/about/">About</a> <a href="notes/">Notes</a> <a href="#part-2">Part 2</a> '
        '<a href="https://other.example/x">Other</a> <a href="mailto:me@blog.example">Mail</a></p>'
    )
    assert absolute_links(html, base_url=BASE) == (
        '<p><a href="https://blog.example/about/">About</a> '
        '<a href="https://blog.example/2022/10/post/notes/">Notes</a> '
        '<a href="#part-2">Part 2</a> <a href="https://other.example/x">Other</a> '
        '<a href="mailto:me@blog.example">Mail</a></p>'
    )


def test_image_src_and_srcset_become_absolute():
    html = '<img src="/media/a.png" srcset="/media/a-480.webp 480w, /media/a-960.webp 960w" alt="A">'
    assert absolute_links(html, base_url=BASE) == (
        '<img src="https://blog.example/media/a.png" '
        'srcset="https://blog.example/media/a-480.webp 480w, https://blog.example/media/a-960.webp 960w" alt="A">'
    )


def test_query_strings_keep_their_escaping():
    html = '<a href="/search/?q=a&amp;page=2">next</a>'
    assert absolute_links(html, base_url=BASE) == '<a href="https://blog.example/search/?q=a&amp;page=2">next</a>'


def test_text_that_looks_like_an_attribute_is_left_alone():
    html = '<p>Write src="/x" in your template.</p>'
    assert absolute_links(html, base_url=BASE) == html


def test_first_image():
    assert first_image_src('<p>x</p><img alt="a" src="/media/one.png"><img src="/media/two.png">') == "/media/one.png"
    assert first_image_src('<img src="/m/a.png?w=1&amp;h=2">') == "/m/a.png?w=1&h=2"
    assert first_image_src("<p>No pictures</p>") == ""


def test_quoted_greater_than_inside_an_attribute_does_not_end_the_tag():
    html = '<a title="a > b" href="/x/">x</a>'
    assert absolute_links(html, base_url=BASE) == '<a title="a > b" href="https://blog.example/x/">x</a>'
    assert first_image_src('<p>src="/no.png"</p><img alt="1 > 0" src="/yes.png">') == "/yes.png"
