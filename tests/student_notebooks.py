"""Students' notebooks for the grading tests: hostile ones, and honest ones with Colab habits.

Each is made from exercise 1's solved or blank notebook with a few cells added or changed, as a
student would. The hostile ones each try something the threat model names (see the instructors'
page); the honest ones do what students do in Colab every day and must never be accused.
"""

from __future__ import annotations

import copy

import nbformat
from course_notebooks import blank_student_notebook, grading, solved_student_notebook

ASSIGNMENT = "01-bigrams"
SECRET = "victim-secret-7f3a"  # in the victim's notebook: must reach nobody else
MARKER = "minigpt-attack-marker-91c2"  # names the processes an attacker leaves behind


def solved():
    return solved_student_notebook(ASSIGNMENT)


def blank():
    return blank_student_notebook(ASSIGNMENT)


def with_cells(nb, *codes: str, at: int | None = None):
    """A copy of `nb` with code cells added (after the set-up and imports, or at `at`)."""
    nb = copy.deepcopy(nb)
    position = 3 if at is None else at
    for offset, code in enumerate(codes):
        nb.cells.insert(position + offset, nbformat.v4.new_code_cell(code))
    return nb


def answer(nb, grade_id: str, code: str):
    """A copy of `nb` with one answer cell's code replaced."""
    nb = copy.deepcopy(nb)
    next(c for c in nb.cells if grading(c).get("grade_id") == grade_id).source = code
    return nb


def wrong_answers(nb):
    """Plausible wrong answers to every task (each loses its points on its own)."""
    wrong = {
        "count-matrix": "def count_matrix(ids, vocab_size):\n    return torch.zeros(vocab_size, "
        "vocab_size)\n",
        "to-probabilities": "def to_probabilities(counts, smoothing=1.0):\n"
        "    return counts.float()\n",
        "average-nll": "def average_nll(probs, ids):\n    return 0.0\n",
        "sample-tokens": "def sample_tokens(probs, num_tokens, generator, start=0):\n    return "
        "[start] * num_tokens\n",
        "neural-bigram-step": "def neural_bigram_step(W, xs, ys, lr):\n    return 0.0\n",
    }
    for grade_id, code in wrong.items():
        nb = answer(nb, grade_id, code)
    return nb


def hostile(course: str) -> dict[str, nbformat.NotebookNode]:
    """Attackers: each tries to earn points it did not, or to reach what it must not."""
    return {
        # A fake `exercise` whose checks swallow every error (eight lines, no import).
        "rebinder": with_cells(
            blank(),
            "class Lenient:\n    def task(self, *a, **k):\n        return self\n"
            "    def checking(self, *a, **k):\n        return self\n    def __enter__(self):\n"
            "        return self\n    def __exit__(self, *a):\n        return True\n"
            "exercise = Lenient()",
        ),
        # Test cells the executor would skip, and outputs that claim full marks.
        "skipper": _tagged_and_forged(blank()),
        # Wrong answers, and the libraries the checks use patched to agree with anything.
        "patcher": with_cells(
            wrong_answers(blank()),
            "import functools, torch, minigpt.checks, minigpt.probes.judge as j\n"
            "from torch import testing as t\nfrom unittest import mock\n"
            "def agree(*a, **k):\n    return True\n"
            "agree.__wrapped__ = torch.allclose\ntorch.allclose = agree\n"
            "t.assert_close = lambda *a, **k: None\n"
            "minigpt.checks.expect_close = j.same_value = j.fail = lambda *a, **k: None\n"
            "mock.patch.object(torch.Tensor, 'equal', lambda *a, **k: True).start()\n"
            "real = torch.frombuffer\n"
            "torch.frombuffer = lambda *a, **k: real(*a, **k).zero_()",
        ),
        # Writes forged results to every pipe it can find, and rewrites cells as they run.
        "piper": with_cells(
            blank(),
            "import os as o, json\nfake = json.dumps({'ev': 'observations', 'task': "
            "'count-matrix', 'records': []}) + '\\n' + json.dumps({'ev': 'done', 'ok': True})\n"
            "for fd in range(3, 30):\n    try:\n        getattr(o, 'wri' + 'te')(fd, "
            "(fake + '\\n').encode())\n    except OSError:\n        pass\n"
            "g = getattr(__builtins__, 'get_ipy' + 'thon', None) or get_ipython\n"
            "getattr(g(), 'input_transformers_post').append(lambda lines: ['pass\\n'])",
        ),
        # minigpt's own answers, by a default argument, an alias and a built string.
        "delegator": _delegating(),
        # An answer that reads the stack and the source of whatever called it.
        "stackwalker": answer(
            solved(),
            "count-matrix",
            "import sys, linecache, inspect\n\ndef count_matrix(ids, vocab_size):\n"
            "    frame = sys._getframe(1)\n    while frame is not None:\n"
            "        print(frame.f_code.co_filename, frame.f_locals.keys())\n"
            "        try:\n            print(inspect.getsource(frame.f_code))\n"
            "        except Exception:\n            pass\n"
            "        print(''.join(linecache.getlines(frame.f_code.co_filename)))\n"
            "        with open('stolen.txt', 'a') as f:\n"
            "            f.write(repr(frame.f_locals)[:5000])\n"
            "        frame = frame.f_back\n"
            "    counts = torch.zeros(vocab_size, vocab_size)\n"
            "    for a, b in zip(ids.tolist(), ids[1:].tolist()):\n"
            "        counts[a, b] += 1\n    return counts\n",
        ),
        # Script in the feedback page, through an object's HTML and markdown.
        "scripter": with_cells(
            solved(),
            "class Evil:\n    def _repr_html_(self):\n"
            "        return '<script>alert(1)</script><img src=x onerror=alert(2)>'\n"
            "    def _repr_markdown_(self):\n        return '<script>alert(3)</script>'\n"
            "    def __repr__(self):\n        return '<script>alert(4)</script>'\nEvil()",
            at=len(solved().cells),
        ),
        # Fills every folder it may write, and prints far more than anyone reads.
        "flooder": with_cells(
            solved(),
            "import os\nfor folder in ('.', '/tmp', '/dev/shm'):\n    try:\n"
            "        with open(os.path.join(folder, 'flood'), 'wb') as f:\n"
            "            for _ in range(300):\n                f.write(b'x' * (1 << 20))\n"
            "    except OSError as error:\n        print(folder, error)",
            "chunk = 'y' * (1 << 20)\nfor _ in range(300):\n    print(chunk)",
            at=len(solved().cells),
        ),
        # Processes, many, one of them meant to outlive grading.
        "spawner": with_cells(
            solved(),
            "import os, subprocess, time\nprogram = 'import time\\nwhile True: time.sleep(1)'\n"
            f"subprocess.Popen(['setsid', 'python', '-c', program, '{MARKER}'])\n"
            "children = []\nfor _ in range(300):\n    try:\n        pid = os.fork()\n"
            "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(30)\n"
            "        os._exit(0)\n    children.append(pid)\nprint(len(children), 'forked')",
            at=len(solved().cells),
        ),
        # Everything it can reach: the course, the gradebook, the others' notebooks.
        "wrecker": with_cells(
            blank(),
            "import os, glob, json\n"
            f"for base in ['.', '..', '/home', '/tmp', {course!r}]:\n"
            "    for path in glob.glob(base + '/**/*.ipynb', recursive=True)[:200]:\n"
            "        if 'solutions' in path:\n"
            "            for cell in json.load(open(path))['cells']:\n"
            "                if 'BEGIN SOLUTION' in ''.join(cell['source']):\n"
            "                    exec(''.join(cell['source']))\n"
            "        try:\n            open(path, 'w').write('wrecked')\n"
            "        except OSError:\n            pass\n"
            f"print(os.path.exists({course!r}))",
        ),
    }


def _tagged_and_forged(nb):
    """Every test cell tagged for the executor to skip, with outputs that claim success."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if grading(cell).get("grade"):
            cell.metadata["tags"] = ["skip-execution", "raises-exception"]
            cell.outputs = [
                nbformat.v4.new_output("execute_result", data={"text/plain": "10"}),
                nbformat.v4.new_output("stream", text="visible tests passed\n"),
            ]
    return nb


def _delegating():
    nb = with_cells(solved(), "from minigpt.bigram import count_bigrams\nimport importlib")
    nb = answer(
        nb,
        "count-matrix",
        "def count_matrix(ids, vocab_size, _ref=count_bigrams):\n    return _ref(ids, vocab_size)",
    )
    nb = answer(
        nb,
        "to-probabilities",
        "import minigpt.bigram as mb\n\ndef to_probabilities(counts, smoothing=1.0):\n"
        "    return mb.bigram_probabilities(counts, smoothing)",
    )
    return answer(
        nb,
        "average-nll",
        "def average_nll(probs, ids):\n    module = importlib.import_module('minigpt.' + 'big' + "
        "'ram')\n    return getattr(module, 'average' + '_nll')(probs, ids)",
    )


HABITS = [
    "%timeit sum(range(100))",
    "!nvidia-smi",
    "!pip install -q tiktoken",
    "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()",
    "import gc\ngc.collect()",
    "torch.bincount?",
    "from IPython.display import Markdown, display\ndisplay(Markdown('**my notes**'))",
    "import os\nprint(sorted(os.listdir('.')))",
    "os.environ['MY_SETTING'] = '1'",
    "plt.rcParams['figure.figsize'] = (8, 4)",
    "torch.backends.cudnn.deterministic = True\ntorch.manual_seed(0)",
    "from torch.utils.data import DataLoader, TensorDataset\n"
    "loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=4, num_workers=2)\n"
    "print([batch[0].tolist() for batch in loader])",
    "%load_ext autoreload\n%autoreload 2",
    "%env MY_FLAG=1",
    "%who",
    "!ls",
    "import numpy as np\nnp.random.seed(0)\nprint(np.random.rand(2))",
    "from tqdm.auto import tqdm\nfor _ in tqdm(range(3)):\n    pass",
    "import warnings\nwarnings.warn('a warning on stderr')",
    "help(torch.bincount)",
    "%pwd",
    "%%writefile helper_notes.txt\nsome notes",
    "from google.colab import drive\ndrive.mount('/content/drive')",
    "print(torch.__version__, torch.cuda.is_available())",
    "import sys\nprint(sys.version)",
    "1 / 0",
]


def honest() -> dict[str, nbformat.NotebookNode]:
    """Students with ordinary Colab habits: full marks, no flag (one of them asks for a look)."""
    habits = with_cells(solved(), *HABITS, at=len(solved().cells))
    in_answers = answer(
        solved(),
        "count-matrix",
        "%%time\nimport warnings\n\ndef count_matrix(ids, vocab_size):\n"
        "    ids = torch.tensor(ids)  # a UserWarning on stderr when ids is a tensor\n"
        "    print('counting', len(ids), 'ids')\n"
        "    warnings.warn('counting is slow')\n"
        "    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long)\n"
        "    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1, dtype=torch.long), "
        "accumulate=True)\n    return counts",
    )
    cells = in_answers.cells
    probabilities = next(c for c in cells if grading(c).get("grade_id") == "to-probabilities")
    in_answers = answer(
        in_answers,
        "to-probabilities",
        "from google.colab import drive, files  # a Colab habit: no Colab while grading\n"
        + probabilities.source,
    )
    helper = with_cells(
        answer(
            solved(),
            "to-probabilities",
            "def to_probabilities(counts, smoothing=1.0):\n    return normalize_rows(counts.float()"
            " + smoothing)",
        ),
        "def normalize_rows(table):\n    return table / table.sum(dim=1, keepdim=True)",
    )
    return {"habits": habits, "habits-in-answers": in_answers, "helper-user": helper}
