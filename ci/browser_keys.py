#!/usr/bin/env python3
"""Drives one counterexample page in headless Chromium the way a reader does, and checks it.

    browser_keys.py CHROMIUM PAGE.html OUT_PREFIX

Talks to Chromium over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON messages
ending in a NUL byte, on file descriptors 3 and 4), so it needs nothing beyond the standard
library. It checks that the keyboard moves the selection (End, Home, ArrowDown, j, ArrowUp, k; the
selection stops at both ends), that a click selects a step, that the copy button reports what it
did, and that the printed page shows the whole table and the state without the interactive parts.
It saves OUT_PREFIX.print.png (the page as printed) and OUT_PREFIX.dark.png (dark mode).

Prints one line per failed check and exits 1 if any failed; prints what was checked and exits 0
otherwise.
"""

import base64
import json
import os
import select
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 60


class Browser:
    def __init__(self, chromium):
        self.profile = tempfile.mkdtemp(prefix="interleave-browser-")
        # The browser reads commands on its fd 3 and writes replies on its fd 4.
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire():
            # Through fresh descriptors: one of the pipe's may already be 3 or 4, and dup2 onto
            # itself would leave it close-on-exec.
            r, w = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--remote-debugging-pipe",
                "--user-data-dir=" + self.profile, "--window-size=1400,1000", "about:blank",
            ],
            # Not close_fds: it would close the 3 and 4 made in `wire` (after it, before exec).
            preexec_fn=wire, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.deadline = time.monotonic() + TIMEOUT_S

    def _read_message(self):
        while b"\0" not in self.buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise TimeoutError("chromium did not answer within %d s" % TIMEOUT_S)
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed its DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method):
        while True:
            for k, e in enumerate(self.events):
                if e.get("method") == method:
                    return self.events.pop(k)
            self.events.append(self._read_message())

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["rm", "-rf", self.profile], check=False)


KEYS = {
    "ArrowDown": ("ArrowDown", 40), "ArrowUp": ("ArrowUp", 38), "Home": ("Home", 36), "End": ("End", 35),
    "j": ("KeyJ", 74), "k": ("KeyK", 75),
}


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    chromium, page, prefix = argv[1], os.path.realpath(argv[2]), argv[3]
    failures = []
    b = Browser(chromium)
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        b.call("Page.enable", session=s)
        b.call("Page.navigate", {"url": "file://" + page}, session=s)
        b.wait_event("Page.loadEventFired")

        def js(expression):
            r = b.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=s)
            if "exceptionDetails" in r:
                raise RuntimeError("%s: %s" % (expression, r["exceptionDetails"]))
            return r["result"].get("value")

        def press(key):
            code, vk = KEYS[key]
            down = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk}
            if len(key) == 1:
                down["text"] = key
            else:
                down["type"] = "rawKeyDown"
            b.call("Input.dispatchKeyEvent", down, session=s)
            b.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk}, session=s)

        def selected():
            return js("[document.body.getAttribute('data-selected-step'),"
                      " document.getElementById('state-panel').getAttribute('data-step'),"
                      " Array.from(document.querySelectorAll('tr.step.selected')).map(r => r.dataset.step).join(),"
                      " document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.step || '' : '']")

        last = js("document.querySelectorAll('tr.step').length")
        if not last or last < 2:
            failures.append("the page has %r steps; the keyboard needs at least two" % last)
            last = 2
        n = str(last)
        # Each key, and where the selection must be after it (the body, the panel, the
        # highlighted row and the focused row all agree).
        script = [("End", n), ("ArrowDown", n), ("Home", "1"), ("ArrowUp", "1"), ("ArrowDown", "2"), ("j", "3" if last >= 3 else "2"),
                  ("k", "2"), ("ArrowUp", "1"), ("End", n), ("k", str(last - 1)), ("j", n)]
        for key, want in script:
            press(key)
            got = selected()
            if got != [want, want, want, want]:
                failures.append("after %s the selection is %r (body, panel, highlighted, focused), not step %s" % (key, got, want))
        # A click on a step's row selects it.
        middle = max(1, last // 2)
        box = js("(function(){var r=document.getElementById('step-%d'); r.scrollIntoView({block:'center'});"
                 " var b=r.getBoundingClientRect(); return [b.left + 20, b.top + b.height / 2];})()" % middle)
        for kind in ("mousePressed", "mouseReleased"):
            b.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1}, session=s)
        got = selected()
        if got[:3] != [str(middle)] * 3:
            failures.append("a click on step %d selected %r" % (middle, got))
        # The panel shows that step's state.
        if js("document.querySelectorAll('#state-objects section').length") < 1:
            failures.append("the side panel shows no object after a click")
        # The copy button says what it did (copied, or how to copy by hand).
        js("document.getElementById('copy').click()")
        time.sleep(0.3)
        said = js("document.getElementById('copied').textContent")
        if not said:
            failures.append("the copy button said nothing")
        # Printed: the whole table, the state below it, no button or keyboard hint.
        b.call("Emulation.setEmulatedMedia", {"media": "print"}, session=s)
        printed = js("[getComputedStyle(document.getElementById('copy')).display,"
                     " getComputedStyle(document.querySelector('#state-panel .hint')).display,"
                     " getComputedStyle(document.getElementById('state-panel')).position,"
                     " getComputedStyle(document.querySelector('main')).display]")
        if printed != ["none", "none", "static", "block"]:
            failures.append("printed, (copy button, hint, panel position, layout) are %r" % printed)
        height = js("Math.ceil(document.documentElement.scrollHeight)")
        shot = b.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                 "clip": {"x": 0, "y": 0, "width": 1400, "height": height, "scale": 1}}, session=s)
        open(prefix + ".print.png", "wb").write(base64.b64decode(shot["data"]))
        pdf = b.call("Page.printToPDF", {}, session=s)
        if not base64.b64decode(pdf["data"]).startswith(b"%PDF"):
            failures.append("printing gave no PDF")
        # Dark mode: the page's background follows the system's.
        b.call("Emulation.setEmulatedMedia", {"media": "", "features": [{"name": "prefers-color-scheme", "value": "dark"}]}, session=s)
        js("window.scrollTo(0, 0)")
        dark = js("getComputedStyle(document.body).backgroundColor")
        if dark != "rgb(13, 17, 23)":
            failures.append("in dark mode the background is %s" % dark)
        shot = b.call("Page.captureScreenshot", {"format": "png"}, session=s)
        open(prefix + ".dark.png", "wb").write(base64.b64decode(shot["data"]))
    except (RuntimeError, TimeoutError, EOFError, OSError) as e:
        failures.append("driving chromium failed: %s" % e)
    finally:
        b.close()
    for f in failures:
        print("FAIL %s: %s" % (page, f))
    if failures:
        return 1
    print("ok %s: keys End/Home/ArrowDown/ArrowUp/j/k, a click, the copy button, print and dark mode" % page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
