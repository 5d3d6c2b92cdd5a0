"""`course`: one command, a subcommand per job.

Each subcommand parses its arguments here and calls one function in the module that does the work.
Errors that a user can fix (`course.errors.UserError`: a bad file, a tampered contract, an unknown
week) print one line naming what is wrong and exit with status 2; anything else is a bug in the
harness and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from course.errors import InputError, MissingFileError, UserError


def existing(path: str, what: str) -> Path:
    """A path the user named, which must exist: else one clear line naming it."""
    if not Path(path).exists():
        raise MissingFileError(f"no {what} {path}")
    return Path(path)


def cmd_audit(args: argparse.Namespace) -> None:
    from course import audit as audit_mod
    from course.catalog import config_for
    from course.contract import load_contract
    from course.sources import load_raw, read_raw

    course = args.course or ("real" if args.data else "synthetic")
    config = config_for(course)
    contract = load_contract(config, args.contract_dir)
    spec = config.dataset
    train_index = None
    if args.data:
        data = Path(args.data)
        if data.is_dir():
            raw_train, raw_test = load_raw(config, data)
        else:
            raw_train, raw_test = read_raw(data, spec.label_column, spec.text_column), None
    else:
        raw_train, raw_test = load_raw(config)
        train_index = contract.train_indices
    tokenizer = None
    if args.tokenizer:
        from course.models import load_tokenizer

        tokenizer = load_tokenizer(args.tokenizer)
    result = audit_mod.audit(
        raw_train,
        contract.labels,
        contract.merge_map,
        raw_test=raw_test,
        train_index=train_index,
        tokenizer=tokenizer,
        max_length=config.max_length,
        label_column=spec.label_column,
        text_column=spec.text_column,
    )
    print(audit_mod.format_report(result))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
        print(f"wrote {args.json}")
    if args.plots:
        for path in audit_mod.plot(result, Path(args.plots)):
            print(f"wrote {path}")


def cmd_synthetic(args: argparse.Namespace) -> None:
    from course.catalog import SYNTHETIC_SIZES, config_for, synthetic_course, write_real_shaped_raw
    from course.contract import load_contract

    if args.like:
        config = config_for(args.like)
        contract = load_contract(config, args.contract_dir)
        out = write_real_shaped_raw(config, contract, Path(args.out), seed=args.seed)
        print(f"wrote raw files shaped like {config.name} to {out}; use them with --data-dir / COURSE_DATA_DIR")
        return
    n_train, n_test = SYNTHETIC_SIZES["synthetic" if args.size == "full" else "synthetic-small"]
    print(synthetic_course(n_train, n_test, args.seed))


def cmd_contract(args: argparse.Namespace) -> None:
    from course.catalog import config_for
    from course.contract import load_contract

    config = config_for(args.course)
    contract = load_contract(config, args.contract_dir)
    print(f"{config.name}: contract verified in {contract.folder}")
    print(
        f"  {len(contract.labels)} labels, {len(contract.merge_map)} merge entries, "
        f"{len(contract.train_indices)} train / {len(contract.val_indices)} val indices"
    )


def cmd_reference(args: argparse.Namespace) -> None:
    from reference_solutions.weeks import run_week

    out = Path(args.out or f"reference_runs/{args.profile}/{args.week}")
    run_week(args.week, args.profile, out, seeds=args.seeds, pipelines=args.pipeline)
    print(f"summary: {out / (args.week + '_summary.md')}")


def cmd_bands(args: argparse.Namespace) -> None:
    from reference_solutions.weeks import run_bands, run_notebook_bands

    out = Path(args.out or f"reference_runs/{args.profile}/bands")
    if args.notebook:
        run_notebook_bands(existing(args.notebook, "notebook"), args.profile, args.seeds, out)
    elif args.week and args.pipeline:
        run_bands(args.week, args.pipeline, args.profile, args.seeds, out)
    else:
        raise InputError("give --week and --pipeline (a reference pipeline) or --notebook (a solution notebook)")


def cmd_release(args: argparse.Namespace) -> None:
    from grader import nbgrader_course

    root = nbgrader_course.init_course(Path(args.course_dir).resolve(), [args.week])
    released = nbgrader_course.release(root, args.week)
    print(f"released {args.week}: {', '.join(p.name for p in sorted(released.glob('*.ipynb')))} in {released}")


def cmd_collect(args: argparse.Namespace) -> None:
    from grader import grade, nbgrader_course

    root = Path(args.course_dir).resolve()
    if args.moodle_zip:
        spec = grade.load_spec(args.week, grade.spec_file(root))
        students = nbgrader_course.import_moodle_zip(
            root, args.week, existing(args.moodle_zip, "Moodle zip"), spec["notebooks"]
        )
        (root / "students.json").write_text(json.dumps(students, indent=1), encoding="utf-8")
        print(f"imported {len(students)} submission(s) from {args.moodle_zip}")
    else:
        print(nbgrader_course.nbgrader(root, "collect", args.week, "--update"))


def cmd_grade(args: argparse.Namespace) -> None:
    from grader import grade
    from grader.course_policy import load_policy
    from grader.rubric_forms import read_forms
    from grader.rubrics import load_rubric

    root = existing(args.course_dir, "course folder").resolve()
    load_policy(root)  # a bad course.yaml stops here, before any grading, naming the key
    try:
        results = grade.grade_week(
            root,
            args.week,
            workers=args.workers,
            names=_names(root),
            cluster=args.cluster,
            resume=args.resume,
            task_timeout=args.task_timeout,
            allow_weak_sandbox=args.allow_weak_sandbox,
        )
    except KeyboardInterrupt:
        raise UserError(
            f"interrupted: the students graded so far are kept in {root / 'results' / args.week}; "
            f"go on with `course grade {args.week} --resume`"
        ) from None
    print(grade.format_table(results))
    print(f"results: {root / 'results' / args.week}")
    forms = read_forms(root, args.week, load_rubric(int(args.week.removeprefix("week"))), {r.student for r in results})
    print(f"memo rubric forms: {sum(f.complete for f in forms.values())} of {len(results)} scored")


def _names(root: Path) -> dict[str, str]:
    """{student id: real name} from the course folder's students.json ({} without one)."""
    path = root / "students.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def cmd_rubric(args: argparse.Namespace) -> None:
    from grader.rubric_forms import prepare_forms

    root = existing(args.course_dir, "course folder").resolve()
    written, kept = prepare_forms(root, args.week)
    print(f"rubric forms in {root / 'rubric' / args.week}: {len(written)} written, {len(kept)} filled in and kept")


def cmd_review(args: argparse.Namespace) -> None:
    import getpass

    from grader import reviews
    from grader.gradebook import resettle_week

    root = existing(args.course_dir, "course folder").resolve()
    flags = reviews.week_flags(root, args.week)
    chosen = args.confirm or args.dismiss
    if chosen:
        if not args.reason:
            raise InputError("give --reason for the decision")
        flag = reviews.find_flag(flags, chosen, args.week)
        decision = "confirmed" if args.confirm else "dismissed"
        made = reviews.record(root, args.week, flag, decision, args.reason, args.reviewer or getpass.getuser())
        resettle_week(root, args.week, _names(root))
        print(f"flag {made.flag} ({made.student}): {made.describe()}; {args.week}'s results updated")
        return
    print(reviews.format_flags(flags, reviews.read_decisions(root, args.week)))
    from grader.shared_runs import read_flags

    for pair in read_flags(root, args.week):
        print(f"shared run (review by hand; never a verdict): {pair['message']}")


def cmd_rerun(args: argparse.Namespace) -> None:
    from grader import rerun

    root = existing(args.course_dir, "course folder").resolve()
    cpu = args.device == "cpu"
    entries = rerun.rerun_week(
        root,
        args.week,
        profile=args.profile,
        device=args.device,
        cluster=args.cluster,
        flagged=args.flagged,
        sample=args.sample,
        seed=args.seed,
        env=rerun.CPU_CHECK_ENV if cpu else None,
        bands_profile="smoke" if cpu else None,
        task_timeout=args.task_timeout,
    )
    print(rerun.format_table(entries))
    print(f"reruns: {root / 'results' / args.week / 'reruns.json'}")


def cmd_gradebook(args: argparse.Namespace) -> None:
    from grader import gradebook
    from grader.course_policy import load_policy

    root = existing(args.course_dir, "course folder").resolve()
    policy = load_policy(root)
    marks = gradebook.compute(root, policy)
    out = gradebook.write_gradebook(root, marks, policy)
    print(gradebook.format_marks(marks))
    print(f"gradebook: {out / 'moodle.csv'}, {out / 'breakdown.csv'}, {out / 'breakdown.md'}")


def cmd_feedback(args: argparse.Namespace) -> None:
    from grader import nbgrader_course

    root = existing(args.course_dir, "course folder").resolve()
    nbgrader_course.feedback(root, args.week)
    print(f"feedback: {root / 'feedback'}")


def cmd_check(args: argparse.Namespace) -> None:
    from grader.selfcheck import format_report, run_self_check

    items = run_self_check(existing(args.notebook, "notebook"))
    print(format_report(items, Path(args.notebook)))
    if not all(item.passed for item in items):
        raise SystemExit(1)


def cmd_leaderboard(args: argparse.Namespace) -> None:
    from datetime import datetime

    from leaderboard.site import build_site

    now = datetime.fromisoformat(args.now) if args.now else None
    index = build_site(
        existing(args.course_dir, "course folder").resolve(),
        Path(args.out).resolve(),
        now=now,
        show_names=args.show_names,
    )
    print(f"leaderboard: {index}")
    print(f"  (do not publish {index.parent / 'instructor'}: it holds ids, names and findings)")


def cmd_demo(args: argparse.Namespace) -> None:
    from harness.demo import run_demo

    run_demo(Path(args.out), size=args.size)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("audit", help="audit a course's data: long tail, merges, redaction, lengths, slices")
    p.add_argument(
        "--course",
        help="'real', 'synthetic', 'synthetic-small' or a course.toml (default: synthetic, or real with --data)",
    )
    p.add_argument("--data", help="raw data: a csv/parquet/jsonl file, or a folder with train.* and test.*")
    p.add_argument("--contract-dir", help="folder holding the contract files (else COURSE_CONTRACT_DIR or download)")
    p.add_argument("--tokenizer", help="tokenizer folder or hub name, for lengths in tokens")
    p.add_argument("--json", help="write the audit as JSON here")
    p.add_argument("--plots", help="write PNG plots into this folder")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("synthetic", help="generate the synthetic course (or raw data shaped like a real contract)")
    p.add_argument("--size", choices=["full", "small"], default="full")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--like", help="write raw files shaped like this course's contract instead (e.g. 'real')")
    p.add_argument("--contract-dir")
    p.add_argument("--out", default="synthetic_raw", help="with --like: output folder")
    p.set_defaults(func=cmd_synthetic)

    p = sub.add_parser("contract", help="download (if needed) and verify a course's contract files")
    p.add_argument("--course", default="real")
    p.add_argument("--contract-dir")
    p.set_defaults(func=cmd_contract)

    p = sub.add_parser("reference", help="run a week's reference pipelines and write its summary table")
    p.add_argument(
        "week",
        help="week1 ... week6 (week6 also writes the recommendation report over every week run under the same folder)",
    )
    p.add_argument("--profile", choices=["smoke", "full"], default="smoke")
    p.add_argument("--seeds", type=int, default=1, help="seeds per pipeline (the noise pipeline runs at least 3)")
    p.add_argument("--pipeline", action="append", help="run only this pipeline (repeatable; default: all)")
    p.add_argument("--out", help="output folder (default reference_runs/<profile>/<week>)")
    p.set_defaults(func=cmd_reference)

    p = sub.add_parser("bands", help="run one reference pipeline over seeds and write its band")
    p.add_argument("--week")
    p.add_argument("--pipeline")
    p.add_argument(
        "--notebook",
        help="a solution notebook (assignments/source/...): one band per run it records, named <week>/solution_<run>",
    )
    p.add_argument("--profile", choices=["smoke", "full", "full-like"], default="smoke")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", help="folder for the runs (default reference_runs/<profile>/bands)")
    p.set_defaults(func=cmd_bands)

    for name, helptext, func in (
        ("release", "nbgrader generate + release of a week's notebooks", cmd_release),
        ("collect", "collect submissions (nbgrader exchange, or a Moodle zip)", cmd_collect),
        ("grade", "autograde, integrity layers and band scoring for every submission", cmd_grade),
        ("feedback", "nbgrader feedback pages for a graded week", cmd_feedback),
        ("rubric", "memo rubric forms to fill in, one per student (rubric/<week>/<student>.yaml)", cmd_rubric),
        ("review", "list a week's integrity flags, or --confirm / --dismiss one", cmd_review),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("week")
        p.add_argument("--course-dir", default="course_dir", help="the nbgrader course directory")
        p.set_defaults(func=func)
        if name == "collect":
            p.add_argument("--moodle-zip", help="Moodle's 'download all submissions' zip")
        if name == "grade":
            p.add_argument("--workers", type=int, default=1, help="local worker processes (without --cluster)")
            p.add_argument("--cluster", help="a Dask scheduler (tcp://host:8786), or local:N for N local workers")
            p.add_argument("--resume", action="store_true", help="skip students graded from an unchanged submission")
            p.add_argument("--task-timeout", type=float, help="seconds per student (default: from the week's spec)")
            p.add_argument(
                "--allow-weak-sandbox",
                action="store_true",
                help="grade where bubblewrap cannot seal the sandbox (network namespace or socket guard only); "
                "every result says so",
            )
        if name == "review":
            decide = p.add_mutually_exclusive_group()
            decide.add_argument("--confirm", metavar="FLAG_ID", help="the flag is a real breach: its points stay at 0")
            decide.add_argument("--dismiss", metavar="FLAG_ID", help="the flag is not a breach: its points come back")
            p.add_argument("--reason", help="why (recorded with the decision)")
            p.add_argument("--reviewer", help="who decided (default: the login name)")

    p = sub.add_parser("gradebook", help="the semester's final marks: Moodle worksheet and per-student breakdown")
    p.add_argument("--course-dir", default="course_dir", help="the nbgrader course directory")
    p.set_defaults(func=cmd_gradebook)

    p = sub.add_parser("rerun", help="re-run full-evidence submissions on GPU workers; check they reproduce")
    p.add_argument("week")
    p.add_argument("--course-dir", default="course_dir", help="the nbgrader course directory")
    p.add_argument("--profile", choices=["full", "full-like"], default="full", help="the records to re-run")
    p.add_argument("--flagged", action="store_true", help="the runs with a statistics finding")
    p.add_argument("--sample", type=float, help="a seeded random fraction of the other runs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cluster", help="a Dask scheduler with GPU workers (tcp://host:8786), or local:N")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cpu: a CPU check on the small course")
    p.add_argument("--task-timeout", type=float, help="seconds per re-run (default 4 h on GPU)")
    p.set_defaults(func=cmd_rerun)

    p = sub.add_parser("leaderboard", help="build the static leaderboard and feedback site")
    p.add_argument("action", choices=["build"])
    p.add_argument("--out", default="site", help="output folder (default: site)")
    p.add_argument("--course-dir", default="course_dir")
    p.add_argument("--show-names", action="store_true", help="real names instead of pseudonyms (instructor option)")
    p.add_argument("--now", help="build as of this ISO time (private boards open after their deadline)")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("check", help="self-check: run a notebook's public checks before submitting")
    p.add_argument("notebook")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("demo", help="the whole harness on the embedded synthetic course, offline")
    p.add_argument("--out", default="demo_out", help="folder for every output (default: demo_out)")
    p.add_argument("--size", choices=["full", "small"], default="full")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as err:
        print(f"course {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
