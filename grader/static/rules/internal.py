"""internal-access: the notebook goes around the student API to the harness itself."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.names import CACHE_TEXT, HUB_TEXT, PRINTS, RUNS_FILE, is_internal
from grader.static.nodes import arguments, const, kwarg, last, root, snip
from grader.static.rules.base import Rule, rule
from grader.static.sources import Taint

if TYPE_CHECKING:
    from grader.static.walk import Walk

_COPIES = ("copy", "copyfile", "copy2", "copytree", "move", "rename", "replace", "symlink", "link")
_SAVES = ("save", "savez", "savez_compressed", "dump", "to_json", "to_csv", "write_record")
_PATH_WRITES = ("write_text", "write_bytes", "touch", "symlink_to", "hardlink_to")


@rule(
    "internal-access",
    severity="critical",
    summary="touches harness internals, patches course/grader or writes run records",
)
class InternalAccess(Rule):
    """The student API (load_course_data, evaluate, final_evaluation) logs which split is read in
    which phase, and final_evaluation writes the run record the grader trusts. Importing the split
    store or the raw files reads the test split without a trace; patching `course` or `grader`, or
    setting COURSE_* variables, changes what the harness evaluates or records; a run record written
    by hand claims results no final evaluation produced."""

    def magic_write(self, cell: int, line: int, text: str) -> None:
        self.findings.add(
            self,
            cell,
            line,
            f"`{text}` writes a run record or a COURSE_* setting from a magic; run records "
            "must come from final_evaluation and settings from the harness.",
        )

    def reference(self, walk: Walk, node: ast.AST, path: str) -> None:
        if is_internal(path):
            self._internal(walk, node, path)

    def call(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        name = last(call.func)
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        if name not in PRINTS:
            self._files(walk, call, name, receiver)
        self._patching(walk, call, name)

    def store(self, walk: Walk, target: ast.Attribute | ast.Subscript, taint: Taint) -> None:
        name = root(target)
        module = walk.aliases.get(name.id, "") if name is not None else ""
        if module.split(".")[0] in ("course", "grader"):
            self.report(
                walk,
                target,
                f"`{snip(target)}` is rebound or deleted, patching the `{module}` module, which can "
                "change what the harness evaluates or records.",
            )
        elif (
            isinstance(target, ast.Subscript)
            and walk.dotted(target.value) == "os.environ"
            and str(const(target.slice)).startswith("COURSE_")
        ):
            self._setting(walk, target)

    def subscript(self, walk: Walk, node: ast.Subscript, choosing: bool) -> None:
        base, key = walk.dotted(node.value), const(node.slice)
        if base == "os.environ" and isinstance(key, str) and CACHE_TEXT.search(key):
            self.report(
                walk,
                node,
                f"`{snip(node)}` looks up where the course's raw data lives, to read it around the logged split store.",
            )
        elif base == "sys.modules" and walk.module_path(node.slice):
            self.report(
                walk,
                node,
                f"`{snip(node)}` reaches a harness module through sys.modules, the usual first step to patching it.",
            )

    def _files(self, walk: Walk, call: ast.Call, name: str, receiver: ast.expr | None) -> None:
        """The course's raw files and cache, hand-written run records, COURSE_* settings."""
        for arg in arguments(call):
            text = walk.text(arg) or ""
            if HUB_TEXT.search(text):
                continue  # the hub's files: hub-dataset
            if CACHE_TEXT.search(text):
                self.report(
                    walk,
                    call,
                    f"`{snip(call)}` reads the course's raw data or cache directly, around the logged "
                    "split store (the raw files hold the test split).",
                )
            elif RUNS_FILE.search(text) and _writes(call, name, arg):
                self._run_record(walk, call)
        if (
            receiver is not None
            and RUNS_FILE.search(walk.text(receiver) or "")
            and (name in _PATH_WRITES or name == "open" and _write_mode(call, 0))
        ):
            self._run_record(walk, call)
        if name == "putenv" or name in ("update", "setdefault") and walk.dotted(receiver) == "os.environ":
            keys = [str(const(a)) for a in call.args] + [str(kw.arg) for kw in call.keywords]
            keys += [str(const(k)) for a in call.args if isinstance(a, ast.Dict) for k in a.keys]
            if any(k.startswith("COURSE_") for k in keys):
                self._setting(walk, call)

    def _patching(self, walk: Walk, call: ast.Call, name: str) -> None:
        """setattr / mock.patch on course or grader, getattr of an internal, importlib of an internal."""
        first = call.args[0] if call.args else None
        module = walk.module_path(first) if first is not None else None
        if name in ("setattr", "delattr", "patch", "object") and module:
            self.report(
                walk,
                call,
                f"`{snip(call)}` patches `{module}`, which can change what the harness evaluates or records.",
            )
        elif name == "getattr" and len(call.args) > 1 and module and is_internal(f"{module}.{const(call.args[1])}"):
            self._internal(walk, call, f"{module}.{const(call.args[1])}")
        elif name in ("import_module", "__import__") and isinstance(const(first), str) and is_internal(first.value):
            self._internal(walk, call, first.value)

    def _internal(self, walk: Walk, node: ast.AST, path: str) -> None:
        self.report(
            walk,
            node,
            f"`{snip(node)}` reaches the harness internal `{path}`, which bypasses the logged student "
            "API (load_course_data, evaluate, final_evaluation) and can read the test split.",
        )

    def _run_record(self, walk: Walk, call: ast.Call) -> None:
        self.report(
            walk,
            call,
            f"`{snip(call)}` writes a run record by hand; records must come from final_evaluation, "
            "which is what the grader trusts.",
        )

    def _setting(self, walk: Walk, node: ast.AST) -> None:
        self.report(
            walk,
            node,
            f"`{snip(node)}` sets a harness setting from the notebook; COURSE_* settings "
            "(mode, data, runs) belong to the harness, and grading mode hides test labels.",
        )


def _write_mode(call: ast.Call, position: int) -> bool:
    """Whether `open(...)`'s mode (by name, or at `position`) writes."""
    return any(c in str(const(kwarg(call, "mode", position))) for c in "wax+")


def _writes(call: ast.Call, name: str, arg: ast.expr) -> bool:
    """Whether the call writes to the path `arg`."""
    if name == "open":
        return _write_mode(call, 1)
    if name in _COPIES:
        return arg is kwarg(call, "dst", 1)
    return name in _SAVES
