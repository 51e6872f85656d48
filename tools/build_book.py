"""Build the executed book so that a failure can never pass for a success (what `make book` runs).

    python tools/build_book.py [ROOT] [--path-output DIR] [--jobs N] [--skip-quotes]

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
  --skip-quotes skips the comparison (say, on a GPU, whose numbers differ from the CPU's);
- with `execute_notebooks: cache`, the notebooks of the table of contents whose outputs are not
  cached yet run first, as many at once as this process has cores, with jupyter-cache's
  parallel executor (its worker, scheduled one notebook at a time, longest first): Jupyter
  Book then finds them all in the cache. A notebook that fails there is left out of the cache,
  so Jupyter Book runs it again and reports it as before.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml
from jupyter_cache import get_cache
from jupyter_cache.executors.base import ExecutorRunResult
from jupyter_cache.executors.basic import JupyterExecutorLocalMproc, ProcessData

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quotes  # noqa: E402  (tools/quotes.py)

ROOT = Path(__file__).resolve().parents[1]
FAILED_MARKER = "book-build-unfinished"


def failed_pages(reports: Path) -> list[str]:
    """The pages whose notebooks failed, from myst-nb's logs (reports/<page>.err.log)."""
    return sorted(
        str(p.relative_to(reports)).removesuffix(".err.log") for p in reports.rglob("*.err.log")
    )


def toc_notebooks(root: Path) -> list[Path]:
    """The .ipynb pages named in _toc.yml, in its order (globs and text notebooks are left to
    Jupyter Book, which executes them itself)."""
    found: list[Path] = []

    def walk(node) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    path = root / node[key]
                    path = path if path.suffix == ".ipynb" else path.with_name(path.name + ".ipynb")
                    if path.is_file() and path not in found:
                        found.append(path)
            for key in ("parts", "chapters", "sections"):
                walk(node.get(key, []))

    walk(yaml.safe_load((root / "_toc.yml").read_text()))
    return found


class LongestFirst(JupyterExecutorLocalMproc):
    """jupyter-cache's local-parallel executor (its worker, a Pool), scheduled for the book: its
    own Pool.map hands the notebooks out in chunks in table-of-contents order (ten pages on two
    cores: chapter 8 and the capstone in one chunk, one after the other). Here each worker takes
    one notebook at a time, the longest first: those that took longest before, then the later
    pages (the capstone is the last chapter)."""

    def __init__(self, cache, processes: int, history: dict[str, float]):
        super().__init__(cache=cache, logger=logging.getLogger("jupyter_cache"))
        self.processes, self.history = processes, history

    def run_and_cache(self, *, filter_uris=None, timeout=30, allow_errors=False, **_):
        records = self.get_records(filter_uris, None, clear_tracebacks=True)
        place = {uri: i for i, uri in enumerate(filter_uris or [])}
        records.sort(key=lambda r: (self.history.get(r.uri, 0.0), place.get(r.uri, 0)))
        work = [ProcessData(r.pk, r.uri, self.cache, timeout, allow_errors) for r in records]
        if not work:
            return ExecutorRunResult()
        with multiprocessing.Pool(min(self.processes, len(work))) as pool:
            done = list(pool.imap_unordered(self._EXECUTION_WORKER(), work[::-1], chunksize=1))
        return ExecutorRunResult(
            succeeded=[uri for status, uri in done if status == 0],
            excepted=[uri for status, uri in done if status == 1],
            errored=[uri for status, uri in done if status == 2],
        )


def execute_in_parallel(root: Path, build_dir: Path, env: dict[str, str], jobs: int) -> None:
    """Fill Jupyter Book's execution cache with the notebooks it would run one by one."""
    execute = (yaml.safe_load((root / "_config.yml").read_text()) or {}).get("execute") or {}
    if execute.get("execute_notebooks") != "cache":
        return
    excluded = execute.get("exclude_patterns") or []
    notebooks = [
        str(nb)
        for nb in toc_notebooks(root)
        if not any(fnmatch.fnmatch(str(nb.relative_to(root)), p) for p in excluded)
    ]
    cache = get_cache(cache_folder(root, build_dir))
    for uri in notebooks:
        cache.add_nb_to_project(uri)
    history = {r.uri: r.data.get("execution_seconds", 0.0) for r in cache.list_cache_records()}
    executor = LongestFirst(cache, jobs, history)
    saved = dict(os.environ)
    os.environ.update(env)  # the kernels' environment: one torch thread each, no progress bars
    try:
        done = executor.run_and_cache(
            filter_uris=notebooks,
            timeout=execute.get("timeout", 30),
            allow_errors=execute.get("allow_errors", False),
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    failed = len(done.excepted) + len(done.errored)
    if done.all():
        print(
            f"Executed {len(done.all())} notebook(s), up to {executor.processes} at a time: "
            f"{len(done.succeeded)} succeeded, {failed} failed"
            + (" (Jupyter Book runs those again and reports them)" if failed else "")
        )


def cache_folder(root: Path, build_dir: Path) -> Path:
    """Where Jupyter Book keeps its execution cache (`execute.cache` in _config.yml, if set)."""
    execute = (yaml.safe_load((root / "_config.yml").read_text()) or {}).get("execute") or {}
    return (
        Path(execute["cache"]).resolve() if execute.get("cache") else build_dir / ".jupyter_cache"
    )


def executed_pages(root: Path, build_dir: Path) -> list[tuple[str, nbformat.NotebookNode]]:
    """Every page of the table of contents as its last successful run left it: the source with
    the outputs jupyter-cache stored. (myst-nb's copies in jupyter_execute/ are written before
    the cached outputs are merged in, so they hold none.) A page never run has no outputs."""
    cache = get_cache(cache_folder(root, build_dir))
    pages = []
    for path in toc_notebooks(root):
        nb = nbformat.read(path, as_version=4)
        with contextlib.suppress(KeyError):
            _, nb = cache.merge_match_into_notebook(nb)
        pages.append((str(path.relative_to(root)), nb))
    return pages


def quote_problems(root: Path, build_dir: Path, compare: bool) -> list[str]:
    """What is wrong with the prose's quoted figures on the executed pages (tools/quotes.py)."""
    problems = []
    for name, nb in executed_pages(root, build_dir):
        problems += quotes.quote_problems(nb, name, outputs=compare)
    return problems


def build(root: Path, output: Path, jobs: int | None = None, check_quotes: bool = True) -> int:
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
    execute_in_parallel(root, build_dir, env, jobs or len(os.sched_getaffinity(0)))
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
    drifted = quote_problems(root, build_dir, compare)
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
        "--jobs", type=int, help="notebooks executed at once (default: this process's cores)"
    )
    parser.add_argument(
        "--skip-quotes", action="store_true", help="do not compare quoted figures with outputs"
    )
    args = parser.parse_args()
    root = args.root.resolve()
    output = (args.path_output or root).resolve()
    sys.exit(build(root, output, args.jobs, not args.skip_quotes))


if __name__ == "__main__":
    main()
