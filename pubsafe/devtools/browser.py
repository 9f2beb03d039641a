"""Headless Chromium for report.html: where it is, a screenshot, and the page's layout
as the browser measures it.

Chromium is optional: a fresh machine has none (on Debian: ``apt-get install
chromium``), so callers skip what needs it and say why. ``PUBSAFE_CHROMIUM`` names a
binary when it is not on the PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["find", "screenshot", "measure", "MISSING"]

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MISSING = ("no Chromium on this machine (Debian: apt-get install chromium, or set PUBSAFE_CHROMIUM); "
           "the browser-free layout test still checks every text against its SVG's viewBox")

_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
          "--disable-extensions", "--mute-audio"]

#: Appended to the page: measures every SVG text against its viewBox, and every element
#: that is wider than its box outside a scrolling frame and not cut with a visible
#: ellipsis (one-line table cells, whose fold or tooltip holds the rest), into
#: <pre id=pubsafe-layout>.
_MEASURE = """<script>(function () {
  const out = {viewport: window.innerWidth, pageWidth: document.documentElement.scrollWidth, svgs: [], overflow: []};
  for (const svg of document.querySelectorAll('svg')) {
    const vb = svg.viewBox.baseVal, texts = [];
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBBox();
      texts.push({text: t.textContent, x: b.x, y: b.y, w: b.width, h: b.height});
    }
    const frame = svg.parentElement;
    out.svgs.push({viewBox: [vb.x, vb.y, vb.width, vb.height], texts: texts,
                   frameScrolls: getComputedStyle(frame).overflowX === 'auto',
                   frameWidth: frame.getBoundingClientRect().width});
  }
  const cut = (el) => getComputedStyle(el).textOverflow === 'ellipsis' && getComputedStyle(el).overflowX === 'hidden';
  for (const el of document.querySelectorAll('h1, h2, h3, p, li, td, th, summary, div')) {
    if (el.closest('.timeline, pre')) continue;
    if (cut(el)) { out.ellipsised = (out.ellipsised || 0) + 1; continue; }  // a visible mark; the fold has the rest
    if (el.scrollWidth > el.clientWidth + 1)
      out.overflow.push({tag: el.tagName, text: el.textContent.slice(0, 100), scroll: el.scrollWidth,
                         client: el.clientWidth});
  }
  const pre = document.createElement('pre');
  pre.id = 'pubsafe-layout';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();</script>"""


def find() -> str | None:
    """The Chromium binary, or None."""
    named = os.environ.get("PUBSAFE_CHROMIUM")
    if named:
        return named if Path(named).is_file() else shutil.which(named)
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    binary = find()
    if binary is None:
        raise FileNotFoundError(MISSING)
    with tempfile.TemporaryDirectory(prefix="pubsafe-chromium-") as profile:
        return subprocess.run([binary, *_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, check=False)


def screenshot(page: Path, png: Path, *, width: int = 1280, height: int = 800) -> Path:
    """A PNG of the first ``width`` x ``height`` pixels of ``page``, as a reader opening it sees them."""
    done = _run(f"--window-size={width},{height}", f"--screenshot={png.resolve()}", page.resolve().as_uri())
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot: {done.stderr[-1000:]}")
    return png


def measure(html: str, *, width: int = 1280, height: int = 900) -> dict[str, Any]:
    """How the browser lays ``html`` out: each SVG's viewBox and its texts' boxes, the
    page's scroll width against the window's, and any element wider than its box."""
    with tempfile.TemporaryDirectory(prefix="pubsafe-layout-") as scratch:
        page = Path(scratch) / "report.html"
        page.write_text(html.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
        done = _run(f"--window-size={width},{height}", "--dump-dom", page.as_uri())
    found = re.search(r"<pre id=\"pubsafe-layout\">(.*?)</pre>", done.stdout, re.S)
    if not found:
        raise RuntimeError(f"chromium did not measure the page: {done.stderr[-1000:]}")
    from html import unescape

    return json.loads(unescape(found.group(1)))
