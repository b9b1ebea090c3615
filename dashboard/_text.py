"""How the dashboard writes things: text shown as text (never as Markdown, links, LaTeX or colour
directives), clock times, blanks for missing values, and a guard for `Index` methods that an older
avu lacks (the speaker turns, still to come).

Streamlit renders every string through Markdown with GitHub's autolinks: a subtitle saying
"www.marxists.org" would become a link that swallows the closing quote, `$5 and $6` would become
LaTeX and `:red[x]` a colour. So what a video says, shows or is called is drawn with `st.text`
(no Markdown at all) or, coloured, with `coloured` (escaped HTML). Where such text must sit inside
our own Markdown (a file name in bold), `plain` escapes every ASCII punctuation character with a
backslash (CommonMark allows it for all of them) and puts an invisible word joiner (U+2060) in
front of what GitHub's autolinker looks for (`www.`, `http://`, an `@`), which it runs after the
escapes are resolved."""
from __future__ import annotations

import html
import math
import re
import string

from avu.media.subtitles import format_timestamp

_PUNCT = re.compile("([" + re.escape(string.punctuation) + "])")
_AUTOLINK = re.compile(r"(?i)(www\.|https?://)")  # where GitHub-flavoured Markdown starts a link


def plain(text: object) -> str:
    """`text` as Markdown that renders to that text (line breaks kept, nothing linked)."""
    lines = [_AUTOLINK.sub("\u2060\\1", line).replace("@", "@\u2060") for line in str(text).splitlines() or [""]]
    return "  \n".join(_PUNCT.sub(r"\\\1", line) for line in lines)


def coloured(text: object, colour: str, *, tag: str | None = None) -> str:
    """`text` as escaped HTML in `colour` (a CSS colour of ours), after `tag` in bold, for `st.html`."""
    bold = f"<b>{html.escape(tag)}</b> " if tag else ""
    return f'<span style="color:{colour}">{bold}{html.escape(str(text))}</span>'


def clock(t: float | None, *, hours: bool = True) -> str:
    """Seconds as "hh:mm:ss.s" (the dashboard's one time format; "mm:ss.s" with `hours=False`
    where space is short and the video is under an hour); blank when missing."""
    if t is None or not math.isfinite(float(t)) or t < 0:
        return ""
    text = format_timestamp(round(float(t), 1))[:-2]
    return text if hours or text[:2] != "00" else text[3:]


def blank(value: object) -> object:
    """None and NaN as an empty cell, anything else unchanged."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def index_method(idx, name: str):
    """The bound `Index.<name>` method, or None when this avu's `Index` does not have it yet (the
    page then says in one line that the data is not available instead of failing)."""
    method = getattr(idx, name, None)
    return method if callable(method) else None
