#!/usr/bin/env python3
"""Checks one counterexample page, as a browser left it, against the text trace of the same replay.

    browser_check.py DOM.html TRACE.txt [--selected N]

DOM.html is what `chromium --dump-dom` printed (the DOM after the page's script ran); TRACE.txt is
what `interleave replay` printed for the same replay string. The text trace is the source of truth:
every one of its rows (steps with their number, thread and `call = result`, notes with their
thread, violations) must be in the page's table, in the same order, and nothing else; a step's or
a note's thread is the lane (the column under the thread's name) its cell is in. The page must
also be self-contained (no address outside the page), and its script must have run: the side panel
shows the state after step N (by default the last step).

Prints one line per check that failed and exits 1 if any did; prints what was checked and exits 0
otherwise. Only the standard library: CI has python3 and nothing else to install.
"""

import html.parser
import re
import sys

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.walk()

    def find(self, pred):
        return [n for n in self.walk() if pred(n)]

    def first(self, pred):
        found = self.find(pred)
        return found[0] if found else None


class Tree(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", [], None)
        self.at = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.at)
        self.at.children.append(node)
        if tag not in VOID:
            self.at = node

    def handle_startendtag(self, tag, attrs):
        self.at.children.append(Node(tag, attrs, self.at))

    def handle_endtag(self, tag):
        node = self.at
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.at = node.parent

    def handle_data(self, data):
        self.at.children.append(data)


def has_class(name):
    return lambda n: name in n.classes()


def lane_of(tr, lanes, marker):
    """The thread whose lane (by column, under the header's thread names) holds the cell with
    class `marker`; a row whose data-thread names another thread is reported as both."""
    cells = [c for c in tr.children if isinstance(c, Node) and c.tag == "td"]
    holding = [k for k, td in enumerate(cells) if td.first(has_class(marker)) is not None]
    if len(holding) != 1 or holding[0] >= len(lanes):
        return "<%d cells with .%s>" % (len(holding), marker)
    lane = lanes[holding[0]]
    said = tr.attrs.get("data-thread")
    return lane if said == lane else "%s (data-thread %s)" % (lane, said)


def page_rows(root, lanes):
    """The rows of the page's table as (kind, number, thread, text)."""
    table = root.first(lambda n: n.tag == "table" and n.attrs.get("id") == "trace")
    if table is None:
        return None
    rows = []
    for tr in table.find(lambda n: n.tag == "tr" and n.parent is not None and n.parent.tag == "tbody"):
        c = tr.classes()
        if "step" in c:
            call = tr.first(has_class("call"))
            result = tr.first(has_class("result"))
            text = call.text() if call else "<no .call>"
            if result is not None:
                text += " = " + result.text()
            rows.append(("step", tr.attrs.get("data-step"), lane_of(tr, lanes, "call"), text))
        elif "note" in c:
            remark = tr.first(lambda n: "text" in n.classes() and n.parent is not None and "remark" in n.parent.classes())
            rows.append(("note", None, lane_of(tr, lanes, "remark"), remark.text() if remark else "<no .remark>"))
        elif "violated" in c:
            inv, detail = tr.first(has_class("invariant")), tr.first(has_class("detail"))
            text = 'violated "%s": %s' % (inv.text() if inv else "?", detail.text() if detail else "?")
            rows.append(("violated", None, None, text))
        else:
            rows.append(("unknown", None, None, tr.attrs.get("class")))
    return rows


def trace_rows(text, lanes):
    """The rows of the text trace as (kind, number, thread, text), the columns located by the
    thread names `lanes` in its header line."""
    lines = text.split("\n")
    header_at = next((i for i, l in enumerate(lines) if l.strip().startswith("#")), None)
    if header_at is None:
        raise ValueError("no header line (#  thread …) in the text trace")
    header = lines[header_at]
    num_width = header.index("#") + 1
    starts, pos = [], num_width
    for name in lanes:
        at = header.find("  " + name, pos)
        if at < 0:
            raise ValueError("thread %r of the page is not a column of the text trace: %r" % (name, header))
        starts.append(at + 2)
        pos = at + 2 + len(name)
    rows = []
    for line in lines[header_at + 1:]:
        if not line.strip() or line.startswith("end: "):
            continue
        stripped = line.strip()
        if stripped.startswith("… ") and stripped.endswith(" rows not shown …"):
            raise ValueError("the text trace is elided (%s); compare a shorter counterexample" % stripped)
        if stripped.startswith("!! "):
            rows.append(("violated", None, None, stripped[3:]))
            continue
        number = line[:num_width].strip() or None
        body_at = len(line) - len(line[num_width:].lstrip()) if line[num_width:].strip() else None
        if body_at not in starts:
            raise ValueError("a row whose text starts in no thread's column: %r" % line)
        thread = lanes[starts.index(body_at)]
        cell = line[body_at:].rstrip()
        if number is None and cell.startswith("· "):
            rows.append(("note", None, thread, cell[2:]))
        else:
            rows.append(("step", number, thread, cell))
    return rows


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    dom_path, trace_path = argv[1], argv[2]
    selected = argv[argv.index("--selected") + 1] if "--selected" in argv else None
    dom = open(dom_path, encoding="utf-8").read()
    trace = open(trace_path, encoding="utf-8").read()
    tree = Tree()
    tree.feed(dom)
    root = tree.root
    failures = []

    body = root.first(lambda n: n.tag == "body")
    if body is None or body.attrs.get("data-ready") != "true":
        failures.append("the page's script did not run to its end (no body[data-ready=true])")
    lanes = [th.attrs.get("data-thread") for th in root.find(has_class("lane-head"))]
    rows = page_rows(root, lanes)
    if rows is None:
        failures.append("no table#trace in the page")
        rows = []
    try:
        expected = trace_rows(trace, lanes)
    except ValueError as e:
        failures.append(str(e))
        expected = []
    if not expected:
        failures.append("the text trace has no rows")
    for k in range(max(len(rows), len(expected))):
        got = rows[k] if k < len(rows) else None
        want = expected[k] if k < len(expected) else None
        if got != want:
            failures.append("row %d: the page has %r, the text trace %r" % (k + 1, got, want))
            break
    numbers = [r[1] for r in rows if r[0] == "step"]
    if numbers != [str(i + 1) for i in range(len(numbers))]:
        failures.append("the steps are not numbered 1..%d in order: %s" % (len(numbers), numbers))
    last = numbers[-1] if numbers else None
    want_selected = selected or last
    panel = root.first(lambda n: n.attrs.get("id") == "state-panel")
    if panel is None or panel.attrs.get("data-step") != want_selected:
        failures.append("the side panel shows step %s, not step %s" % (panel and panel.attrs.get("data-step"), want_selected))
    chosen = root.find(lambda n: n.tag == "tr" and "selected" in n.classes())
    if [n.attrs.get("data-step") for n in chosen] != [want_selected]:
        failures.append("selected rows %s, not step %s alone" % ([n.attrs.get("data-step") for n in chosen], want_selected))
    objects = root.first(lambda n: n.attrs.get("id") == "state-objects")
    if objects is None or not objects.find(lambda n: n.tag == "section"):
        failures.append("the side panel shows no model object's state")
    # Self-contained: nothing in the page names an address outside it.
    for n in root.walk():
        for attr in ("src", "href", "action", "srcset", "data"):
            v = n.attrs.get(attr)
            if v is not None and not v.startswith("#"):
                failures.append("<%s %s=%r> names something outside the page" % (n.tag, attr, v))
        if n.tag == "link":
            failures.append("a <link> element: the page must carry its styles itself")
    if re.search(r"@import|url\(|https?://", "".join(n.text() for n in root.find(lambda n: n.tag in ("style", "script")))):
        failures.append("a style sheet or script refers to an address")

    for f in failures:
        print("FAIL %s: %s" % (dom_path, f))
    if failures:
        return 1
    print(
        "ok %s: %d rows (%d steps) in order and in their threads' lanes (%s); panel on step %s; self-contained"
        % (dom_path, len(rows), len(numbers), ", ".join(lanes), want_selected)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
