"""Build the executed book so that a failure can never pass for a success (what `make book` runs).

    python tools/build_book.py [ROOT] [--path-output DIR]

Jupyter Book alone has three ways to mislead after a page fails to execute: it still writes the
page, with the traceback (and local paths) in it; it writes the traceback logs into the site, as
_build/html/reports/; and the next build re-reads only sources that changed, so the failed page
is never executed again and the build reports success over the stale failure. Here:

- a build that has not succeeded leaves a marker, so the next one starts Sphinx from a fresh
  environment: every page is read again, pages that ran before come back from the execution
  cache in seconds (jupyter-cache stores only successful runs), and failed ones run again;
- the logs move to _build/reports/, outside the site, and a failed page's HTML is removed;
- every kernel runs torch on one thread (unless OMP_NUM_THREADS says otherwise): the models are
  small, and on a busy machine several threads per kernel wait for each other (see README);
- every kernel computes in float32 (MINIGPT_NO_BF16=1 unless set): the figures the prose quotes
  come from float32 runs, and bfloat16 would print other numbers;
- the figures the prose quotes are compared with the executed pages' outputs (tools/quotes.py,
  the `quotes` metadata of markdown cells): a mismatch fails the build. In quick mode
  (MINIGPT_QUICK) the pages print other numbers, so only the quotes' form is checked there;
  --skip-quotes skips the comparison (say, on a GPU, whose numbers differ from the CPU's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quotes  # noqa: E402  (tools/quotes.py)

ROOT = Path(__file__).resolve().parents[1]
FAILED_MARKER = "book-build-unfinished"


def failed_pages(reports: Path) -> list[str]:
    """The pages whose notebooks failed, from myst-nb's logs (reports/<page>.err.log)."""
    return sorted(
        str(p.relative_to(reports)).removesuffix(".err.log") for p in reports.rglob("*.err.log")
    )


def executed_pages(build_dir: Path) -> list[Path]:
    """The executed notebooks myst-nb wrote for the pages (jupyter_execute/<page>.ipynb)."""
    return sorted((build_dir / "jupyter_execute").rglob("*.ipynb"))


def quote_problems(build_dir: Path, compare: bool) -> list[str]:
    """What is wrong with the prose's quoted figures on the executed pages (tools/quotes.py)."""
    problems = []
    for path in executed_pages(build_dir):
        page = str(path.relative_to(build_dir / "jupyter_execute"))
        problems += quotes.check_files([path], outputs=compare, name=page)
    return problems


def build(root: Path, output: Path, check_quotes: bool = True) -> int:
    """Run jupyter-book; returns its exit status, made non-zero when any page failed."""
    build_dir = output / "_build"
    html, marker = build_dir / "html", build_dir / FAILED_MARKER
    if marker.exists():
        shutil.rmtree(build_dir / ".doctrees", ignore_errors=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    marker.touch()  # before the build: an interrupted build counts as a failed one
    shutil.rmtree(build_dir / "reports", ignore_errors=True)
    shutil.rmtree(html / "reports", ignore_errors=True)

    env = dict(os.environ, TQDM_DISABLE="1")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MINIGPT_NO_BF16", "1")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(root), "--warningiserror", "--keep-going"]
    if output != root:
        command += ["--path-output", str(output)]
    status = subprocess.run(command, env=env).returncode

    failed = failed_pages(html / "reports")
    if (html / "reports").exists():
        shutil.move(html / "reports", build_dir / "reports")
    for page in failed:
        (html / f"{page}.html").unlink(missing_ok=True)
    compare = check_quotes and os.environ.get("MINIGPT_QUICK", "") in ("", "0")
    drifted = quote_problems(build_dir, compare)
    if status == 0 and not failed and not drifted:
        marker.unlink()
        return 0
    for page in failed:
        print(f"FAILED: {page} (its traceback: {build_dir / 'reports' / page}.err.log)")
    for problem in drifted:
        print(f"QUOTE: {problem}")
    if drifted:
        print(
            "The prose quotes figures that the executed pages no longer show (or the quotes' "
            "metadata is broken): fix the text or the `quotes` metadata (CONTRIBUTING.md)."
        )
    if status or failed:
        print("The book build failed; the next `make book` executes the failed pages again.")
    return status or 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("root", nargs="?", type=Path, default=ROOT)
    parser.add_argument("--path-output", type=Path, help="where _build goes (default: ROOT)")
    parser.add_argument(
        "--skip-quotes", action="store_true", help="do not compare quoted figures with outputs"
    )
    args = parser.parse_args()
    root = args.root.resolve()
    sys.exit(build(root, (args.path_output or root).resolve(), not args.skip_quotes))


if __name__ == "__main__":
    main()
