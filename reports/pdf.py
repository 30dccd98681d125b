"""Print a written HTML report to PDF with a locally installed Chromium-family browser.

The report is self-contained (inline CSS and SVG, no scripts, no URLs), so printing it needs
no network: the browser runs headless with a throwaway profile and the flags that stop its
background services (updates, sync, metrics, crash upload) from reaching out. Nothing is
downloaded; without a browser the caller gets one clear line and keeps the HTML.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSER_ENV = "GLUCOMAG_BROWSER"
TIMEOUT_SECONDS = 60.0

# Looked up on PATH in this order.
BROWSER_NAMES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "microsoft-edge",
    "brave-browser",
)
# macOS apps are not on PATH; the same folders under ~/Applications are tried too.
MACOS_APPS = (
    "Google Chrome.app/Contents/MacOS/Google Chrome",
    "Chromium.app/Contents/MacOS/Chromium",
    "Microsoft Edge.app/Contents/MacOS/Microsoft Edge",
    "Brave Browser.app/Contents/MacOS/Brave Browser",
)

NO_BROWSER = (
    "no Chromium/Chrome found for the PDF — install chromium or set GLUCOMAG_BROWSER; "
    "the HTML report was written"
)

# Even with the flags below, Chromium 150 still looked up www/accounts/clients2.google.com
# (seen with strace). With this no host name resolves: no DNS query leaves, so no connection can.
NO_HOST_NAMES = "--host-resolver-rules=MAP * ~NOTFOUND"
# Headless printing with no first-run UI and no background traffic: the report holds health
# data and the tool is local-first, so the browser must not phone home while printing it.
QUIET_FLAGS = (
    "--headless",
    "--disable-gpu",
    "--no-pdf-header-footer",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--no-first-run",
    "--no-default-browser-check",
    "--password-store=basic",  # never prompt for a keyring
    "--use-mock-keychain",  # the same on macOS
    NO_HOST_NAMES,
)


class PdfError(Exception):
    """The PDF could not be written; the message is one line meant for the user."""


def find_browser() -> Path | None:
    """The browser to print with: $GLUCOMAG_BROWSER (a path or a name on PATH), else the first
    Chromium-family browser on PATH, else a macOS app; None if there is none.

    Raises PdfError if GLUCOMAG_BROWSER is set but names nothing runnable: an explicit choice
    that does not work is reported rather than silently replaced by another browser.
    """
    override = os.environ.get(BROWSER_ENV, "").strip()
    if override:
        found = shutil.which(override)
        if found is None:
            raise PdfError(f"{BROWSER_ENV}={override!r} is not an executable browser; "
                           "the HTML report was written")
        return Path(found)
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    if sys.platform == "darwin":
        for folder in (Path("/Applications"), Path.home() / "Applications"):
            for app in MACOS_APPS:
                candidate = folder / app
                if os.access(candidate, os.X_OK):
                    return candidate
    return None


def browser_command(browser: Path, html_path: Path, pdf_path: Path, profile: Path) -> list[str]:
    """The command line that prints `html_path` to `pdf_path` (exposed for tests and docs)."""
    flags = list(QUIET_FLAGS)
    # Chromium refuses to start as root with its sandbox on; only then is it turned off (the
    # page is our own file, with no scripts).
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")
    return [
        str(browser),
        *flags,
        f"--user-data-dir={profile}",
        f"--print-to-pdf={pdf_path}",
        html_path.resolve().as_uri(),
    ]


def html_to_pdf(html_path: Path, pdf_path: Path, browser: Path | None = None) -> Path:
    """Print `html_path` to `pdf_path` and return `pdf_path`.

    The PDF is written next to its target under a temporary name and moved into place with
    os.replace, so a reader never sees half a file and a failed print leaves any older PDF
    as it was. The file is readable by its owner only (mode 0600): it holds health figures.
    Raises PdfError (one line, no traceback) if there is no browser or it fails.
    """
    html_path, pdf_path = Path(html_path), Path(pdf_path)
    if not html_path.is_file():
        raise PdfError(f"{html_path}: no such report to print")
    browser = browser or find_browser()
    if browser is None:
        raise PdfError(NO_BROWSER)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=pdf_path.parent, prefix=f".{pdf_path.name}.",
                                    suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with tempfile.TemporaryDirectory(prefix="glucomag-browser-",
                                         ignore_cleanup_errors=True) as profile:
            _run(browser_command(browser, html_path, tmp, Path(profile)), browser)
        with tmp.open("rb") as written:
            head = written.read(5)
            os.fsync(written.fileno())
        if head != b"%PDF-":
            raise PdfError(f"{browser.name} wrote no PDF for {html_path.name}; "
                           "the HTML report was written")
        # Set explicitly: the browser may have replaced mkstemp's 0600 file with its own.
        tmp.chmod(0o600)
        os.replace(tmp, pdf_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return pdf_path


def _run(command: list[str], browser: Path) -> None:
    """Run the browser; on a time-out end its whole process group (renderer and GPU helper
    processes included), not just the parent."""
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
    except OSError as error:
        raise PdfError(f"cannot start {browser}: {error.strerror}; "
                       "the HTML report was written") from None
    try:
        _, stderr = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        raise PdfError(f"{browser.name} did not finish the PDF within {TIMEOUT_SECONDS:.0f} s; "
                       "the HTML report was written") from None
    if process.returncode != 0:
        detail = _last_line(stderr)
        raise PdfError(f"{browser.name} failed to write the PDF (exit code "
                       f"{process.returncode}){': ' + detail if detail else ''}; "
                       "the HTML report was written")


def _kill_group(process: subprocess.Popen) -> None:
    if hasattr(os, "killpg"):
        try:
            os.killpg(process.pid, signal.SIGKILL)
            return
        except ProcessLookupError:
            return
    process.kill()


def _last_line(stderr: bytes) -> str:
    """The browser's last message, trimmed to fit one line."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()
             if line.strip()]
    return lines[-1][:200] if lines else ""
