"""The documentation lists exactly the endpoints served: the route table's, and the
static pages of public/ (Workers Static Assets on the edge, `devcapsules dev` locally)."""

import re

from devcapsules.routes import all_routes
from tests.support.bindings import ROOT

METHODS = "GET|POST|PUT|PATCH|DELETE"


def static_pages() -> set[tuple[str, str]]:
    """Each HTML page of public/ at its canonical URL (html_handling auto-trailing-slash)."""
    public = ROOT / "public"
    pages = set()
    for page in public.rglob("*.html"):
        url = "/" + page.relative_to(public).as_posix().removesuffix(".html")
        pages.add(("GET", url.removesuffix("index")))
    return pages


def served() -> set[tuple[str, str]]:
    routes = {(m, r.path) for r in all_routes() for m in r.methods if m != "HEAD"}
    return routes | static_pages()


def test_the_static_pages_are_the_docs_and_the_widget_example():
    assert static_pages() == {("GET", "/docs"), ("GET", "/examples/widget")}


def test_readme_endpoint_table_matches_the_route_table():
    text = (ROOT / "README.md").read_text()
    rows = re.findall(rf"^\| ({METHODS}) \| `(/[^`]*)` \|", text, re.MULTILINE)
    assert set(rows) == served()
    assert len(rows) == len(set(rows)), "an endpoint is listed twice"


def test_api_reference_has_a_section_per_endpoint():
    text = (ROOT / "docs" / "api.md").read_text()
    headings = re.findall(rf"^### `({METHODS}) (/[^`]*)`$", text, re.MULTILINE)
    assert set(headings) == served()
    assert len(headings) == len(set(headings))


def test_every_documented_endpoint_has_a_curl_example():
    text = (ROOT / "docs" / "api.md").read_text()
    sections = re.split(rf"^### `(?:{METHODS}) [^`]*`$", text, flags=re.MULTILINE)[1:]
    assert sections and all("curl" in body for body in sections)
