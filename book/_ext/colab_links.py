"""Links from the book into the repository, built from the repository URL in _config.yml.

    {colab}`exercises/01-bigrams/01-bigrams.ipynb`      opens the notebook in Colab
    {colab}`Try it <exercises/01-bigrams/01-bigrams.ipynb>`
    {repo}`minigpt/bigram.py`                            shows the file on GitHub

Both check that the file exists in the repository, so a renamed notebook breaks the build
(with --warningiserror) instead of sending students to a dead link. Colab can only open
.ipynb files, so {colab} refuses anything else.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxRole

logger = logging.getLogger(__name__)

COLAB = "https://colab.research.google.com/github"


def split_title(text: str) -> tuple[str | None, str]:
    """`Title <path>` -> ("Title", "path"); `path` -> (None, "path")."""
    if text.endswith(">") and "<" in text:
        title, _, target = text[:-1].rpartition("<")
        return title.strip(), target.strip()
    return None, text.strip()


def github_parts(config) -> tuple[str, str]:
    options = config.html_theme_options or {}
    url = options.get("repository_url", "").rstrip("/")
    if not url.startswith("https://github.com/"):
        raise ValueError(f"repository.url in _config.yml must be a GitHub URL, got {url!r}")
    return url.removeprefix("https://github.com/"), options.get("repository_branch", "main")


class RepositoryLink(SphinxRole):
    """Base for roles that point at a file of this repository."""

    def target_url(self, path: str) -> str:
        raise NotImplementedError

    def default_title(self, path: str) -> str:
        return path

    def check(self, path: str) -> str | None:
        if not (Path(self.env.srcdir) / path).is_file():
            return f"{path} does not exist in the repository"
        return None

    def run(self):
        title, path = split_title(self.text)
        problem = self.check(path)
        if problem:
            logger.warning(f"{self.name} link: {problem}", location=self.get_location())
        node = nodes.reference(
            self.rawtext, title or self.default_title(path), refuri=self.target_url(path)
        )
        return [node], []


class ColabLink(RepositoryLink):
    def target_url(self, path: str) -> str:
        repo, branch = github_parts(self.config)
        return f"{COLAB}/{repo}/blob/{branch}/{path}"

    def default_title(self, path: str) -> str:
        return f"Open {Path(path).name} in Colab"

    def check(self, path: str) -> str | None:
        if not path.endswith(".ipynb"):
            return f"Colab opens only .ipynb files, not {path}"
        return super().check(path)


class SourceLink(RepositoryLink):
    def target_url(self, path: str) -> str:
        repo, branch = github_parts(self.config)
        return f"https://github.com/{repo}/blob/{branch}/{path}"


def setup(app: Sphinx) -> dict:
    app.add_role("colab", ColabLink())
    app.add_role("repo", SourceLink())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
