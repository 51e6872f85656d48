"""The `minigpt` command: train a preset, sample from a checkpoint, check the environment,
and (for instructors) grade a class."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

from minigpt.data import DataError
from minigpt.distributed import Ranks
from minigpt.presets import PRESETS


def _train(args: argparse.Namespace) -> int:
    from minigpt import distributed
    from minigpt.utils import pick_device

    device = pick_device(args.device)
    if not distributed.launched_by_torchrun():
        return _train_here(args, device, Ranks())
    ranks, device = distributed.start(device)
    try:
        return _train_here(args, device, ranks)
    finally:
        distributed.finish()


def _train_here(args: argparse.Namespace, device: torch.device, ranks: Ranks) -> int:
    """The training run of one process (of one, or of the several torchrun started)."""
    from minigpt.data import load_char_splits
    from minigpt.model import GPT
    from minigpt.presets import get_preset
    from minigpt.train import load_checkpoint, train
    from minigpt.utils import seed_everything

    preset = get_preset(args.preset)
    train_config = replace(preset.train, seed=args.seed, compile=args.compile)
    if args.max_iters is not None:
        train_config = replace(train_config, max_iters=args.max_iters)
    if args.grad_accum is not None:
        train_config = replace(train_config, grad_accum=args.grad_accum)
    out = Path(args.out or f"checkpoints/{args.preset}.pt")
    say = print if ranks.is_main else _silent
    seed_everything(args.seed)
    splits = load_char_splits()
    model = GPT(replace(preset.model, vocab_size=splits.tokenizer.vocab_size))
    saved = None
    if args.resume and out.exists():
        model, _, saved = load_checkpoint(out, device)
        _check_same_run(
            saved, replace(preset.model, vocab_size=model.config.vocab_size), train_config, out
        )
        say(f"resuming {out} at step {saved['training_state']['step']}")
    say(f"preset {args.preset}: {preset.description}")
    where = f"{ranks.world_size} processes" if ranks.world_size > 1 else str(device)
    say(f"{model.num_parameters():,} parameters on {where}")
    history = train(
        model,
        splits.train,
        splits.val,
        train_config,
        device,
        progress=not args.quiet,
        checkpoint=out,
        tokenizer=splits.tokenizer,
        resume=saved,
    )
    if not ranks.is_main:
        return 0
    compiling = (
        f" (and {history.compile_seconds:.0f} s compiling)" if history.compile_seconds else ""
    )
    print(
        f"done: {history.seconds:.0f} s of training{compiling}, "
        f"{history.tokens_per_second:,.0f} tokens/s, val loss {history.val_loss[-1]:.4f}; "
        f"checkpoint saved to {out}"
    )
    if args.sample_tokens:
        print("\n--- sample ---")
        print(
            _sample_text(
                model, splits.tokenizer, "\n", args.sample_tokens, args.seed, device, use_cache=True
            )
        )
    return 0


def _silent(*args, **kwargs) -> None:
    """print for the processes other than rank 0, which stay quiet."""


def _check_same_run(saved: dict, shape, train_config, out: Path) -> None:
    """Refuse to resume a checkpoint into a different recipe: the result would match neither."""
    from minigpt.model import GPTConfig
    from minigpt.train import TrainConfig

    if saved.get("training_state") is None:
        raise ValueError(f"{out} holds no training state, so it cannot be resumed")
    kernel = {"use_torch_kernel": shape.use_torch_kernel}  # how attention runs is not shape
    if replace(GPTConfig(**saved["model_config"]), **kernel) != shape:
        raise ValueError(f"{out} holds a model of another shape; pass another --out to start anew")
    recipe = replace(TrainConfig(**(saved["train_config"] or {})), compile=train_config.compile)
    if recipe != train_config:
        changed = [
            f"{name} {getattr(recipe, name)} -> {getattr(train_config, name)}"
            for name in recipe.__dataclass_fields__
            if getattr(recipe, name) != getattr(train_config, name)
        ]
        raise ValueError(
            f"{out} was trained with another recipe ({', '.join(changed)}); resume with the "
            "options it started with, or pass another --out to start anew"
        )


def _sample_text(model, tokenizer, prompt: str, tokens: int, seed: int, device, **options) -> str:
    """`options` are those of minigpt.generate.generate (temperature, top_k, ...)."""
    from minigpt.generate import generate

    idx = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long, device=device)
    out = generate(model, idx, tokens, generator=torch.Generator().manual_seed(seed), **options)
    return tokenizer.decode(out[0].tolist())


def _sample(args: argparse.Namespace) -> int:
    from minigpt.train import load_checkpoint
    from minigpt.utils import pick_device

    device = pick_device(args.device)
    model, tokenizer, _ = load_checkpoint(args.checkpoint, device)
    text = _sample_text(
        model,
        tokenizer,
        args.prompt,
        args.tokens,
        args.seed,
        device,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        greedy=args.greedy,
        use_cache=not args.no_cache,
    )
    print(text)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from minigpt.data import fetch_shakespeare
    from minigpt.utils import environment_report

    report = environment_report()
    sandbox_ok, sandbox = _sandbox_status()
    first, _, fix = sandbox.partition("\n")  # the cause and its fix go below the table
    report["grading sandbox"] = first
    try:
        report["tiny shakespeare"] = f"ok ({fetch_shakespeare()})"
    except DataError as err:
        report["tiny shakespeare"] = f"NOT AVAILABLE: {err}"
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:>{width}}  {value}")
    if fix:
        print(f"\n{fix}")
    if args.require_sandbox and not sandbox_ok:
        print("\nminigpt doctor: the grading sandbox does not work here", file=sys.stderr)
        return 1
    return 0


def _sandbox_status() -> tuple[bool, str]:
    """Whether student code can be graded in bubblewrap here, and what to do when it cannot."""
    try:
        from minigpt.grading.sandbox import SandboxUnavailable, bwrap_path, check_sandbox
    except ImportError:
        return False, "not installed (only instructors need it)"
    try:
        check_sandbox()
    except SandboxUnavailable as err:
        return False, f"NOT AVAILABLE: {err}"
    return True, f"ok (bubblewrap at {bwrap_path()})"


def _grade(args: argparse.Namespace) -> int:
    import nbformat

    from minigpt.grading.batch import (
        UNGRADED,
        Options,
        exit_status,
        grade_class,
        summary,
        write_csv,
    )
    from minigpt.grading.collect import CollectError
    from minigpt.grading.course import GradingSetupError
    from minigpt.grading.lms import write_lms
    from minigpt.grading.notebook import answers_of
    from minigpt.grading.report import class_summary, write_report
    from minigpt.grading.sandbox import SandboxUnavailable
    from minigpt.grading.session import Limits
    from minigpt.grading.similarity import find_similar

    course = Path(args.course)
    options = Options(
        jobs=args.jobs,
        limits=Limits(cell_seconds=args.timeout, notebook_seconds=args.notebook_timeout),
        memory_gb=args.memory_gb,
        sandboxed=not args.no_sandbox,
    )
    try:
        rows = grade_class(course, args.assignment, Path(args.submissions), options)
    except (CollectError, GradingSetupError, SandboxUnavailable) as err:
        print(f"minigpt grade: {err}", file=sys.stderr)
        return 1
    out = Path(args.csv) if args.csv else course / f"grades-{args.assignment}.csv"
    write_csv(rows, out)
    source = next((course / "solutions" / args.assignment).glob("*.ipynb"))
    solutions = answers_of(nbformat.read(source, as_version=4))
    similar = find_similar({row.student: row.answers for row in rows}, solutions)
    page = write_report(rows, args.assignment, out.parent, similar)
    print(summary(rows))
    print("\n" + class_summary(rows, similar))
    print(f"\ngrades: {out}\nreport: {page}")
    print(f"feedback: {course / 'feedback'}/<student>/{args.assignment}/")
    if args.lms:
        exported, warnings = write_lms(
            rows, args.assignment, args.lms, out.parent, column=args.lms_column
        )
        for warning in warnings:
            print(f"warning: {warning}")
        print(f"{args.lms} import file: {exported}")
    if args.no_sandbox:
        print("\nWARNING: graded WITHOUT a sandbox (--no-sandbox): student code could read and")
        print("change anything this user can. Every row says so.")
    ungraded = [row.student for row in rows if row.flags & UNGRADED]
    if ungraded:
        print(f"\n{len(ungraded)} submission(s) could not be graded: {', '.join(ungraded)}")
    return exit_status(rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minigpt", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train a preset on Tiny Shakespeare",
        description="Train a preset on Tiny Shakespeare. On several GPUs or machines, start it "
        "with torchrun: `torchrun --nproc_per_node=N -m minigpt train --preset gpu-baby`.",
    )
    train.add_argument(
        "--preset", default="cpu-small", help=f"{', '.join(PRESETS)} (default cpu-small)"
    )
    train.add_argument("--out", help="checkpoint path (default checkpoints/<preset>.pt)")
    train.add_argument("--max-iters", type=int, help="override the preset's iterations")
    train.add_argument("--device", help="cuda, mps or cpu (default: the fastest here)")
    train.add_argument("--seed", type=int, default=1337)
    train.add_argument("--sample-tokens", type=int, default=300, help="sample this many at the end")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--grad-accum",
        type=int,
        help="cut each process's share of a batch into this many micro-batches (less memory, "
        "same batch)",
    )
    train.add_argument(
        "--compile", action="store_true", help="torch.compile the model (a minute to compile)"
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue the run saved at --out, if there is one (after a disconnect)",
    )
    train.set_defaults(run=_train)

    sample = commands.add_parser("sample", help="generate text from a checkpoint")
    sample.add_argument("checkpoint")
    sample.add_argument("--prompt", default="\n")
    sample.add_argument("--tokens", type=int, default=500)
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--top-k", type=int)
    sample.add_argument("--top-p", type=float)
    sample.add_argument("--greedy", action="store_true")
    sample.add_argument("--no-cache", action="store_true", help="recompute instead of a KV cache")
    sample.add_argument("--seed", type=int, default=1337)
    sample.add_argument("--device")
    sample.set_defaults(run=_sample)

    doctor = commands.add_parser("doctor", help="report the environment and the data")
    doctor.add_argument(
        "--require-sandbox",
        action="store_true",
        help="exit with status 1 unless student code can be graded in a sandbox here (CI)",
    )
    doctor.set_defaults(run=_doctor)

    grade = commands.add_parser(
        "grade",
        help="grade a class of submitted notebooks (instructors; needs minigpt[grading])",
        description="Grade every notebook in a folder or LMS zip: each student's code runs in a "
        "bubblewrap sandbox of its own, after repairing what Colab and students break, and every "
        "task is judged outside it; the points go into nbgrader's gradebook. Writes a grades CSV, "
        "a class report, per-student feedback, and lists what needs a human look. Exits 2 when "
        "a submission could not be graded.",
    )
    grade.add_argument("assignment", help="e.g. 01-bigrams (a folder of solutions/)")
    grade.add_argument("submissions", help="a folder of .ipynb files, or an LMS .zip")
    grade.add_argument("--course", default=".", help="the course folder (default: here)")
    grade.add_argument("--csv", help="where to write grades (default grades-<assignment>.csv)")
    grade.add_argument("--jobs", type=int, help="students graded at once (default: CPU cores)")
    grade.add_argument("--timeout", type=int, default=60, help="seconds per cell (default 60)")
    grade.add_argument(
        "--notebook-timeout",
        type=int,
        default=300,
        help="seconds for a whole notebook, however many cells it has (default 300)",
    )
    grade.add_argument(
        "--memory-gb", type=float, default=4.0, help="memory per notebook (default 4)"
    )
    grade.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run student code WITHOUT isolation (no bubblewrap here); only for notebooks you "
        "trust: every row is flagged unsandboxed",
    )
    grade.add_argument(
        "--lms",
        choices=["canvas", "moodle", "csv"],
        help="also write the grades as this LMS's import file (see the instructors' guide)",
    )
    grade.add_argument(
        "--lms-column",
        help='Canvas: the assignment column, e.g. "Exercise 1 (4242)" with its Canvas id '
        "(default: the assignment's name)",
    )
    grade.set_defaults(run=_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (DataError, FileNotFoundError, ValueError) as err:
        print(f"minigpt {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
