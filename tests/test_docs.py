"""The documentation lists exactly the endpoints the route table serves."""

import re

from devcapsules.routes import all_routes
from tests.support.bindings import ROOT

METHODS = "GET|POST|PUT|PATCH|DELETE"


def served() -> set[tuple[str, str]]:
    return {(m, r.path) for r in all_routes() for m in r.methods if m != "HEAD"}


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
