"""The docs a newcomer follows from the code: every section reference and feature number in the code,
templates and tests, and every link to a docs heading, lands on a heading of docs/; what docs/features.md
names exists; every screenshot the README shows is there."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCANNED = ("widget", "tests", "templates", "static", "README.md")
SKIPPED = ("widget/translations/", "static/vendor/")
SUFFIXES = {".py", ".html", ".js", ".css", ".md", ".txt"}
SECTION_SIGN = "\u00a7"  # written so, this file cites nothing itself

# A section sign not after "RFC <number>" (the IETF's own sections are public and stable).
SECTION_REFERENCE = re.compile(r"(?<!\w)(?:(?P<rfc>RFC\s?\d+)\s?)?" + SECTION_SIGN + r"\s?[\d.]+")
DOCS_LINK = re.compile(r"docs/(?P<file>[\w./-]+?\.md)(?:#(?P<anchor>[\w-]+))?")
FEATURE = re.compile(r"(?<![#\w])F(?P<number>[1-9]\d?)\b")
FEATURE_ROW = re.compile(r"^\| F(?P<number>\d+) \|", re.M)
TEST_NAME = re.compile(r"`(?P<file>tests/[\w/]+\.py)::(?P<name>test_\w+)`")
MODULE = re.compile(r"`(?P<path>widget/[\w/]+(?:\.py|/))`")
README_IMAGE = re.compile(r"\((?P<path>docs/screenshots/[^)\s]+)\)")


def anchor(heading):
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def headings(path):
    """The anchors of a Markdown file's headings (outside code blocks), with GitHub's -1, -2 for repeats."""
    found, seen, fenced = set(), {}, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+)", line)):
            name = anchor(match[1])
            found.add(name if name not in seen else f"{name}-{seen[name]}")
            seen[name] = seen.get(name, 0) + 1
    return found


def scanned_lines():
    for top in SCANNED:
        for path in [ROOT / top] if (ROOT / top).is_file() else sorted((ROOT / top).rglob("*")):
            relative = path.relative_to(ROOT).as_posix()
            if (path.suffix in SUFFIXES and path.is_file() and not relative.startswith(SKIPPED)
                    and path != Path(__file__).resolve()):
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    yield f"{relative}:{number}", line


def features_by_section():
    """Feature number -> the heading of docs/features.md whose table defines it."""
    defined, current = {}, None
    for line in (DOCS / "features.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            current = anchor(line.lstrip("#"))
        elif match := FEATURE_ROW.match(line):
            defined[int(match["number"])] = current
    return defined


def test_every_section_reference_points_into_docs():
    stray = [f"{where}: {line.strip()}" for where, line in scanned_lines()
             for match in SECTION_REFERENCE.finditer(line) if not match["rfc"]]
    assert stray == [], "cite a docs/ heading (docs/<file>.md#<anchor>) instead of a section number"


def test_every_docs_link_lands_on_a_heading():
    known = {path.relative_to(DOCS).as_posix(): headings(path) for path in DOCS.rglob("*.md")}
    broken = []
    for where, line in scanned_lines():
        for match in DOCS_LINK.finditer(line):
            if match["file"] not in known or (match["anchor"] and match["anchor"] not in known[match["file"]]):
                broken.append(f"{where}: {match[0]}")
    assert broken == []


def test_the_links_between_the_docs_land_on_headings():
    broken = []
    for path in DOCS.glob("*.md"):
        for target, fragment in re.findall(r"\]\(([\w.-]*\.md)?#([\w-]+)\)", path.read_text(encoding="utf-8")):
            if fragment not in headings(DOCS / (target or path.name)):
                broken.append(f"{path.name}: {target}#{fragment}")
    assert broken == []


def test_every_feature_number_cited_is_defined_under_a_heading_of_the_features_page():
    defined = features_by_section()
    assert sorted(defined) == list(range(1, 25)) and all(defined.values())
    unknown = [f"{where}: F{match['number']}" for where, line in scanned_lines()
               for match in FEATURE.finditer(line) if int(match["number"]) not in defined]
    assert unknown == []


def test_the_modules_and_tests_the_features_page_names_exist():
    text = (DOCS / "features.md").read_text(encoding="utf-8")
    missing = [path for path in MODULE.findall(text) if not (ROOT / path).exists()]
    for match in TEST_NAME.finditer(text):
        source = ROOT / match["file"]
        if not source.exists() or not re.search(rf"^def {match['name']}\(", source.read_text(encoding="utf-8"), re.M):
            missing.append(match[0])
    assert TEST_NAME.search(text) and missing == []


def test_every_screenshot_the_readme_shows_exists():
    shown = README_IMAGE.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert shown and [path for path in shown if not (ROOT / path).is_file()] == []


@pytest.mark.parametrize("heading, expected", [
    ("Widget context", "widget-context"),
    ("Zendesk webhook signatures", "zendesk-webhook-signatures"),
    ("Notifications (`/actions/watch`)", "notifications-actionswatch"),
    ("What maps to what", "what-maps-to-what"),
])
def test_anchors_follow_githubs_rules(heading, expected):
    assert anchor(heading) == expected
