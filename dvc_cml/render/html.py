"""report.html: the Markdown report as one self-contained, interactive page.  Pure: returns str.

The page is rendered from the very Markdown of report.md, so it always has the same sections
and tables, by cmark-gfm (GitHub's own renderer, in C: a 5,000-metric report in 0.04 s, where
a pure-Python parser took 0.8 s).  Where the Markdown shows a chart's PNG, the page draws the
chart's Vega-Lite spec with vega-embed instead (tooltips, zoom and pan, legends); image plots
are embedded as data URIs.  The Vega, Vega-Lite and vega-embed JavaScript is inlined once for
the whole page: it works offline, from a file or an artifact server, with no CDN.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

from dvc_cml.model import RenderedPlot

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}

# Canvas, not SVG: a page of 100 charts with a hover mark per point draws in about a third
# of the time.  vega-embed's menu keeps saving as SVG/PNG only: "View Source" and "View
# Compiled Vega" write the spec unescaped into a popup of this page's origin (any name in
# a chart could run script there), and "Open in Vega Editor" sends the chart to another
# site.  `ast`: Vega evaluates its expressions with its interpreter instead of compiling
# them into functions, so the page needs no 'unsafe-eval' (see `policy`).
EMBED_OPTIONS = {
    "renderer": "canvas",
    "ast": True,
    "actions": {"export": True, "source": False, "compiled": False, "editor": False},
}

# Draws every chart.  A chart that fails says so in place (and on the console) instead of
# leaving a blank space.  The Vega views stay reachable as `dvcCml.views` (browser devtools,
# and the tests); each holder says when it is done (data-drawn).
EMBED_SCRIPT = """
(() => {
  const options = %s;
  const views = (window.dvcCml = {views: []}).views;
  document.querySelectorAll("[data-vega-spec]").forEach((holder, index) => {
    let spec = JSON.parse(document.getElementById(holder.dataset.vegaSpec).textContent);
    // A long line is drawn without point marks, and a line has one tooltip for all its
    // points: here (not in the PNG, where they cost time) every point gets an invisible
    // mark to hover, in a layer of its own that stays out of the legends.
    if (spec.mark && spec.mark.type === "line" && !spec.mark.point) {
      const {mark, encoding, params, ...rest} = spec;
      const line = params ? {mark, encoding, params} : {mark, encoding};
      const hover = {x: encoding.x, y: encoding.y, tooltip: encoding.tooltip};
      const points = {mark: {type: "point", opacity: 0, size: 60}, encoding: hover};
      spec = {...rest, layer: [line, points]};
    }
    vegaEmbed(holder, spec, options)
      .then((result) => { views[index] = result.view; holder.dataset.drawn = "true"; })
      .catch((error) => {
        holder.textContent = "This chart could not be drawn: " + error.message;
        holder.classList.add("failed");
        holder.dataset.drawn = "false";
        console.error(error);
      });
  });
})();
"""

STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       margin: 0; background: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 64px; }
h2 { border-bottom: 1px solid #d1d9e0; padding-bottom: .3em; }
h3 { margin-top: 2em; border-bottom: 1px solid #d1d9e0; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 8px 0 16px; display: block; overflow-x: auto; }
th, td { border: 1px solid #d1d9e0; padding: 4px 12px; }
th { background: #f6f8fa; }
tbody tr:nth-child(2n) { background: #f6f8fa; }
code { background: #eff1f3; border-radius: 4px; padding: .1em .35em; font-size: 90%; }
blockquote { margin: 0 0 12px; padding: 0 1em; color: #59636e; border-left: .25em solid #d1d9e0; }
details { margin: 8px 0 16px; }
summary { cursor: pointer; }
img { max-width: 100%; }
.vega-chart { display: block; overflow-x: auto; margin: 8px 0; }
.vega-chart.failed { color: #d1242f; }
.mark { vertical-align: -0.125em; }
"""


def _to_html(markdown: str) -> str:
    import cmarkgfm
    from cmarkgfm.cmark import Options

    # Raw HTML on (UNSAFE): the report's own <details>, <sub> and <br>; every value from the
    # project was escaped when the Markdown was rendered.
    rendered: str = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=Options.CMARK_OPT_UNSAFE
    )
    return rendered


# The report's marks drawn, not typed: report.md keeps ✅/❌/⚠️ (GitLab and GitHub draw
# emoji themselves), but a browser draws them with a system font, and machines without an
# emoji font (CI runners, servers, minimal desktops) show one empty box for all three.  Here
# each is an inline SVG, its meaning in its shape and its colour (and its label for screen
# readers), with no font involved.
_MARK = (
    '<svg class="mark {name}" viewBox="0 0 16 16" width="1em" height="1em" role="img" '
    'aria-label="{label}">{paths}</svg>'
)
_STROKE = 'fill="none" stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round"'
MARKS = {
    "✅": _MARK.format(
        name="good",
        label="good",
        paths=f'<path d="M2.5 8.5l3.5 3.5 7.5-8" stroke="#1a7f37" {_STROKE}/>',
    ),
    "❌": _MARK.format(
        name="bad",
        label="bad",
        paths=f'<path d="M3.5 3.5l9 9M12.5 3.5l-9 9" stroke="#d1242f" {_STROKE}/>',
    ),
    "⚠️": _MARK.format(
        name="warning",
        label="warning",
        paths='<path d="M8 1.5L15 14.5H1z" fill="#bf8700"/>'
        f'<path d="M8 6v4M8 12.5v.01" stroke="#fff" {_STROKE}/>',
    ),
}
# A mark in text, not in a tag (an image's alt text, say): the next `<` comes before any `>`.
_MARK_TEXT = re.compile(f"({'|'.join(map(re.escape, MARKS))})(?![^<]*>)")


def _draw_marks(body: str) -> str:
    """✅, ❌ and ⚠️ in the page's text (never inside a tag) as the inline marks above."""
    return _MARK_TEXT.sub(lambda found: MARKS[found.group(1)], body)


# cmark-gfm writes every image as `<img src="..." alt="..." />`, attributes HTML-escaped.
IMAGE = re.compile(r'<img src="([^"]*)" alt="([^"]*)" />')
HEADING = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>", re.S)
TAG = re.compile(r"<[^>]+>")


# The indentation of a spec as written beside its PNG (`json.dumps(indent=1)`): a newline
# never occurs inside a JSON string (it is written `\\n`), so dropping these is lossless.
INDENT = re.compile(r"\n *")


def _json_for_script(data: bytes) -> str:
    """A spec as compact JSON that cannot end its <script> element, without parsing it
    again (a page of 100 charts spent 0.4 s parsing and re-writing its specs).

    `<`, `>` and `&` only occur inside JSON strings, where \\u escapes mean the same.
    """
    text = INDENT.sub("", data.decode("utf-8"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _script_text(script: str) -> str:
    # A script element ends at the first `</script`; the bundle has none, but be sure.
    return script.replace("</script", "<\\/script")


@functools.lru_cache(maxsize=8)
def _sha256(text: str) -> str:
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"
    )


def policy(scripts: Sequence[str]) -> str:
    """The page's Content-Security-Policy: nothing from anywhere else, no connection out,
    and no script but the page's own (by hash: one injected into the page would not run)."""
    run = " ".join(_sha256(script) for script in scripts) or "'none'"
    return (
        f"default-src 'none'; script-src {run}; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def _title(body: str) -> str:
    """The text of the first heading (the report's "DVC report: base → head")."""
    found = HEADING.search(body)
    return html.unescape(TAG.sub("", found.group(1))) if found else "DVC report"


def render(
    markdown: str,
    plots: Sequence[RenderedPlot],
    files: Mapping[str, bytes],
    script: str,
) -> str:
    """The page for `markdown` (report.md's text).

    `files` holds the report directory's files by relative path (what the Markdown links
    to); `script` is the Vega/Vega-Lite/vega-embed bundle, inlined once when the page has a
    chart.
    """
    specs = {p.png: p.spec for p in plots if p.png and p.spec and p.spec in files}
    charts: list[str] = []

    def image(found: re.Match[str]) -> str:
        src, alt = html.unescape(found.group(1)), found.group(2)
        if src in specs:
            number = len(charts) + 1
            spec = _json_for_script(files[specs[src]])
            charts.append(f'<script type="application/json" id="spec-{number}">{spec}</script>')
            return (
                f'<span class="vega-chart" role="img" aria-label="{alt}" '
                f'data-vega-spec="spec-{number}"></span>'
            )
        if src in files:
            kind = IMAGE_TYPES.get(PurePosixPath(src).suffix.lower(), "image/png")
            data = base64.b64encode(files[src]).decode("ascii")
            return f'<img src="data:{kind};base64,{data}" alt="{alt}">'
        return found.group(0)

    for spec in specs.values():
        # The spec beside the PNG is not beside a page that travels alone; vega-embed's menu
        # shows the chart's source instead.
        markdown = markdown.replace(f"<sub>[Vega-Lite spec]({spec})</sub>\n\n", "")
    # Marks first: the images' data URIs, megabytes of them, need no looking through.
    body = IMAGE.sub(image, _draw_marks(_to_html(markdown)))
    title = html.escape(_title(body))

    scripts = []
    if charts:
        scripts = [_script_text(script), EMBED_SCRIPT % json.dumps(EMBED_OPTIONS)]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{policy(scripts)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="dvc-cml">',
        f"<title>{title}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        body,
        "</main>",
    ]
    out += charts
    out += [f"<script>{text}</script>" for text in scripts]
    out += ["</body>", "</html>", ""]
    return "\n".join(out)
