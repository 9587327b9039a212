#!/usr/bin/env python3
"""Checks TRM's HTML report in a real browser (Debian's Chromium, driven by
Playwright): the page loads with no console or page errors and fetches
nothing but itself; a lineage diagram opened by its asset link draws exactly
the expected nodes; a report table sorts by a clicked header (ascending, then
descending) and its filter box narrows the rows. Saves a screenshot, prints a
summary and exits non-zero on any failure.

    check_report.py --html index.html --diagram-id ID \
        --expect-node-ids ID1,ID2,... --screenshot out.png

The DOM it relies on (made by templates/*.j2 and templates/report.js):
  - `window.trmReport` exists once the script has run;
  - opening `#asset-<percent-encoded id>` draws `figure.diagram` whose
    `data-diagram-id` is the id, holding `svg.lineage` whose nodes are
    `g.node` with `data-id`, `data-kind` and `<text>` labels;
  - each report is `section.report`, headers `thead th[data-col][data-type]`
    (`number` or `text`) with `aria-sort` once sorted, a URL column's header
    `hidden`, rows in `tbody` (names linking to `http(s)` pages), the
    filter `input.filter`, and `[data-role=count]` carrying `data-matched`
    and `data-total`.
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys
import time

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Checks:
    """Collects pass/fail lines; the exit code is whether any failed."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.passed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        line = f"{'PASS' if ok else 'FAIL'} {what}" + (f": {detail}" if detail else "")
        print(line, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
        return ok


def utf16_key(text: str) -> bytes:
    # JavaScript compares strings by UTF-16 code units; so must we.
    return text.encode("utf-16-be")


def column_keys(page, section, col: int, numeric: bool) -> list:
    """Sort keys of the visible rows' cells in one column, as the page sorts."""
    texts = section.evaluate(
        """(s, col) => Array.from(s.querySelectorAll('tbody tr')).filter(tr => tr.children.length > col)
               .map(tr => tr.children[col].textContent.toLowerCase())""",
        col,
    )
    if numeric:
        return [float(t.replace(",", "")) if t.strip() else -math.inf for t in texts]
    return [utf16_key(t) for t in texts]


def counts(section) -> tuple[int, int]:
    c = section.query_selector("[data-role=count]")
    return int(c.get_attribute("data-matched")), int(c.get_attribute("data-total"))


def check_sorting(page, section, checks: Checks) -> None:
    ths = section.query_selector_all("thead th")
    types = [th.get_attribute("data-type") for th in ths]
    # One number column and one text column, where there are such.
    picks = []
    for kind in ("number", "text"):
        if kind in types:
            picks.append(types.index(kind))
    for col in picks:
        numeric = types[col] == "number"
        name = ths[col].inner_text().strip()
        for click, (direction, want_sort) in enumerate((("ascending", 1), ("descending", -1))):
            started = time.perf_counter()
            ths[col].click()
            page.wait_for_function(
                "([s, col, dir]) => s.querySelectorAll('thead th')[col].getAttribute('aria-sort') === dir",
                arg=[section, col, direction],
            )
            elapsed = (time.perf_counter() - started) * 1000
            keys = column_keys(page, section, col, numeric)
            ordered = all((a <= b) if want_sort > 0 else (a >= b) for a, b in zip(keys, keys[1:]))
            checks.check(
                ordered and len(keys) > 0,
                f"sort {name!r} ({types[col]}) {direction}",
                f"{len(keys)} visible rows in order, {elapsed:.0f} ms",
            )


def check_filter(page, section, checks: Checks) -> None:
    matched, total = counts(section)
    if total < 2:
        checks.check(False, "filter", f"the report has {total} rows; need at least 2")
        return
    box = section.query_selector("input.filter")
    # Try the first page's cell texts until one matches some rows but not all.
    candidates = section.evaluate(
        """s => Array.from(s.querySelectorAll('tbody td')).map(td => td.textContent.trim())
               .filter(t => t.length >= 3).slice(0, 60)"""
    )
    for term in candidates:
        started = time.perf_counter()
        box.fill(term)
        try:
            page.wait_for_function(
                "([s, total]) => s.querySelector('[data-role=count]').getAttribute('data-matched') !== String(total)",
                arg=[section, total],
                timeout=2000,
            )
        except Exception:
            continue  # the term is in every row; try another
        elapsed = (time.perf_counter() - started) * 1000
        now, _ = counts(section)
        rows = len(section.query_selector_all("tbody tr"))
        checks.check(0 < now < total, f"filter {term!r}", f"{total} → {now} rows ({rows} shown), {elapsed:.0f} ms incl. debounce")
        box.fill("")
        page.wait_for_function(
            "([s, total]) => s.querySelector('[data-role=count]').getAttribute('data-matched') === String(total)",
            arg=[section, total],
        )
        checks.check(counts(section)[0] == total, "filter cleared", f"back to {total} rows")
        return
    checks.check(False, "filter", "no cell text on the first page narrows the rows")


def check_asset_link(page, checks: Checks) -> None:
    """Clicks the first asset link in a report table; its diagram must open."""
    link = page.query_selector("section.report tbody a[href^='#asset-']")
    if link is None:
        print("SKIP asset link: no report cell on a first page links to a diagram")
        return
    href = link.get_attribute("href")
    target = page.evaluate("h => decodeURIComponent(h.slice('#asset-'.length))", href)
    link.scroll_into_view_if_needed()
    link.click()
    try:
        page.wait_for_function(
            """id => Array.from(document.querySelectorAll('figure.diagram')).some(f =>
                 f.getAttribute('data-diagram-id') === id && f.querySelector('svg.lineage g.node') &&
                 f.getBoundingClientRect().top < innerHeight && f.getBoundingClientRect().bottom > 0)""",
            arg=target,
            timeout=5000,
        )
        ok = True
    except Exception:
        ok = False
    checks.check(ok, f"report link {href!r} opens its diagram in view")


def check_page_links(page, checks: Checks) -> None:
    """Names link to their asset's page on the Tableau server (a web address,
    opened in a new tab without access to this page), ids to their diagram;
    nothing else is a link, and URL columns are not shown."""
    found = page.evaluate(
        """() => Array.from(document.querySelectorAll('section.report tbody a')).map(a => ({
             href: a.getAttribute('href'), target: a.getAttribute('target'), rel: a.getAttribute('rel') || '' }))"""
    )
    web = [a for a in found if a["href"].startswith(("http://", "https://"))]
    other = [a["href"] for a in found if a not in web and not a["href"].startswith("#asset-")]
    checks.check(not other, "report links go to a web page or a diagram only", ", ".join(other[:5]))
    checks.check(bool(web), "asset names link to their page on the server", f"{len(web)} on first pages")
    unsafe = [a["href"] for a in web if a["target"] != "_blank" or "noopener" not in a["rel"]]
    checks.check(not unsafe, "page links open a new tab with rel=noopener", ", ".join(unsafe[:5]))
    shown = page.evaluate(
        """() => Array.from(document.querySelectorAll('section.report')).every(s => {
             const heads = s.querySelectorAll('thead th:not([hidden])').length;
             return Array.from(s.querySelectorAll('tbody tr')).every(tr =>
               tr.children.length === heads || tr.querySelector('td.empty'));
           })"""
    )
    checks.check(shown, "rows have a cell per shown column (URL columns hidden)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--html", required=True, type=pathlib.Path)
    ap.add_argument("--diagram-id", required=True)
    ap.add_argument("--expect-node-ids", required=True, help="comma-separated")
    ap.add_argument("--screenshot", required=True, type=pathlib.Path)
    ap.add_argument("--report", help="slug of the report table to sort and filter (default: the largest)")
    ap.add_argument("--timeout-ms", type=int, default=60_000)
    args = ap.parse_args()

    expected = {s for s in args.expect_node_ids.split(",") if s}
    path = args.html.resolve()
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    url = path.as_uri()
    checks = Checks()
    errors: list[str] = []
    foreign: list[str] = []

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(args.timeout_ms)
        page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        # The page must be self-contained: it may load itself and data: URLs.
        page.on("request", lambda r: None if r.url.split("#")[0] == url or r.url.startswith("data:") else foreign.append(r.url))

        started = time.perf_counter()
        page.goto(url, wait_until="load")
        page.wait_for_function("() => window.trmReport !== undefined")
        load_ms = (time.perf_counter() - started) * 1000
        nav = page.evaluate(
            "() => { const t = performance.getEntriesByType('navigation')[0];"
            " return t ? [t.domContentLoadedEventEnd, t.loadEventEnd] : [0, 0]; }"
        )
        print(f"load: {load_ms:.0f} ms until the script had run (DOMContentLoaded {nav[0]:.0f} ms, load {nav[1]:.0f} ms); "
              f"{path.stat().st_size / 1e6:.1f} MB")
        checks.check(load_ms < args.timeout_ms, "page loads", f"{load_ms:.0f} ms")

        # The diagram, opened the way a report link opens it.
        started = time.perf_counter()
        page.evaluate("id => { location.hash = 'asset-' + encodeURIComponent(id); }", args.diagram_id)
        try:
            page.wait_for_function(
                """id => Array.from(document.querySelectorAll('figure.diagram'))
                          .some(f => f.getAttribute('data-diagram-id') === id && f.querySelector('svg.lineage g.node'))""",
                arg=args.diagram_id,
                timeout=10_000,
            )
            opened = True
        except Exception:
            opened = False
        open_ms = (time.perf_counter() - started) * 1000
        if checks.check(opened, f"diagram {args.diagram_id!r} opens", f"{open_ms:.0f} ms"):
            nodes = page.evaluate(
                """id => {
                     const f = Array.from(document.querySelectorAll('figure.diagram'))
                       .find(f => f.getAttribute('data-diagram-id') === id);
                     return Array.from(f.querySelectorAll('svg.lineage [data-id]')).map(g => ({
                       id: g.getAttribute('data-id'), kind: g.getAttribute('data-kind'),
                       label: g.querySelector('text') ? g.querySelector('text').textContent : '' }));
                   }""",
                args.diagram_id,
            )
            got = {n["id"] for n in nodes}
            detail = f"{len(got)} nodes"
            if got != expected:
                detail += f"; missing {sorted(expected - got)}, unexpected {sorted(got - expected)}"
            checks.check(got == expected and len(nodes) == len(got), "diagram nodes are exactly the expected ids", detail)
            unlabelled = [n["id"] for n in nodes if not n["kind"] or not n["label"]]
            checks.check(not unlabelled, "every node has a kind and a label", ", ".join(unlabelled))
            in_view = page.evaluate(
                """id => { const f = Array.from(document.querySelectorAll('figure.diagram'))
                             .find(f => f.getAttribute('data-diagram-id') === id);
                           const r = f.getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0; }""",
                args.diagram_id,
            )
            checks.check(in_view, "the opened diagram is scrolled into view")
        # The screenshot shows the opened diagram, or what is there instead.
        args.screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.screenshot))
        print(f"screenshot: {args.screenshot}")

        # A report table: the one named, or the one with the most rows.
        sections = page.query_selector_all("section.report")
        if args.report:
            sections = [s for s in sections if s.get_attribute("data-slug") == args.report]
        sections.sort(key=lambda s: -counts(s)[1])
        if checks.check(bool(sections) and counts(sections[0])[1] >= 2, "a report table with rows",
                        f"{sections[0].get_attribute('data-slug')!r}, {counts(sections[0])[1]} rows" if sections else "none"):
            section = sections[0]
            section.scroll_into_view_if_needed()
            check_sorting(page, section, checks)
            check_filter(page, section, checks)
            check_asset_link(page, checks)
        check_page_links(page, checks)

        browser.close()

    checks.check(not errors, "no console or page errors", "; ".join(errors[:5]))
    checks.check(not foreign, "no requests beyond the file itself", ", ".join(foreign[:5]))
    print(f"\n{checks.passed} passed, {len(checks.failed)} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
