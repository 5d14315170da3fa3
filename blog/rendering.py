"""Render a post body (Markdown, WordPress HTML, Jekyll Liquid) to sanitized HTML.

One renderer serves the public site, the feeds and the markdownx admin preview, so what an
editor previews is what a reader gets. It is pure code: no database, no models; it reads
``settings.SITE_URL`` and ``settings.RENDER_IFRAME_HOSTS`` lazily when Django is configured.

The body goes through four stages:

1. **Liquid and shortcodes** (text in, text out). ``{% raw %}`` content is set aside first
   and put back untouched; ``{% highlight x %}`` becomes a fenced code block;
   ``{{ site.url }}``/``{{ site.baseurl }}`` become ``settings.SITE_URL``; outside code, a
   variable that names a front-matter key (``{{ title }}``, ``{{ image }}``,
   ``{{ page.image }}``) becomes that value, escaped, and an ``<img>`` whose source is still
   template code is dropped; every other Liquid tag or expression stays visible as text and
   is never executed. Outside code (fences, ``<pre>``,
   ``<code>``, backtick spans), WordPress shortcodes are turned into what WordPress showed:
   ``[caption]`` → ``<figure>``/``<figcaption>``, ``[embed]`` and a bare YouTube/Vimeo URL on
   its own line → a responsive ``<iframe>`` wrapper, ``[sourcecode]``/``[code]`` → fenced
   code, ``[video]``/``[audio]`` → HTML5 media, ``[gallery]`` → nothing (its attachments are
   not in the export); unknown shortcodes stay as readable text.
2. **Markdown** with markdown-it-py (CommonMark + tables + strikethrough + footnotes), raw
   HTML allowed. Fenced code is highlighted with Pygments.
3. **Sanitizing** with nh3 against a blog-content allowlist (see ``sanitize``).
4. **Finishing**: stable heading ids and the table of contents, the summary, word count
   and reading time.

Markdown versus HTML, per block — the rule
------------------------------------------
Exporters leave HTML that has no Markdown form (div, figure, span, iframe) around Markdown
they converted, often on the same line: ``<figure><div>![](x.png)</div></figure>Text``.
CommonMark would treat such a line, and every line after it up to the next blank line, as
raw HTML and show the Markdown in it literally. Kabar instead:

* keeps CommonMark's block structure for everything else (paragraphs, lists, fenced and
  indented code, and ``<pre>``/``<script>``/``<style>``/``<textarea>`` blocks, which stay
  verbatim);
* splits every other raw HTML block at its block-level tags (div, figure, section, p, li,
  td, h1-h6, …) and at comments; the tags pass through unchanged, and each run of text
  between them is rendered as Markdown in its own right. A run that sits between two tags
  on one line (``<td>**x**</td>``) or inside a tag that only holds phrasing content (p,
  h1-h6, dt, summary, figcaption, caption, legend) is rendered inline, without a ``<p>``;
* treats a block that holds only inline tags (``<span>`` alone on a line) as one
  paragraph's inline content.

A body that contains HTML tags and no Markdown syntax at all is taken to be WordPress
HTML and gets wpautop's paragraphs: a blank line starts a paragraph, a single newline is a
``<br>``, and indentation never makes a code block.
"""

import contextlib
import functools
import html
import math
import re
import textwrap
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import nh3
from django.utils.text import slugify
from markdown_it import MarkdownIt
from markdown_it.parser_block import ParserBlock
from markdown_it.parser_inline import ParserInline
from markdown_it.rules_block.state_block import StateBlock
from markdown_it.rules_inline.state_inline import StateInline
from mdit_py_plugins.footnote import footnote_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

# Hosts whose iframes may stay in a post (a host also allows its subdomains). Override with
# settings.RENDER_IFRAME_HOSTS.
IFRAME_HOSTS = (
    "youtube.com",
    "youtube-nocookie.com",
    "player.vimeo.com",
    "dailymotion.com",
    "open.spotify.com",
    "w.soundcloud.com",
)

SUMMARY_LENGTH = 300
WORDS_PER_MINUTE = 200

TAGS = frozenset(
    [
        "a",
        "abbr",
        "address",
        "article",
        "aside",
        "audio",
        "b",
        "bdi",
        "bdo",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "i",
        "iframe",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "picture",
        "pre",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "section",
        "small",
        "source",
        "span",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "track",
        "u",
        "ul",
        "var",
        "video",
        "wbr",
    ]
)
# Removed together with their content, so no script text or form label leaks into the page.
CLEAN_CONTENT_TAGS = frozenset(
    [
        "script",
        "style",
        "object",
        "embed",
        "applet",
        "noscript",
        "template",
        "textarea",
        "select",
        "title",
        "xmp",
        "noembed",
        "noframes",
    ]
)
ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "dir", "style"},
    "a": {"href", "hreflang", "name", "rel", "target"},
    # loading/decoding are not taken from the input: Kabar sets them on every image.
    "img": {"src", "srcset", "sizes", "alt", "width", "height"},
    "iframe": {"src", "width", "height", "title", "allow", "allowfullscreen", "loading", "referrerpolicy"},
    "video": {"src", "poster", "width", "height", "preload", "loop", "muted", "playsinline"},
    "audio": {"src", "preload", "loop", "muted"},
    "source": {"src", "srcset", "sizes", "type", "media"},
    "track": {"src", "kind", "srclang", "label", "default"},
    "ol": {"start", "reversed", "type"},
    "li": {"value"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope", "abbr"},
    "col": {"span"},
    "colgroup": {"span"},
    "time": {"datetime"},
    "del": {"datetime", "cite"},
    "ins": {"datetime", "cite"},
    "q": {"cite"},
    "blockquote": {"cite"},
    "details": {"open"},
}
# Only presentational properties that WordPress content relies on; nothing that takes a URL.
STYLE_PROPERTIES = frozenset({"text-align", "font-style", "font-weight", "text-decoration"})
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "data"})
_URL_ATTRIBUTES = frozenset({"href", "src", "poster", "cite"})
_REL_TOKENS = frozenset({"nofollow", "sponsored", "ugc", "noopener", "noreferrer", "tag", "license", "bookmark", "me"})
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
_DATA_IMAGE = re.compile(r"data:image/(?:png|gif|jpeg|jpg|webp);base64,[a-z0-9+/=\s]*", re.I)

_FORMATTER = HtmlFormatter(cssclass="highlight", wrapcode=True)
_MORE = "\ue000\ue001\ue002"  # stands for <!--more--> until the summary is cut
_RAW = "\ue003"  # brackets the index of a {% raw %} block set aside
# The markers above are private-use characters: in a body they mean nothing a reader can see,
# and they must not be taken for Kabar's own (U+FFFD is Unicode's stand-in for such a character).
_MARKERS_IN_TEXT = {ord(char): "\ufffd" for char in _MORE + _RAW}


@dataclass(frozen=True)
class Rendered:
    html: str  # sanitized HTML
    toc: list[dict] = field(default_factory=list)  # [{"id": ..., "text": ..., "level": 2}, ...]
    summary: str = ""  # plain text, at most SUMMARY_LENGTH characters
    word_count: int = 0
    reading_time: int = 0  # minutes, at least 1 when there is text


# -- settings -------------------------------------------------------------------------------


def _setting(*, name: str, default):
    from django.conf import settings

    return getattr(settings, name, default) if settings.configured else default


def _site_url() -> str:
    return (_setting(name="SITE_URL", default="") or "").rstrip("/")


def _iframe_hosts() -> tuple[str, ...]:
    return tuple(host.lower() for host in _setting(name="RENDER_IFRAME_HOSTS", default=IFRAME_HOSTS))


def _host_allowed(*, host: str, allowed: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == name or host.endswith("." + name) for name in allowed)


# -- stage 1: Liquid and shortcodes ----------------------------------------------------------

_LIQUID_RAW = re.compile(r"\{%-?\s*raw\s*-?%\}(.*?)\{%-?\s*endraw\s*-?%\}", re.S)
_LIQUID_HIGHLIGHT = re.compile(
    r"\{%-?\s*highlight\s+([\w+#.-]+)[^%]*-?%\}[ \t]*\n?(.*?)\{%-?\s*endhighlight\s*-?%\}", re.S
)
_LIQUID_SITE_URL = re.compile(r"(?:\{\{-?\s*site\.(?:url|baseurl)\s*-?\}\})+")
# "{{ title }}", "{{ page.image }}": a variable the old generator filled from the front matter.
# Only a bare name is filled; filters, expressions and tags stay visible text, never evaluated.
_TEMPLATE_VARIABLE = re.compile(r"\{\{-?\s*(?:page\.)?([A-Za-z_][\w-]*)\s*-?\}\}")
# An <img> whose source is still template code (a post without the `image` key): the old site's
# `{% if image %}` showed nothing there, and a browser would show a broken image.
_TEMPLATE_IMG = re.compile(
    r"""<img\b[^>]*?\ssrc\s*=\s*["']?\s*\{[{%][^>]*>|!\[[^\[\]\n]*\]\(\s*\{[{%][^()\n]*?[}%]\}\s*\)""", re.I
)
# A filled value is text: HTML's specials and Markdown's punctuation become character
# references, which read the same in Markdown text, raw HTML and attribute values alike.
_VALUE_ESCAPES = {ord(c): f"&#{ord(c)};" for c in "&<>\"'\\`*_[]()#!|~{}"}
_ZOLA_FIGURE = re.compile(r'\{%\s*figure\(\s*caption\s*=\s*"([^"]*)"\s*\)\s*%\}(.*?)\{%\s*end\s*%\}', re.S)
# Regions where shortcodes are shown, not run: fenced code, <pre>, <code> and backtick spans.
_CODE_REGION = re.compile(
    r"^[ \t]{0,3}(?P<fence>`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]{0,3}(?P=fence)[`~]*[ \t]*$|\Z)"
    r"|<pre\b.*?</pre\s*>|<code\b.*?</code\s*>"
    r"|(?<![`\\])(?P<ticks>`+)(?!`)[^\n]*?(?<!`)(?P=ticks)(?!`)",
    re.S | re.M | re.I,
)
# Exporters escape the brackets of text they do not recognise: accept "\[caption\]" too.
_O, _C = r"\\?\[", r"\\?\]"
_SC_CAPTION = re.compile(rf"{_O}(?:caption|wp_caption)\b([^\]]*?){_C}(.*?){_O}/(?:caption|wp_caption){_C}", re.S)
_SC_EMBED = re.compile(rf"{_O}embed\b[^\]]*?{_C}(.*?){_O}/embed{_C}", re.S)
_SC_CODE = re.compile(rf"{_O}(sourcecode|source|code)\b([^\]]*?){_C}\n?(.*?){_O}/\1{_C}", re.S)
_SC_MEDIA = re.compile(rf"{_O}(video|audio)\b([^\]]*?){_C}(?:([^\n]*?){_O}/\1{_C})?")
_SC_GALLERY = re.compile(rf"{_O}gallery\b[^\]]*?{_C}")
_SC_PROVIDER = re.compile(rf"{_O}(youtube|vimeo)[= ]([^\]\s]+)[^\]]*?{_C}")
_SC_ATTRIBUTE = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))""")
_ESCAPED_LINK = re.compile(r"""\\\[([^\[\]\n]+?)\\\]\(((?:https?://|/)[^\s()]+(?:\s+"[^"\n]*")?)\)""")
# A link to a template expression ("[{{ title }}]({{ page.url }})") has no address to go to.
_LIQUID_LINK = re.compile(r"\[([^\[\]\n]*)\]\(\s*\{[{%][^()\n]*?[}%]\}\s*\)")
_URL_LINE = re.compile(r"^[ \t]*<?(https?://[^\s<>]+?)>?[ \t]*$", re.M)
_SC_PRESENT = re.compile(r"\[/?(caption|wp_caption|embed|sourcecode|source|code|video|audio|gallery|youtube|vimeo)\b")
# Cheap tests for "could any shortcode transform apply?", so most bodies skip the code scan.
_TRANSFORM_HINT = re.compile(_SC_PRESENT.pattern + r"|\\\]\(|\]\(\s*\{|^[ \t]*<?https?://", re.M)
_MEDIA_FORMATS = {
    "video": {"src": None, "mp4": "video/mp4", "m4v": "video/mp4", "webm": "video/webm", "ogv": "video/ogg"},
    "audio": {"src": None, "mp3": "audio/mpeg", "m4a": "audio/mp4", "ogg": "audio/ogg", "wav": "audio/wav"},
}


def _unescape_markdown(text: str) -> str:
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!<>])", r"\1", text)


def _shortcode_attributes(text: str) -> dict[str, str]:
    # Exports may carry texturized quotes (&#8221;) and Markdown escapes inside attributes.
    text = _unescape_markdown(html.unescape(text)).translate({0x201C: '"', 0x201D: '"', 0x2033: '"', 0x2032: "'"})
    return {m[1].lower(): next(v for v in m.groups()[1:] if v is not None) for m in _SC_ATTRIBUTE.finditer(text)}


def _fenced(*, code: str, language: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"\n\n{fence}{language}\n{code.strip(chr(10))}\n{fence}\n\n"


def _embed_src(url: str) -> tuple[str, str] | None:
    """Return the (provider, iframe URL) of a YouTube or Vimeo page URL, or None."""
    parts = urlsplit(_unescape_markdown(html.unescape(url.strip())))
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    query = parse_qs(parts.query)
    video_id = ""
    if host == "youtu.be":
        video_id = parts.path.strip("/")
    elif host in {"youtube.com", "youtube-nocookie.com"}:
        if parts.path == "/watch":
            video_id = query.get("v", [""])[0]
        elif parts.path.startswith(("/embed/", "/shorts/", "/v/")):
            video_id = parts.path.split("/")[2]
    if host in {"youtu.be", "youtube.com", "youtube-nocookie.com"}:
        if not re.fullmatch(r"[\w-]{11}", video_id):
            return None
        start = re.match(r"\d+", query.get("t", query.get("start", [""]))[0])
        suffix = f"?start={start[0]}" if start else ""
        return "youtube", f"https://www.youtube-nocookie.com/embed/{video_id}{suffix}"
    if host in {"vimeo.com", "player.vimeo.com"}:
        numbers = re.search(r"(?:^|/)(\d+)(?:/|$)", parts.path)
        return ("vimeo", f"https://player.vimeo.com/video/{numbers[1]}") if numbers else None
    return None


def _embed_html(url: str) -> str | None:
    found = _embed_src(url)
    if found is None:
        return None
    provider, src = found
    title = "YouTube video" if provider == "youtube" else "Vimeo video"
    return (
        f'\n\n<div class="embed embed-{provider}"><iframe src="{html.escape(src)}" title="{title}" width="560" '
        'height="315" allow="accelerometer; clipboard-write; encrypted-media; gyroscope; picture-in-picture" '
        'allowfullscreen referrerpolicy="strict-origin-when-cross-origin"></iframe></div>\n\n'
    )


def _caption(match: re.Match) -> str:
    attributes = _shortcode_attributes(match[1])
    inner = match[2].strip()
    # The media is the leading <a><img></a>, <img>, [![..](..)](..) or ![..](..); the rest is the caption.
    media = re.match(
        r"\s*(?:<a\b[^>]*>\s*<img\b[^>]*>\s*</a>|<img\b[^>]*>|\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\)|!\[[^\]]*\]\([^)]*\))",
        inner,
        re.S,
    )
    image, text = (media[0].strip(), inner[media.end() :]) if media else ("", inner)
    text = " ".join((attributes.get("caption") or text).split())
    align = attributes.get("align", "")
    classes = " ".join(["wp-caption", *re.findall(r"[\w-]+", align)])
    caption = f"<figcaption>{text}</figcaption>" if text else ""
    return f'\n\n<figure class="{classes}">{image}{caption}</figure>\n\n'


def _media(match: re.Match) -> str:
    kind, attributes = match[1], _shortcode_attributes(match[2])
    sources = [(attributes[name], mime) for name, mime in _MEDIA_FORMATS[kind].items() if attributes.get(name)]
    if match[3] and match[3].strip():
        sources.append((_unescape_markdown(match[3].strip().strip("<>")), None))
    if not sources:
        return match[0]
    extra = "".join(
        f' {name}="{html.escape(attributes[name])}"'
        for name in ("poster", "width", "height")
        if kind == "video" and attributes.get(name)
    )
    children = "".join(
        f'<source src="{html.escape(src)}"' + (f' type="{mime}"' if mime else "") + ">" for src, mime in sources
    )
    fallback = html.escape(sources[0][0])
    return f'\n\n<{kind} controls preload="metadata"{extra}>{children}<a href="{fallback}">{fallback}</a></{kind}>\n\n'


def _code_shortcode(match: re.Match) -> str:
    attributes = _shortcode_attributes(match[2])
    language = attributes.get("lang") or attributes.get("language") or ""
    # WordPress stores highlighted code entity-encoded; decode it once.
    return _fenced(code=html.unescape(match[3]), language=re.sub(r"[^\w+#.-]", "", language))


def _embed_shortcode(match: re.Match) -> str:
    url = _unescape_markdown(match[1].strip().strip("<>"))
    if embed := _embed_html(url):
        return embed
    return f"<{url}>" if re.match(r"https?://\S+$", url) else match[0]


def _url_line(match: re.Match) -> str:
    return _embed_html(match[1]) or match[0]


def _shortcodes(text: str) -> str:
    names = {m[1] for m in _SC_PRESENT.finditer(text)}
    if names & {"caption", "wp_caption"}:
        text = _SC_CAPTION.sub(_caption, text)
    if names & {"sourcecode", "source", "code"}:
        text = _SC_CODE.sub(_code_shortcode, text)
    if "embed" in names:
        text = _SC_EMBED.sub(_embed_shortcode, text)
    if names & {"youtube", "vimeo"}:
        text = _SC_PROVIDER.sub(lambda m: _embed_html(_provider_url(m[1], m[2])) or m[0], text)
    if names & {"video", "audio"}:
        text = _SC_MEDIA.sub(_media, text)
    if "gallery" in names:
        text = _SC_GALLERY.sub("", text)
    # "\[text\](https://…)": Markdown written where it was not rendered (Steem cross-posts).
    text = _ESCAPED_LINK.sub(r"[\1](\2)", text)
    if "{" in text:
        text = _LIQUID_LINK.sub(r"\1", text)
    if "http" in text:
        text = _URL_LINE.sub(_url_line, text)
    return text


def _provider_url(provider: str, value: str) -> str:
    value = _unescape_markdown(value)
    if value.startswith("http"):
        return value
    return f"https://vimeo.com/{value}" if provider == "vimeo" else f"https://youtu.be/{value}"


def _outside_code(text: str, *, transform) -> str:
    """Return `text` with `transform` applied to everything but code."""
    pieces, position = [], 0
    for match in _CODE_REGION.finditer(text):
        pieces += [transform(text[position : match.start()]), match[0]]
        position = match.end()
    pieces.append(transform(text[position:]))
    return "".join(pieces)


def _fill_variables(text: str, *, variables: Mapping[str, str]) -> str:
    """Return `text` with each template variable that names a front-matter key replaced by its escaped value."""

    def value(match: re.Match) -> str:
        found = variables.get(match[1])
        return match[0] if found is None else found.translate(_VALUE_ESCAPES)

    return _TEMPLATE_IMG.sub("", _TEMPLATE_VARIABLE.sub(value, text))


def _prepare(body: str, *, variables: Mapping[str, str] | None = None) -> str:
    """Return `body` with Liquid and WordPress shortcodes turned into Markdown/HTML."""
    text = body.replace("\r\n", "\n").replace("\r", "\n").translate(_MARKERS_IN_TEXT)
    raw_blocks: list[str] = []
    if "{%" in text:

        def set_aside(match: re.Match) -> str:
            raw_blocks.append(match[1])
            return f"{_RAW}{len(raw_blocks) - 1}{_RAW}"

        text = _LIQUID_RAW.sub(set_aside, text)
        text = _LIQUID_HIGHLIGHT.sub(lambda m: _fenced(code=m[2], language=m[1]), text)
        text = _ZOLA_FIGURE.sub(
            lambda m: f"\n\n<figure>\n\n{m[2].strip()}\n\n<figcaption>{m[1]}</figcaption></figure>\n\n", text
        )
    if "{{" in text:
        site_url = _site_url()
        text = _LIQUID_SITE_URL.sub(lambda m: site_url, text)
        if "{{" in text:
            # Outside code only: a code sample showing "{{ title }}" (Vue, Angular, Jekyll) stays as written.
            text = _outside_code(text, transform=functools.partial(_fill_variables, variables=variables or {}))
    if _TRANSFORM_HINT.search(text):
        text = _outside_code(text, transform=_shortcodes)
    if raw_blocks:
        text = re.sub(f"{_RAW}(\\d+){_RAW}", lambda m: raw_blocks[int(m[1])], text)
    return text


# -- stage 2: Markdown ------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "caption",
        "center",
        "col",
        "colgroup",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_VOID_TAGS = frozenset({"hr", "col", "br", "img"})
_PHRASING_BLOCKS = frozenset(
    ["p", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "summary", "figcaption", "caption", "legend"]
)
_HTML_PIECE = re.compile(
    r"(?P<comment><!--.*?-->)"
    r"|(?P<raw><(?P<rawname>pre|script|style|textarea|iframe|video|audio|object|svg|math)\b"
    r"(?:[^>\"']|\"[^\"]*\"|'[^']*')*>.*?</(?P=rawname)\s*>)"
    r"|(?P<tag><(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9-]*)(?:\s(?:[^>\"']|\"[^\"]*\"|'[^']*')*)?/?>)",
    re.S | re.I,
)
_VERBATIM_BLOCK = re.compile(r"\s*<(?:pre|script|style|textarea)\b|\s*<[?!]", re.I)
_MORE_COMMENT = re.compile(r"<!--\s*more\b.*?-->", re.S | re.I)
_SINGLE_PARAGRAPH = re.compile(r"<p>((?:(?!<p[ >]).)*)</p>\n?", re.S)
_MAX_DEPTH = 8
# An image with plain alt text and a plain ASCII URL: markdown-it would neither change nor encode them.
_LONE_IMAGE = re.compile(r"!\[([^\[\]\\`*_&<>]*)\]\(([A-Za-z0-9:/?#@!$'*+,;=~%.&_-]+)\)")
_BLOCK_START = re.compile(
    r"[ \t]*(?:#{1,6}(?:[ \t]|$)|>|[-*+][ \t]|\d{1,9}[.)](?:[ \t]|$)|\||```|~~~|(?:[-*_][ \t]*){3,}$|\[[^\]]+\]:|<)"
)


class _OpenElements:
    """The stack of open elements, with a count per name so that every step is O(1) amortised.

    Searching the stack for a closing tag's element made 40,000 nested <div>s quadratic.
    """

    def __init__(self) -> None:
        self.names: list[str] = []
        self.counts: dict[str, int] = {}

    @property
    def top(self) -> str:
        return self.names[-1] if self.names else ""

    def __len__(self) -> int:
        return len(self.names)

    def open(self, name: str) -> None:
        self.names.append(name)
        self.counts[name] = self.counts.get(name, 0) + 1

    def close(self, name: str) -> bool:
        """Close the innermost `name` and everything opened inside it; False when none is open."""
        if not self.counts.get(name):
            return False
        while True:
            popped = self.names.pop()
            self.counts[popped] -= 1
            if popped == name:
                return True


def _render_run(*, text: str, env: dict, enclosing: str, bounded: bool) -> str:
    if not text.strip():
        return text
    md = env["md"]
    inner_env = {"md": md, "depth": env.get("depth", 0) + 1, "references": env.get("references", {})}
    source = textwrap.dedent(text)
    if bounded and (image := _LONE_IMAGE.fullmatch(source)) and md.validateLink(image[2]):
        # Exporters wrap every WordPress image as <figure><div>![](url)</div></figure>: the
        # common case skips markdown-it's character-by-character scan of a long URL.
        return f'<img src="{html.escape(image[2])}" alt="{html.escape(image[1])}">'
    if enclosing in _PHRASING_BLOCKS or (bounded and not _BLOCK_START.match(source)):
        # No block structure possible here: skip the block parser (and its <p>).
        return md.renderInline(source.strip() if not bounded else source, inner_env)
    if "\n" not in source.strip() and not _BLOCK_START.match(source):
        # One line of prose (the text after </figure>): a paragraph, without the block parser.
        return f"<p>{md.renderInline(source.strip(), inner_env)}</p>\n"
    rendered = md.render(source, inner_env)
    if bounded and (single := _SINGLE_PARAGRAPH.fullmatch(rendered)):
        return single[1]
    return rendered


def _render_html(*, content: str, env: dict) -> str:
    """Return a raw HTML block with the Markdown between its block-level tags rendered."""
    if env.get("depth", 0) >= _MAX_DEPTH or _VERBATIM_BLOCK.match(content):
        return _MORE_COMMENT.sub(_MORE, content) if content.lstrip().startswith("<!--") else content
    pieces = [m for m in _HTML_PIECE.finditer(content) if not m["tag"] or m["name"].lower() in _BLOCK_TAGS]
    if not pieces:
        # Only inline tags (a <span> or <a> alone on its line): one paragraph's inline content.
        return env["md"].renderInline(content.strip(), env) + "\n"
    out, stack, position = [], _OpenElements(), 0
    for index, piece in enumerate(pieces):
        text = content[position : piece.start()]
        bounded = index > 0 and "\n" not in text
        out.append(_render_run(text=text, env=env, enclosing=stack.top, bounded=bounded))
        if piece["comment"]:
            out.append(_MORE if _MORE_COMMENT.fullmatch(piece[0]) else "")
        elif piece["tag"]:
            name = piece["name"].lower()
            out.append(piece[0])
            if piece["close"]:
                stack.close(name)
            elif name not in _VOID_TAGS and not piece[0].endswith("/>"):
                stack.open(name)
        else:
            out.append(piece[0])
        position = piece.end()
    out.append(_render_run(text=content[position:], env=env, enclosing=stack.top, bounded=False))
    return "".join(out)


@functools.lru_cache(maxsize=64)
def _lexer(language: str):
    try:
        return get_lexer_by_name(language) if language else TextLexer()
    except ClassNotFound:
        return TextLexer()


def _highlight(*, code: str, language: str) -> str:
    # html-to-markdown exporters write each <br> of a <pre> as "<br></br>": they were line breaks.
    code = code.replace("<br></br>", "\n")
    return highlight(code, _lexer(language.lower()), _FORMATTER)


def _fence_rule(self, tokens, idx, options, env) -> str:
    info = tokens[idx].info.strip()
    language = re.sub(r"^[{.]*|[}]*$", "", info.split()[0]) if info else ""
    return _highlight(code=tokens[idx].content, language=language)


def _code_block_rule(self, tokens, idx, options, env) -> str:
    return _highlight(code=tokens[idx].content, language="")


def _html_block_rule(self, tokens, idx, options, env) -> str:
    return _render_html(content=tokens[idx].content, env=env)


def _html_inline_rule(self, tokens, idx, options, env) -> str:
    content = tokens[idx].content
    if content.startswith("<!--"):
        return _MORE if _MORE_COMMENT.fullmatch(content) else ""
    # "</br>" is how exporters close a <br>; browsers would read it as a second line break.
    return "" if content.lower().replace(" ", "") == "</br>" else content


_CJK_PUNCTUATION = re.compile(r"[\u3000-\u303f\ufe30-\ufe4f\uff00-\uff65]")


class _CJKStateInline(StateInline):
    def scanDelims(self, start: int, canSplitWord: bool):
        """Return the emphasis delimiter run at `start`, with CJK punctuation read as letters."""
        # CommonMark leaves "**重要。**当" as literal asterisks: a closing run after punctuation
        # must be followed by space or punctuation, and Chinese or Japanese text has no spaces.
        before = self.src[start - 1] if start > 0 else " "
        end = start
        while end < self.posMax and self.src[end] == self.src[start]:
            end += 1
        after = self.src[end] if end < self.posMax else " "
        if not (_CJK_PUNCTUATION.match(before) or _CJK_PUNCTUATION.match(after)):
            return super().scanDelims(start, canSplitWord)
        original = self.src
        # Scan a copy where the neighbouring CJK punctuation reads as a letter ("x").
        self.src = original[: max(start - 1, 0)] + _CJK_PUNCTUATION.sub("x", original[max(start - 1, 0) : end + 1])
        self.src += original[end + 1 :]
        try:
            return super().scanDelims(start, canSplitWord)
        finally:
            self.src = original


class _CJKParserInline(ParserInline):
    def parse(self, src, md, env, tokens):
        """Return `tokens` with the inline tokens of `src` appended."""
        state = _CJKStateInline(src, md, env, tokens)
        self.tokenize(state)
        for rule in self.ruler2.getRules(""):
            rule(state)
        return state.tokens


class RenderTimeout(Exception):
    """Rendering ran past the deadline set with `deadline()`."""


_deadline = threading.local()


@contextlib.contextmanager
def deadline(*, seconds: float) -> Iterator[None]:
    """Within the block, make rendering raise RenderTimeout once it has run `seconds`.

    Markdown parsing is linear but, in pure Python, a megabyte of pathological Markdown takes
    seconds: the editor's preview stops there and says so instead of keeping the editor waiting.
    """
    previous = getattr(_deadline, "at", None)
    _deadline.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline.at = previous


def _check_deadline(*_args) -> bool:
    """A Markdown rule that never matches: it raises RenderTimeout once the deadline has passed."""
    at = getattr(_deadline, "at", None)
    if at is not None and time.monotonic() > at:
        raise RenderTimeout
    return False


class _WatchedStateBlock(StateBlock):
    def push(self, *args, **kwargs):
        _check_deadline()
        return super().push(*args, **kwargs)


class _WatchedParserBlock(ParserBlock):
    def parse(self, src, md, env, outTokens):
        """Return `outTokens` with the block tokens of `src` appended, checking the deadline at each."""
        if not src:
            return None
        state = _WatchedStateBlock(src, md, env, outTokens)
        self.tokenize(state, state.line, state.lineMax)
        return state.tokens


@functools.cache
def _markdown(*, wpautop: bool, footnotes: bool, cjk: bool, watched: bool = False) -> MarkdownIt:
    """Return the Markdown parser for a body of this kind (each extra costs time, so only when used)."""
    md = MarkdownIt("commonmark", {"html": True, "breaks": wpautop}).enable(["table", "strikethrough"])
    if cjk:
        md.inline.__class__ = _CJKParserInline
    if footnotes:
        md.use(footnote_plugin)
    if wpautop:
        # In WordPress HTML, indentation is just formatting, never a code block.
        md.disable("code")
    if watched:
        # Checked at every block token and before every inline rule: about a fifth more time,
        # so only when a deadline is set (the preview), never for saving or importing.
        md.block.__class__ = _WatchedParserBlock
        md.inline.ruler.before(md.inline.ruler.get_all_rules()[0], "deadline", _check_deadline)
    for name, rule in {
        "fence": _fence_rule,
        "code_block": _code_block_rule,
        "html_block": _html_block_rule,
        "html_inline": _html_inline_rule,
    }.items():
        md.add_render_rule(name, rule)
    return md


_MARKDOWN_SYNTAX = re.compile(
    r"^ {0,3}(?:#{1,6}[ \t]|[-*+][ \t]+\S|\d{1,9}[.)][ \t]+\S|>|```|~~~|\|.*\|[ \t]*$|(?:[-*_][ \t]*){3,}$)"
    r"|\*\*\S|__\S|!\[|\]\(|\]\[|`[^`\n]+`|(?<![\w*])\*[^\s*][^*\n]*(?<!\s)\*(?![\w*])"
    # An indented line after a blank line is a code block in a Markdown export.
    r"|\n[ \t]*\n(?: {4}|\t)[ \t]*\S",
    re.M,
)
_HTML_SYNTAX = re.compile(r"<(?:p|div|br|span|a|img|strong|b|em|i|ul|ol|li|h[1-6]|table|blockquote|pre|figure)\b", re.I)


def _is_wordpress_html(text: str) -> bool:
    return bool(_HTML_SYNTAX.search(text)) and not _MARKDOWN_SYNTAX.search(text)


# -- stage 3: sanitizing ----------------------------------------------------------------------

_A_TAG = re.compile(r"<a\b((?:[^>\"']|\"[^\"]*\")*)>")
_HREF = re.compile(r'\shref="([^"]*)"')
_REL = re.compile(r'\srel="[^"]*"')
_GRAMMARLY_TAG = re.compile(r"</?g\b[^>]*>", re.I)
_EMPTY_IFRAME = re.compile(r"<iframe\b(?![^>]*\ssrc=)[^>]*>.*?</iframe>", re.S)


def _attribute_filter(*, iframe_hosts: tuple[str, ...]):
    def check(tag: str, attribute: str, value: str) -> str | None:
        if attribute in _URL_ATTRIBUTES:
            # Browsers ignore whitespace and control characters inside a scheme ("java\tscript:").
            compact = re.sub(r"[\x00-\x20]+", "", value).lower()
            if compact.startswith("data:"):
                return value if tag == "img" and attribute == "src" and _DATA_IMAGE.fullmatch(value.strip()) else None
            scheme = _SCHEME.match(compact)
            if scheme and scheme[1] not in URL_SCHEMES:
                return None
            if tag == "iframe":
                parts = urlsplit(value.strip())
                ok = parts.scheme == "https" and _host_allowed(host=parts.hostname or "", allowed=iframe_hosts)
                return value if ok else None
        elif attribute == "srcset":
            candidates = [c.strip().split()[0] for c in value.split(",") if c.strip()]
            return value if all(re.match(r"(?:https?:)?//|[^:]*$", c, re.I) for c in candidates) else None
        elif attribute == "rel":
            tokens = [token for token in value.lower().split() if token in _REL_TOKENS]
            return " ".join(tokens) or None
        elif attribute == "target":
            return value if value in {"_blank", "_self"} else None
        return value

    return check


def _external_rel(*, site_host: str):
    def add(match: re.Match) -> str:
        attributes = match[1]
        href = _HREF.search(attributes)
        if not href:
            return match[0]
        parts = urlsplit(html.unescape(href[1]))
        external = parts.scheme in {"http", "https", ""} and parts.netloc and parts.hostname != site_host
        if not external:
            return match[0]
        kept = re.search(r'\srel="([^"]*)"', attributes)
        tokens = dict.fromkeys([*(kept[1].split() if kept else []), "noopener", "noreferrer"])
        return f'<a{_REL.sub("", attributes)} rel="{" ".join(tokens)}">'

    return add


_DEPTH_PIECE = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<(?P<raw>script|style|textarea|title|xmp|iframe|noembed|noframes)\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>.*?(?:</(?P=raw)\s*>|\Z)"
    r"|<(?P<close>/?)(?P<name>[A-Za-z][A-Za-z0-9-]*)(?:\s(?:[^>\"']|\"[^\"]*\"|'[^']*')*)?(?P<self>/?)>",
    re.S | re.I,
)
_HTML_VOID = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]
)
# Elements an opening tag of the same name closes (HTML's optional end tags); a block also closes a <p>.
_SELF_CLOSING_SIBLINGS = frozenset(["p", "li", "dt", "dd", "tr", "td", "th", "option"])


def limit_depth(html: str, *, max_depth: int) -> str:
    """Return `html` without the tags that would nest elements deeper than `max_depth`; text is kept.

    HTML parsers (html5ever in nh3 among them) spend time in proportion to the depth of the
    open elements at each tag, so 40,000 nested <div>s cost quadratic time. One linear pass
    drops the opening tags past the limit, and their closing tags; no reader's page nests
    anywhere near that deep.
    """
    stack, dropped = _OpenElements(), {}
    out, position = [], 0
    for piece in _DEPTH_PIECE.finditer(html):
        name = (piece["name"] or "").lower()
        if not name or name in _HTML_VOID or piece["self"]:
            continue
        keep = True
        if piece["close"]:
            if dropped.get(name):
                dropped[name] -= 1
                keep = False
            else:
                stack.close(name)
        else:
            if stack.top in _SELF_CLOSING_SIBLINGS and (
                stack.top == name or (stack.top == "p" and name in _BLOCK_TAGS)
            ):
                stack.close(stack.top)
            if len(stack) >= max_depth:
                dropped[name] = dropped.get(name, 0) + 1
                keep = False
            else:
                stack.open(name)
        if not keep:
            out.append(html[position : piece.start()])
            position = piece.end()
    if not out:
        return html
    out.append(html[position:])
    return "".join(out)


def sanitize(html: str) -> str:
    """Return `html` reduced to the blog-content allowlist, safe to show on the site."""
    # Grammarly's <g> wrappers leak into WordPress posts; the sanitizer would drop their text.
    html = _GRAMMARLY_TAG.sub("", html)
    html = limit_depth(html, max_depth=_setting(name="RENDER_MAX_DEPTH", default=100))
    cleaned = _cleaner(iframe_hosts=_iframe_hosts()).clean(html)
    cleaned = cleaned.replace(' style=""', "").replace("<img ", '<img decoding="async" ')
    if "<iframe" in cleaned:
        # An iframe whose source was refused is an empty box: drop it.
        cleaned = _EMPTY_IFRAME.sub("", cleaned)
    if "<a " in cleaned:
        site_host = urlsplit(_site_url()).hostname or ""
        cleaned = _A_TAG.sub(_external_rel(site_host=site_host), cleaned)
    return cleaned


@functools.lru_cache(maxsize=8)
def _cleaner(*, iframe_hosts: tuple[str, ...]) -> nh3.Cleaner:
    """Return the nh3 sanitizer for these iframe hosts (building one costs more than using it)."""
    return nh3.Cleaner(
        tags=set(TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=_attribute_filter(iframe_hosts=_iframe_hosts()),
        link_rel=None,
        url_schemes=set(URL_SCHEMES),
        filter_style_properties=set(STYLE_PROPERTIES),
        set_tag_attribute_values={
            # One attribute per tag only: nh3 keeps these in a hash map, so with two the
            # order would change from process to process and stored HTML would churn.
            "img": {"loading": "lazy"},
            "iframe": {"loading": "lazy"},
            "video": {"controls": ""},
            "audio": {"controls": ""},
        },
    )


# -- stage 4: headings, summary, counts -------------------------------------------------------

_HEADING = re.compile(r"<h([1-6])((?:\s(?:[^>\"']|\"[^\"]*\")*)?)>(.*?)</h\1>", re.S)
_ID = re.compile(r'\sid="([^"]*)"')
_EXPLICIT_ID = re.compile(r"\s*\{#([A-Za-z][\w:.-]*)\}\s*$")
_TAG = re.compile(r"<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")
_BLOCK_BOUNDARY = re.compile(r"<(?:/?(?:p|div|h[1-6]|li|tr|pre|blockquote|figure|figcaption|dd|dt|table)\b|br)[^>]*>")
_FIRST_PARAGRAPH = re.compile(r"<p\b[^>]*>(.*?)</p>", re.S)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_WORD = re.compile(r"[^\W_]\S*")  # from a letter or digit to the next space; a lone dash is no word


def _plain_text(fragment: str) -> str:
    """Return the visible text of an HTML fragment, one line per block."""
    text = _TAG.sub("", _BLOCK_BOUNDARY.sub("\n", fragment))
    return html.unescape(text).replace(_MORE, "")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _add_heading_ids(fragment: str) -> tuple[str, list[dict]]:
    if "<h" not in fragment:
        return fragment, []
    used = set(_ID.findall(fragment)) if ' id="' in fragment else set()
    toc: list[dict] = []

    def name(match: re.Match) -> str:
        level, attributes, inner = match[1], match[2], match[3]
        explicit = _EXPLICIT_ID.search(inner)
        if explicit:
            inner = inner[: explicit.start()]
        text = _one_line(_plain_text(inner))
        existing = _ID.search(attributes)
        if existing:
            anchor = existing[1]
        else:
            base = explicit[1] if explicit else (slugify(text, allow_unicode=True) or "section")
            anchor, n = base, 0
            while anchor in used:
                n += 1
                anchor = f"{base}-{n}"
            used.add(anchor)
            attributes += f' id="{html.escape(anchor)}"'
        if text:
            toc.append({"id": anchor, "text": text, "level": int(level)})
        return f"<h{level}{attributes}>{inner}</h{level}>"

    return _HEADING.sub(name, fragment), toc


def _shorten(text: str, *, limit: int = SUMMARY_LENGTH) -> str:
    text = _one_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    # Cut at a word boundary, unless the text has none nearby (Chinese, Japanese).
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-\u2013\u2014") + "…"


def _count_words(text: str) -> int:
    cjk = len(_CJK.findall(text))
    if cjk:
        text = _CJK.sub(" ", text)
    return cjk + len(_WORD.findall(text))


def render_post(body: str, *, excerpt: str = "", variables: Mapping[str, str] | None = None) -> Rendered:
    """Return the rendered post: sanitized HTML, table of contents, summary and counts.

    `variables`: the post's front-matter values, for the `{{ key }}`/`{{ page.key }}` the
    body names (see `template_variables`).
    """
    source = _prepare(body or "", variables=variables)
    md = _markdown(
        wpautop=_is_wordpress_html(source),
        footnotes="[^" in source,
        cjk=bool(_CJK_PUNCTUATION.search(source)),
        watched=getattr(_deadline, "at", None) is not None,
    )
    fragment = sanitize(md.render(source, {"md": md}))
    fragment = fragment.replace("&lt;br&gt;&lt;/br&gt;", "<br>")  # an exporter's <br> inside a code span
    fragment, toc = _add_heading_ids(fragment)
    before_more, more, _ = fragment.partition(_MORE)
    fragment = fragment.replace(_MORE, "")
    text = _plain_text(fragment)
    if excerpt and excerpt.strip():
        summary = _plain_text(nh3.clean(excerpt, tags=set()))
    elif more:
        summary = _plain_text(before_more)
    else:
        paragraphs = (_one_line(_plain_text(p[1])) for p in _FIRST_PARAGRAPH.finditer(fragment))
        summary = next((p for p in paragraphs if p), text)
    words = _count_words(text)
    return Rendered(
        html=fragment,
        toc=toc,
        summary=_shorten(summary),
        word_count=words,
        reading_time=math.ceil(words / WORDS_PER_MINUTE) if words else 0,
    )


def template_variables(front_matter: Mapping[str, object]) -> dict[str, str]:
    """Return the front-matter values a body may name as `{{ key }}`: text and numbers only."""
    return {
        key: str(value)
        for key, value in front_matter.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }


def render_pair(item: tuple[str, str]) -> Rendered:
    """Return `render_post(body, excerpt=excerpt)` for a `(body, excerpt)` pair (a process pool's task)."""
    body, excerpt = item
    return render_post(body, excerpt=excerpt)


def render(body: str) -> str:
    """Return `body` rendered to sanitized HTML (also the markdownx preview function)."""
    return render_post(body).html


def pygments_css() -> str:
    """Return the stylesheet for highlighted code: a light style, and a dark one for dark mode."""
    light = HtmlFormatter(style="default", cssclass="highlight").get_style_defs(".highlight")
    dark = HtmlFormatter(style="github-dark", cssclass="highlight").get_style_defs(".highlight")
    dark = textwrap.indent(dark, "  ")
    return (
        "/* Generated by blog.rendering.pygments_css(); do not edit by hand. */\n"
        f"{light}\n\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"
    )


# -- comments -------------------------------------------------------------------------------

# What a comment may hold: far less than a post. WordPress's own comment allowlist, without
# the presentational leftovers; no images, iframes, styles, classes or ids.
COMMENT_TAGS = frozenset(
    {"p", "br", "a", "em", "i", "strong", "b", "code", "pre", "blockquote", "q", "cite", "del", "s", "abbr"}
)
COMMENT_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}}
COMMENT_URL_SCHEMES = frozenset({"http", "https", "mailto"})
COMMENT_LINK_REL = "nofollow ugc"
_COMMENT_BLOCK = re.compile(r"\n[ \t]*\n\s*")
_COMMENT_PIECE = re.compile(r"(<[^>]*>)")
_COMMENT_BLOCK_TAG = re.compile(r"<(?:blockquote|pre|p)\b", re.IGNORECASE)
_COMMENT_URL = re.compile(r"\bhttps?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


@functools.lru_cache(maxsize=1)
def _comment_cleaner() -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(COMMENT_TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={tag: set(names) for tag, names in COMMENT_ATTRIBUTES.items()},
        link_rel=COMMENT_LINK_REL,
        url_schemes=set(COMMENT_URL_SCHEMES),
        strip_comments=True,
    )


def _linkify(text: str) -> str:
    """Return `text` with bare http(s) URLs outside tags and links made into links, as WordPress does."""
    out, in_link, in_code = [], False, False
    for piece in _COMMENT_PIECE.split(text):
        if piece.startswith("<"):
            name = piece[1:].lstrip("/").split(None, 1)[0].rstrip(">").lower() if len(piece) > 2 else ""
            if name == "a":
                in_link = not piece.startswith("</")
            elif name in ("code", "pre"):
                in_code = not piece.startswith("</")
            out.append(piece)
        elif in_link or in_code:
            out.append(piece)
        else:
            out.append(_COMMENT_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', piece))
    return "".join(out)


def render_comment(body: str) -> str:
    """Return a comment's text as sanitized HTML: paragraphs, line breaks, a strict allowlist of tags.

    The text is WordPress comment HTML or plain text: a blank line starts a paragraph, a
    newline is a line break, bare URLs become links; every link gets rel="nofollow ugc".
    """
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ""
    blocks = []
    for part in _COMMENT_BLOCK.split(text):
        part = _linkify(part.strip())
        if _COMMENT_BLOCK_TAG.match(part):
            blocks.append(part)  # a quote or code block is a block of its own, its lines kept
        elif part:
            blocks.append("<p>" + part.replace("\n", "<br>\n") + "</p>")
    return _comment_cleaner().clean("\n".join(blocks)).replace("<p></p>", "")
