"""Static analysis of a notebook's code cells: did test data reach training, selection or evaluation?

Layer 2 of the integrity checks (DESIGN.md, "Grading"). Pure `ast`: nothing is executed, so it works
on any submission, even one that no longer runs. Each finding names a rule of `RULES`, the cell and
the line; the runtime layers (access log, re-execution with a perturbed test split) back it up.

Cells. Code cells are read in execution order: by `execution_count` when every non-empty code cell
has one, else in document order. A finding's `cell` is the cell's index in `nb.cells` (0-based,
markdown cells counted); its `line` is 1-based within that cell. IPython magics, shell lines and
`name?` help lines are blanked before parsing; a cell that still does not parse yields one
`syntax-error` finding and the other cells are analysed as usual.

Taint. A simple dataflow over names, statement by statement in execution order. Test taint comes
from the split key `["test"]`, `split="test"`, `.test`, the hub dataset (`load_dataset`,
`hf://datasets/...`, dataset downloads), the course's raw files and cache, the harness internals, a
third value unpacked from `load_course_data()` (the old course API returned test) and the texts
`final_evaluation` hands to `predict`; val taint from `["validation"]`, `["val"]` and the second value
of `load_course_data()`. Taint follows assignment, augmented assignment, unpacking, for-targets,
comprehensions, container mutation (`texts.extend(test_texts)`) and call arguments: a call's result
carries its arguments' taint (and its receiver's, except for `.transform`/`.predict`-like methods).
Reassignment replaces a name's taint; branches join; a loop body is walked twice. Calls to functions,
lambdas and methods of classes written in the notebook are followed into their bodies with the
arguments' taint (once per function and argument taints), but what a function *returns* is not
tracked. Variable names never taint; only the re-split rule reads split-like names (`train_df`,
`test_df`). It is evidence for a human grader, backed by the runtime layers, not a proof.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.findings import Finding

LAYER = "static"

# rule id -> (severity, what it means). The ids are a contract: reports and tests use them.
RULES: dict[str, tuple[str, str]] = {
    "hub-dataset": ("critical", "loads the hub dataset, whose copy has the test labels"),
    "internal-access": ("critical", "touches harness internals, patches course/grader or writes run records"),
    "test-capture": ("critical", "the predict given to final_evaluation keeps the texts it is given"),
    "train-on-test": ("critical", "test data reaches a training call"),
    "eval-on-test": ("critical", "evaluates or early-stops on test data outside final_evaluation"),
    "select-on-test": ("critical", "chooses a model, epoch or setting with a test-derived value"),
    "resplit": ("major", "re-splits or mixes the course's fixed splits"),
    "fit-on-eval": ("major", "fits preprocessing on data that includes val or test"),
    "train-on-val": ("major", "trains the model on val data"),
    "final-eval-in-loop": ("major", "final_evaluation inside a loop"),
    "final-eval-before-training-ends": ("major", "training in a cell run after final_evaluation"),
    "label-encoder-all": ("minor", "a label encoder fitted on labels from several splits"),
    "final-eval-repeated": ("minor", "final_evaluation called again for the same run"),
    "syntax-error": ("info", "code that does not parse (or nests too deeply); static checks skipped it"),
}

Taint = dict[str, str]  # kind -> where it came from, quoted in messages
# Which splits a taint kind stands for. "hub" is a whole hub copy; "course" the (train, val) pair of
# load_course_data(); "captured" the texts predict receives inside final_evaluation (val and test).
# "final" (final_evaluation's return value) and "train" are tracked but are no leak by themselves.
_SPLITS = {"train": {"train"}, "val": {"val"}, "test": {"test"}, "captured": {"test"},
           "hub": {"train", "val", "test"}, "course": {"train", "val"}}
_SPLIT_WORDS = {"train": {"train", "training"}, "val": {"val", "valid", "validation", "dev"},
                "test": {"test", "testing"}}

# Parts of `course` a student must not touch: they bypass the logged split store or the run record.
_INTERNAL = {"catalog", "sources", "splits", "access", "synthetic", "runrecord", "store", "_store", "configure",
             "SplitStore", "cached_course", "open_course", "config_for", "load_raw"}
_HUB_LOADERS = {"load_dataset", "load_dataset_builder"}
_FIT_METHODS = {"fit", "partial_fit", "train", "fit_transform", "adapt", "train_new_from_iterator",
                "train_from_iterator", "build_vocab", "fit_on_texts"}
_PREPROCESSING_ONLY = _FIT_METHODS - {"fit", "partial_fit", "train"}
_EVAL_KWARGS = {"validation_data", "eval_set", "evals", "valid_sets", "eval_dataset"}
_METRICS = {"evaluate", "f1_score", "accuracy_score", "precision_score", "recall_score", "classification_report",
            "confusion_matrix", "precision_recall_fscore_support", "balanced_accuracy_score", "log_loss",
            "roc_auc_score", "top_k_accuracy_score", "matthews_corrcoef", "cohen_kappa_score", "summary",
            "score", "compute"}
_PICKERS = {"max", "min", "argmax", "argmin", "nanargmax", "nanargmin", "idxmax", "idxmin"}
_SORTERS = {"sorted", "sort_values", "nlargest", "nsmallest", "most_common"}  # pick only when indexed: [0], [-1]
_MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "appendleft", "extendleft", "put"}
_DUMPS = {"dump", "save", "savez", "to_csv", "to_json", "to_parquet", "to_pickle", "write", "writelines",
          "write_text", "save_to_disk"}
_SAVES = {"save", "save_pretrained", "save_model", "load_state_dict", "state_dict", "deepcopy", "clone"}
# Model outputs are not the texts: only these calls keep the "captured" taint of predict's input.
_COPIES = {"list", "tuple", "set", "dict", "sorted", "reversed", "iter", "zip", "enumerate", "map", "filter",
           "copy", "deepcopy", "array", "asarray", "Series", "DataFrame", "from_dict", "from_list", "str",
           "join", "tolist", "to_list", "items", "values", "keys", "concatenate", "chain"}
# Methods whose result does not carry the receiver's data: a fitted vectorizer applied to val is val.
_APPLY = {"transform", "predict", "predict_proba", "predict_log_proba", "decision_function", "encode",
          "encode_plus", "batch_encode_plus", "kneighbors"}
_PRINTS = {"print", "display", "Markdown", "HTML", "info", "debug", "warning", "log"}
# Calls that build or look up a path: the data comes from the call that reads the path, not from these.
_PATH_CALLS = {"Path", "PurePath", "join", "joinpath", "glob", "iglob", "rglob", "expanduser", "abspath", "resolve",
               "absolute", "fspath", "str", "sorted", "list", "exists", "is_file", "isfile", "isdir", "listdir",
               "get", "getenv"}

_PREPROCESSOR = re.compile(
    r"(Vectorizer|Scaler|Encoder|Binarizer|Tokenizer|TokenizerFast|Imputer|Normalizer|PCA|SVD|NMF|"
    r"ColumnTransformer|FunctionTransformer|QuantileTransformer|PowerTransformer|SelectKBest|"
    r"SelectPercentile|Discretizer|Vocab\w*|Word2Vec|FastText|Doc2Vec|TextVectorization|Normalization|"
    r"StringLookup|IntegerLookup)$")
_LABEL_ENCODER = re.compile(r"^(LabelEncoder|LabelBinarizer|MultiLabelBinarizer)$")
_CALIBRATOR = re.compile(r"temperature|calibrat|isotonic|platt", re.I)  # fitting T on val is course practice
_SPLITTER = re.compile(r"(KFold|ShuffleSplit|LeaveOneOut|PredefinedSplit)$")
_TRAIN_NAME = re.compile(r"^(train|fit)(_|$)|_(train|fit)$")
_CHOICE_NAME = re.compile(r"best|chosen|choice|select|winner|optimal|patience|stop|top", re.I)
_RUNS_FILE = re.compile(r"(^|/)runs/+[^/]*\.(json|npz)$")
_HUB_TEXT = re.compile(r"^hf://datasets/|huggingface\.co/datasets/|consumer_complaints")
_CACHE_TEXT = re.compile(r"course-harness|COURSE_CACHE|COURSE_DATA_DIR|(^|/)(synthetic|raw)/.*\.(parquet|csv|jsonl)$")
_TEST_FILE = re.compile(r"(^|/)test\.(parquet|csv|jsonl|json|arrow)$")

_LINE_MAGIC = re.compile(r"^\s*(%%?[A-Za-z]|![^=]|\?|[\w.]+\?{1,2}\s*$|[\w.,\s]+=\s*(%[A-Za-z]|![^=]))")
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}  # their body is still Python
_SHELL_WRITE = re.compile(r"(>|\b(cp|mv|tee|ln|rsync|install|touch)\b).*\bruns/\S*\.(json|npz)")
_ENV_MAGIC = re.compile(r"^\s*%(set_)?env\s+COURSE_\w+")


def analyze_notebook(nb: nbformat.NotebookNode | str | Path) -> list[Finding]:
    """Findings for a notebook (a NotebookNode, or the path of an .ipynb file), in execution order."""
    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.read(str(nb), as_version=4)
    return _analyze(code_cells(nb))


def analyze_cells(sources: list[str]) -> list[Finding]:
    """Findings for code cells given in execution order; `cell` is the index into `sources`."""
    return _analyze(list(enumerate(sources)))


def code_cells(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(index in nb.cells, source) of each code cell, in the order the kernel ran them when known."""
    cells = [(i, _source(c)) for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]
    counts = [nb.cells[i].get("execution_count") for i, source in cells if source.strip()]
    if counts and all(isinstance(n, int) for n in counts):
        cells.sort(key=lambda c: nb.cells[c[0]].get("execution_count") or 0)
    return cells


def strip_magics(source: str) -> tuple[str, list[tuple[int, str]]]:
    """The cell as plain Python (magic lines become `pass`, so blocks and line numbers survive), and
    the run-record or COURSE_* environment writes those magic lines made, as (line, text)."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    writes = []
    whole_cell = False  # a %%bash, %%writefile ... cell: nothing in it is Python
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].lstrip()[2:].split(maxsplit=1)
        whole_cell = not name or name[0] not in _PYTHON_CELL_MAGICS
        target = re.match(r"\s*%%(writefile|file)\s+(-a\s+)?(\S+)", lines[first])
        if target and _RUNS_FILE.search(target.group(3).replace("\\", "/")):
            writes.append((first + 1, lines[first].strip()))
    out = []
    for number, line in enumerate(lines, 1):
        if whole_cell or _LINE_MAGIC.match(line):
            if _SHELL_WRITE.search(line) or _ENV_MAGIC.match(line):
                writes.append((number, line.strip()))
            line = "" if whole_cell else line[:len(line) - len(line.lstrip())] + "pass"
        out.append(line)
    return "\n".join(out), sorted(set(writes))


def _analyze(cells: list[tuple[int, str]]) -> list[Finding]:
    findings, parsed = [], []
    for index, source in cells:
        code, writes = strip_magics(source)
        for line, text in writes:
            findings.append(Finding(LAYER, "internal-access", "critical",
                                    f"`{text}` writes a run record or a COURSE_* setting from a magic; run records "
                                    "must come from final_evaluation and settings from the harness.", index, line))
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as err:  # ValueError: null bytes
            findings.append(Finding(LAYER, "syntax-error", "info",
                                    f"the cell does not parse ({getattr(err, 'msg', err)}), so no static "
                                    "check saw its code.", index, getattr(err, "lineno", None)))
            continue
        parsed.append((index, tree))
    findings += _Analyzer(parsed).run()
    order = {index: position for position, (index, _) in enumerate(cells)}
    rules = list(RULES)
    return sorted(findings, key=lambda f: (order[f.cell], f.line or 0, rules.index(f.rule)))


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


# ---------------------------------------------------------------- small helpers on ast nodes and taints

def _last(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _snip(node: ast.AST, width: int = 70) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _root(node: ast.expr) -> ast.Name | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node if isinstance(node, ast.Name) else None


def _const(node: ast.expr | None):
    return node.value if isinstance(node, ast.Constant) else None


def _kwarg(call: ast.Call, name: str, position: int | None = None) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _is_internal(path: str) -> bool:
    parts = path.split(".")
    return parts[0] == "course" and any(p in _INTERNAL for p in parts[1:3])


def _splits(t: Taint) -> set[str]:
    return set().union(*(_SPLITS.get(k, set()) for k in t))


def _union(*taints: Taint) -> Taint:
    out: Taint = {}
    for t in taints:
        for kind, origin in t.items():
            out.setdefault(kind, origin)
    return out


def _origin_of(t: Taint, split: str) -> str:
    """Where the taint standing for `split` ("test", "val", or the kind "final") came from."""
    return next(o for k, o in t.items() if k == split or split in _SPLITS.get(k, ()))


def _split_words(text: str) -> set[str]:
    words = set(re.split(r"[^a-z]+", text.lower()))
    return {split for split, spelled in _SPLIT_WORDS.items() if words & spelled}


def _name_splits(node: ast.expr) -> set[str]:
    """Splits a variable's name spells (`train_df`, `X_test`); only the re-split rule reads them."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return _name_splits(node.func.value)
    if isinstance(node, ast.Subscript):
        return _name_splits(node.value)
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return _split_words(name)


def _ctor(node: ast.expr) -> str:
    """The class a value was built from: TfidfVectorizer for `TfidfVectorizer(...).fit(x)`."""
    while isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            node = func.value
        elif isinstance(func, ast.Attribute) and func.attr == "from_pretrained":
            return _last(func.value)
        else:
            return _last(func)
    return ""


def _is_training_call(call: ast.Call) -> bool:
    """A call that trains something, judged from its name alone (for the ordering rules)."""
    last = _last(call.func)
    if isinstance(call.func, ast.Attribute):
        if last in ("fit", "partial_fit", "train", "backward"):
            return True
        return last == "step" and bool(re.search(r"optim|^opt", _last(call.func.value), re.I))
    return bool(_TRAIN_NAME.search(last)) and "split" not in last


def _chooses(stmt: ast.If | ast.While) -> bool:
    """Whether a branch keeps a 'best' something, stops early, or saves/restores a model."""
    for node in ast.walk(ast.Module(body=stmt.body + stmt.orelse, type_ignores=[])):
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_CHOICE_NAME.search(_snip(t)) for t in targets):
                return True
        if isinstance(node, ast.Call) and (_last(node.func) in _SAVES
                                           or isinstance(stmt, ast.While) and _is_training_call(node)):
            return True
    return False


def _top_level_calls(tree: ast.Module):
    """Calls a cell makes itself, not those inside the functions and classes it defines."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Call):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _closure(direct: set[str], calls: dict[str, set[str]]) -> set[str]:
    """Functions that reach `direct` through calls between notebook functions."""
    found = set(direct)
    while True:
        more = {name for name, callees in calls.items() if callees & found} - found
        if not more:
            return found
        found |= more


@dataclass
class _Scope:
    vars: dict[str, Taint]
    declared: set[str] = field(default_factory=set)  # names declared global / nonlocal
    this: tuple[str, str] | None = None  # in a followed method call: (self, the caller's name for the object)


# ---------------------------------------------------------------- the analysis

class _Analyzer:
    """Walks the parsed cells once, in execution order, keeping each name's taint and firing rules."""

    def __init__(self, cells: list[tuple[int, ast.Module]]):
        self.cells = cells
        self.findings: list[Finding] = []
        self.reported: set[tuple[str, int, int]] = set()
        self.globals: dict[str, Taint] = {}
        self.scopes: list[_Scope] = []
        self.aliases: dict[str, str] = {}  # local name -> dotted import path
        self.star_internal: set[str] = set()  # internal names brought in by `from course.api import *`
        self.strings: dict[str, str] = {}  # name -> the path or string it was bound to
        self.ctors: dict[str, str] = {}  # name -> class its value was built from
        self.functions: dict[str, tuple[ast.FunctionDef | ast.AsyncFunctionDef, int]] = {}  # name -> (def, cell)
        self.classes: dict[str, tuple[ast.ClassDef, int]] = {}
        self.final_runs: dict[str, tuple[ast.Call, int]] = {}  # run literal -> first call and its cell
        self.cell = self.position = 0
        self.loop_depth = self.function_depth = 0
        self.active: set[int] = set()  # functions being walked (no recursion)
        self.walked: set[tuple] = set()  # (function, argument taints) already followed: walk each once
        self.subsamples: set[int] = set()  # train_test_split calls that keep one part: a subsample, not a split
        self.in_class = False  # methods are not callable by bare name: not registered as functions
        self.capture: str | None = None  # the predict function walked with final_evaluation's texts
        self.capture_base = 0

        defs = {n.name: n for _, tree in cells for n in ast.walk(tree)
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        calls = {name: {c.func.id for c in ast.walk(fn) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
                 for name, fn in defs.items()}

        def having(test) -> set[str]:
            return _closure({name for name, fn in defs.items()
                             if any(isinstance(c, ast.Call) and test(c) for c in ast.walk(fn))}, calls)

        self.calls_final = having(lambda c: _last(c.func) == "final_evaluation")
        self.trains = having(_is_training_call)
        self.first_final = min((position for position, (_, tree) in enumerate(cells)
                                if any(_last(c.func) == "final_evaluation" or _last(c.func) in self.calls_final
                                       for c in _top_level_calls(tree))), default=len(cells))
        self.best_at_end = any(isinstance(n, ast.keyword) and n.arg == "load_best_model_at_end"
                               and _const(n.value) is True for _, tree in cells for n in ast.walk(tree))

    def run(self) -> list[Finding]:
        for position, (cell, tree) in enumerate(self.cells):
            self.position, self.cell = position, cell
            for stmt in tree.body:
                state = (len(self.scopes), self.loop_depth, self.function_depth, self.capture, self.in_class)
                try:
                    self._stmt(stmt)
                except RecursionError:  # an expression nested thousands deep: skip the statement, say so
                    del self.scopes[state[0]:]
                    self.loop_depth, self.function_depth, self.capture, self.in_class = state[1:]
                    self.cell, self.active = cell, set()
                    self._report("syntax-error", stmt, "a statement is nested too deeply for the static "
                                                       "analysis, so no static check saw it.")
        return self.findings

    def _report(self, rule: str, node: ast.AST, message: str) -> None:
        key = (rule, self.cell, node.lineno)
        if key not in self.reported:
            self.reported.add(key)
            self.findings.append(Finding(LAYER, rule, RULES[rule][0], message, self.cell, node.lineno))

    def _origin(self, node: ast.AST) -> str:
        return f"`{_snip(node, 50)}` at cell {self.cell}, line {node.lineno}"

    # ------------------------------------------------------------ names, scopes and joins

    def _lookup(self, name: str) -> Taint:
        for scope in reversed(self.scopes):
            if name in scope.vars:
                return scope.vars[name]
            if scope.this and name == scope.this[0]:
                name = scope.this[1]
        return self.globals.get(name, {})

    def _bind(self, name: str, t: Taint, node: ast.AST, weak: bool = False) -> None:
        """Bind in the current scope (or globals, for `global` names); `weak` keeps the old taint too."""
        to_globals = not self.scopes or name in self.scopes[-1].declared
        if to_globals and self.capture:
            t = self._escape(t, node, f"`global {name}`")
        env = self.globals if to_globals else self.scopes[-1].vars
        env[name] = _union(env.get(name, {}), t) if weak else t

    def _mutate(self, name: str, t: Taint, node: ast.AST) -> None:
        """A container changed in place (`xs.append(v)`, `d[k] = v`): it now also holds `t`."""
        if name in self.aliases:  # a module (os.environ.update, ...), not data
            return
        owner, local = None, False
        for depth in range(len(self.scopes) - 1, -1, -1):
            scope = self.scopes[depth]
            if name in scope.vars:
                owner, local = scope.vars, depth >= self.capture_base
                break
            if scope.this and name == scope.this[0]:  # self.seen.extend(...) changes the caller's object
                name = scope.this[1]
        if not local:
            t = self._escape(t, node, f"`{name}`")
        env = owner if owner is not None else self.globals
        env[name] = _union(env.get(name, {}), t)

    def _escape(self, t: Taint, node: ast.AST, where: str) -> Taint:
        """predict's input leaving predict: report it, and from here on it is plain test data."""
        if not self.capture or "captured" not in t:
            return t
        self._report("test-capture", node,
                     f"`{_snip(node)}` in {self.capture} keeps the texts final_evaluation passes to predict "
                     f"(the test texts) in {where}, outside the function, where later code can use them.")
        rest = {k: o for k, o in t.items() if k != "captured"}
        return _union(rest, {"test": f"the test texts captured by {self.capture} at cell {self.cell}, "
                                     f"line {node.lineno}"})

    def _snapshot(self) -> list[dict[str, Taint]]:
        return [dict(self.globals)] + [dict(s.vars) for s in self.scopes]

    def _restore(self, snapshot: list[dict[str, Taint]]) -> None:
        self.globals = dict(snapshot[0])
        for scope, env in zip(self.scopes, snapshot[1:]):
            scope.vars = dict(env)

    @staticmethod
    def _join(a: list[dict[str, Taint]], b: list[dict[str, Taint]]) -> list[dict[str, Taint]]:
        joined = []
        for x, y in zip(a, b):
            env = dict(x)
            for name, t in y.items():
                if env.get(name) is not t:  # taints are never changed in place: same object, same taint
                    env[name] = _union(env.get(name, {}), t)
            joined.append(env)
        return joined

    def _dotted(self, node: ast.expr, imported_only: bool = False) -> str | None:
        """`course.api.store` for `api.store` after `from course import api`; None for non-chains."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, None if imported_only else node.id)
        if isinstance(node, ast.Attribute):
            base = self._dotted(node.value, imported_only)
            return f"{base}.{node.attr}" if base else None
        return None

    def _module_path(self, node: ast.expr) -> str | None:
        """The course/grader path an expression names (an imported alias, or a string like 'course.api')."""
        path = _const(node) if isinstance(_const(node), str) else self._dotted(node, imported_only=True)
        return path if path and path.split(".")[0] in ("course", "grader") else None

    def _text(self, node: ast.expr | None) -> str | None:
        """The string or path an expression spells, with '*' for the parts only known at run time."""
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return node.value.replace("\\", "/") if isinstance(node.value, str) else None
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) else self._text(v.value) or "*"
                           for v in node.values).replace("\\", "/")
        if isinstance(node, ast.Name):
            return self.strings.get(node.id)
        if isinstance(node, ast.Attribute):
            return "runs" if node.attr == "runs_dir" else None
        if isinstance(node, ast.Subscript):  # sorted(glob(...))[0]
            return self._text(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Add)):
            left, right = self._text(node.left), self._text(node.right)
            if left is None and right is None:
                return None
            return ("/" if isinstance(node.op, ast.Div) else "").join([left or "*", right or "*"])
        if isinstance(node, ast.Call) and _last(node.func) in _PATH_CALLS:
            receiver = self._text(node.func.value) if isinstance(node.func, ast.Attribute) else None
            texts = ([receiver] if receiver else []) + [self._text(a) for a in node.args]
            if _last(node.func) in ("Path", "PurePath", "join", "joinpath", "glob", "iglob", "rglob"):
                return "/".join(t or "*" for t in texts) if any(texts) else None
            return texts[0] if texts else None
        return None

    def _class_of(self, node: ast.expr) -> str:
        if isinstance(node, ast.Call):
            return _ctor(node)
        return self.ctors.get(node.id, "") if isinstance(node, ast.Name) else ""

    # ------------------------------------------------------------ taint of an expression

    def _taint(self, node: ast.expr | None) -> Taint:
        if node is None or isinstance(node, ast.Constant):
            return {}
        if isinstance(node, ast.Name):
            if node.id in self.star_internal:
                return {"test": self._origin(node)}
            return self._lookup(node.id)
        if isinstance(node, ast.Attribute):
            path = self._dotted(node, imported_only=True)
            if node.attr == "test" or path and _is_internal(path):
                return {"test": self._origin(node)}
            return self._taint(node.value)
        if isinstance(node, ast.Subscript):
            return self._subscript_taint(node)
        if isinstance(node, ast.Call):
            return self._call_taint(node)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self.scopes.append(_Scope({}))
            try:
                t: Taint = {}
                for gen in node.generators:
                    it = self._taint(gen.iter)
                    self._assign(gen.target, None, taint=it)
                    t = _union(t, it)
                parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
                return _union(t, *(self._taint(p) for p in parts))
            finally:
                self.scopes.pop()
        if isinstance(node, ast.Lambda):
            self.scopes.append(_Scope({a.arg: {} for a in node.args.posonlyargs + node.args.args}))
            try:
                return self._taint(node.body)
            finally:
                self.scopes.pop()
        return _union(*(self._taint(c) for c in self._children(node)))

    @staticmethod
    def _children(node: ast.AST) -> list[ast.expr]:
        return [c.value if isinstance(c, ast.keyword) else c for c in ast.iter_child_nodes(node)
                if isinstance(c, (ast.expr, ast.keyword))]

    def _subscript_taint(self, node: ast.Subscript) -> Taint:
        base = self._taint(node.value)
        key = _const(node.slice)
        if "final" in base:  # res["test"], res["val"]: final_evaluation's numbers, however indexed
            return base
        if isinstance(key, int) and set(base) == {"course"}:  # load_course_data()[1]
            return {("train", "val")[key] if 0 <= key < 2 else "test": self._origin(node)}
        if isinstance(key, str) and key in ("test", "validation", "val", "train"):
            kinds = _split_words(key)
            if key == "train" and "hub" in base:
                kinds = {"train", "val"}  # the hub's train split holds the course's val rows
            return {k: self._origin(node) for k in kinds}
        return _union(base, self._taint(node.slice))

    def _call_taint(self, call: ast.Call) -> Taint:
        func, last = call.func, _last(call.func)
        path = self._dotted(func, imported_only=True)
        kinds = set()  # splits this call itself brings in
        if path and _is_internal(path) or last in self.star_internal:
            kinds = {"test"}
        elif last in ("load_course_data", "final_evaluation"):
            kinds = {"course" if last == "load_course_data" else "final"}
        elif last in _HUB_LOADERS or self._hub_download(call, last):
            named = self._text(_kwarg(call, "split")) or self._text(_kwarg(call, "filename", 1)) or ""
            kinds = _split_words(named.rsplit("/", 1)[-1]) or {"hub"}
            if "train" in kinds:
                kinds.add("val")  # the hub's train split holds the course's val rows
        if kinds:
            return {k: self._origin(call) for k in kinds}
        for arg in call.args + [kw.value for kw in call.keywords] if last not in _PATH_CALLS else []:
            text = self._text(arg) or ""
            if _HUB_TEXT.search(text) or _CACHE_TEXT.search(text):
                name = _split_words(text.rsplit("/", 1)[-1])
                kinds |= {"test"} if "test" in name else {"train", "val"} if "train" in name else {"hub"}
            elif _TEST_FILE.search(text):
                kinds.add("test")
        kinds |= _split_words(self._text(_kwarg(call, "split")) or "")
        t = {k: self._origin(call) for k in kinds}
        if isinstance(func, ast.Attribute) and last not in _APPLY:
            t = _union(t, self._taint(func.value))
        t = _union(t, *(self._taint(a) for a in call.args), *(self._taint(kw.value) for kw in call.keywords))
        if "captured" in t and last not in _COPIES and not re.search(r"tokeni[sz]|encode", last, re.I):
            t = {k: o for k, o in t.items() if k != "captured"}
        return t

    def _hub_download(self, call: ast.Call, last: str) -> bool:
        if last not in ("hf_hub_download", "snapshot_download"):
            return False
        texts = [self._text(a) or "" for a in call.args + [kw.value for kw in call.keywords]]
        return _const(_kwarg(call, "repo_type")) == "dataset" or any(_HUB_TEXT.search(t) for t in texts)

    # ------------------------------------------------------------ statements

    def _block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self._stmt(stmt)

    def _stmt(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self._import(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for expr in node.decorator_list + node.args.defaults + node.args.kw_defaults:
                self._expr(expr)
            if not self.in_class:
                self.functions[node.name] = (node, self.cell)
            self._walk_function(node, {}, self.cell, effects=False)
            self._bind(node.name, {}, node)
        elif isinstance(node, ast.ClassDef):
            if not self.in_class:
                self.classes[node.name] = (node, self.cell)
            self._walk_function(node, {}, self.cell, effects=False)
            self._bind(node.name, {}, node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            if any(isinstance(t, ast.Tuple) and any(getattr(e, "id", "") == "_" for e in t.elts)
                   for t in getattr(node, "targets", [])):
                self.subsamples.add(id(node.value))  # sub_idx, _ = train_test_split(...)
            self._expr(node.value, choosing=True)
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                self._assign(target, node.value)
        elif isinstance(node, ast.AugAssign):
            self._expr(node.value, choosing=True)
            self._assign(node.target, node.value, weak=True)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._expr(node.iter, choosing=True)
            self._loop(node, node.target, node.iter)
        elif isinstance(node, ast.While):  # the test runs again after each pass: check it after the body too
            self._loop(node, None, None)
            self._expr(node.test, choosing=True)
            self._choice(node)
        elif isinstance(node, ast.If):
            self._expr(node.test, choosing=True)
            self._choice(node)
            self._branches([node.body, node.orelse])
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self._expr(item.context_expr)
                if item.optional_vars is not None:
                    self._assign(item.optional_vars, item.context_expr)
            self._block(node.body)
        elif isinstance(node, (ast.Try, ast.TryStar)):
            self._branches([node.body + node.orelse] + [h.body for h in node.handlers])
            self._block(node.finalbody)
        elif isinstance(node, ast.Match):
            self._expr(node.subject)
            self._branches([case.body for case in node.cases])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            if self.scopes:
                self.scopes[-1].declared.update(node.names)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if not isinstance(target, ast.Name):
                    self._store(target, {})
        elif isinstance(node, ast.Return):
            self._expr(node.value, choosing=True)
        else:
            for child in self._children(node):
                self._expr(child)

    def _assign(self, target: ast.expr, value: ast.expr | None, weak: bool = False,
                taint: Taint | None = None) -> None:
        t = self._taint(value) if taint is None else taint
        if isinstance(target, ast.Name):
            self._bind(target.id, t, target, weak)
            if value is not None and not weak:
                for table, known in ((self.strings, self._text(value)), (self.ctors, _ctor(value))):
                    if known:
                        table[target.id] = known
                    else:
                        table.pop(target.id, None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            elts = target.elts
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(elts) \
                    and not any(isinstance(e, ast.Starred) for e in elts + value.elts):
                for element, part in zip(elts, value.elts):
                    self._assign(element, part, weak)
            elif set(t) == {"course"}:  # train_ds, val_ds(, test_ds) = load_course_data(...)
                for i, element in enumerate(elts):
                    kind = ("train", "val")[i] if i < 2 else "test"
                    self._assign(element, None, weak, taint={kind: f"{t['course']}, value {i + 1}"})
            else:
                for element in elts:
                    self._assign(element, None, weak, taint=t)
        elif isinstance(target, ast.Starred):
            self._assign(target.value, None, weak, taint=t)
        else:
            self._store(target, t)

    def _store(self, target: ast.Attribute | ast.Subscript, t: Taint) -> None:
        """`obj.attr = v`, `obj[k] = v`, `del obj.attr`: patching checks, then a container update."""
        root = _root(target)
        module = self.aliases.get(root.id, "") if root is not None else ""
        if module.split(".")[0] in ("course", "grader"):
            self._report("internal-access", target,
                         f"`{_snip(target)}` is rebound or deleted, patching the `{module}` module, which can "
                         "change what the harness evaluates or records.")
        elif isinstance(target, ast.Subscript) and self._dotted(target.value) == "os.environ" \
                and str(_const(target.slice)).startswith("COURSE_"):
            self._report("internal-access", target,
                         f"`{_snip(target)}` sets a harness setting from the notebook; COURSE_* settings "
                         "(mode, data, runs) belong to the harness, and grading mode hides test labels.")
        if isinstance(target, ast.Attribute) and target.attr in ("train_dataset", "eval_dataset"):
            self._dataset_use(target, target.attr, t)
        if root is not None and t:
            self._mutate(root.id, t, target)

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While, target: ast.expr | None,
              iterable: ast.expr | None) -> None:
        """Two passes over the body, so a value set late in one iteration reaches the next."""
        self.loop_depth += 1
        for _ in range(2):
            before = self._snapshot()
            if target is not None:
                self._assign(target, None, taint=self._taint(iterable))
            self._block(node.body)
            self._restore(self._join(before, self._snapshot()))
        self.loop_depth -= 1
        self._block(node.orelse)

    def _branches(self, bodies: list[list[ast.stmt]]) -> None:
        before, joined = self._snapshot(), None
        for body in bodies:
            self._restore(before)
            self._block(body)
            after = self._snapshot()
            joined = after if joined is None else self._join(joined, after)
        self._restore(joined)

    def _walk_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda,
                       bound: dict[str, Taint], cell: int, effects: bool, capture: str | None = None,
                       skip: int = 0, this: ast.expr | None = None) -> None:
        """Walk a body with its parameters bound. At its definition (`effects=False`) nothing it does
        outlives the walk; at a call its global writes and container mutations stay. The first `skip`
        parameters (a method's self) stay unbound: what is stored through them outlives the call, on
        the object the caller calls `this`."""
        if id(node) in self.active:
            return
        saved = None if effects else (self._snapshot(), set(self.walked))
        state = (self.cell, self.loop_depth, self.capture, self.capture_base, self.in_class)
        args = node.args if not isinstance(node, ast.ClassDef) else None
        params = [] if args is None else [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
        params = params[skip:] + ([a.arg for a in (args.vararg, args.kwarg) if a is not None] if args else [])
        self.cell, self.loop_depth, self.in_class = cell, 0, isinstance(node, ast.ClassDef)
        if capture:
            self.capture, self.capture_base = capture, len(self.scopes)
        self.function_depth += 1
        self.active.add(id(node))
        owner = _root(this) if this is not None and skip else None
        self_name = (args.posonlyargs + args.args)[0].arg if owner is not None and args else None
        self.scopes.append(_Scope({p: bound.get(p, {}) for p in params},
                                  this=(self_name, owner.id) if self_name else None))
        try:
            if isinstance(node, ast.Lambda):
                self._expr(node.body, choosing=True)
            else:
                self._block(node.body)
        finally:
            self.scopes.pop()
            self.active.discard(id(node))
            self.function_depth -= 1
            self.cell, self.loop_depth, self.capture, self.capture_base, self.in_class = state
            if saved is not None:
                self._restore(saved[0])
                self.walked = saved[1]

    def _notebook_function(self, func: ast.expr) -> tuple[ast.FunctionDef | ast.Lambda, int, int] | None:
        """(def, cell, parameters the caller does not pass) for a function or lambda written in the
        notebook, or a method of a class written in it (`model.predict`, `model(...)` for __call__)."""
        if isinstance(func, ast.Lambda):
            return func, self.cell, 0
        if isinstance(func, ast.Name) and func.id in self.functions:
            return (*self.functions[func.id], 0)
        owner, method = (func.value, func.attr) if isinstance(func, ast.Attribute) else (func, "__call__")
        cls, cell = self.classes.get(self._class_of(owner), (None, 0))
        for stmt in cls.body if cls else []:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == method:
                return stmt, cell, 1
        return None

    def _call_function(self, call: ast.Call, fn: ast.FunctionDef | ast.AsyncFunctionDef, cell: int,
                       skip: int) -> None:
        """Follow a call to a notebook function into its body, parameters tainted like the arguments."""
        params = [a.arg for a in fn.args.posonlyargs + fn.args.args][skip:]
        bound = {p: self._taint(a) for p, a in zip(params, call.args)}
        if fn.args.vararg and len(call.args) > len(params):
            bound[fn.args.vararg.arg] = _union(*(self._taint(a) for a in call.args[len(params):]))
        named = set(params) | {a.arg for a in fn.args.kwonlyargs}
        for kw in call.keywords:
            if kw.arg in named:
                bound[kw.arg] = self._taint(kw.value)
            elif fn.args.kwarg:
                bound[fn.args.kwarg.arg] = _union(bound.get(fn.args.kwarg.arg, {}), self._taint(kw.value))
        key = (id(fn), tuple(sorted((p, tuple(sorted(t))) for p, t in bound.items())))
        if key not in self.walked:  # without this, calls inside nested loops multiply the walks
            self.walked.add(key)
            this = call.func.value if isinstance(call.func, ast.Attribute) else call.func
            self._walk_function(fn, bound, cell, effects=True, skip=skip, this=this)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.aliases[alias.asname or alias.name.split(".")[0]] = \
                    alias.name if alias.asname else alias.name.split(".")[0]
                if _is_internal(alias.name):
                    self._internal(node, alias.name)
            return
        module = node.module or ""
        if node.level:  # a relative import is the student's own package
            return
        for alias in node.names:
            if alias.name == "*":
                if module.split(".")[0] == "course":
                    self.star_internal |= {n for n in _INTERNAL if not n.startswith("_")}
                if _is_internal(module):
                    self._internal(node, module)
                continue
            path = f"{module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = path
            if _is_internal(path):
                self._internal(node, path)

    def _internal(self, node: ast.AST, path: str) -> None:
        self._report("internal-access", node,
                     f"`{_snip(node)}` reaches the harness internal `{path}`, which bypasses the logged student "
                     "API (load_course_data, evaluate, final_evaluation) and can read the test split.")

    # ------------------------------------------------------------ expressions and the rules on calls

    def _expr(self, node: ast.expr | None, choosing: bool = False) -> None:
        """Check every call, internal reference and comprehension inside `node`.

        `choosing` marks values that are kept (assigned, tested, returned): only there is a
        max/min/sorted over test numbers a choice."""
        if node is None:
            return
        if isinstance(node, ast.Attribute):
            path = self._dotted(node, imported_only=True)
            if path and _is_internal(path):
                self._internal(node, path)
                return
        elif isinstance(node, ast.Name) and node.id in self.star_internal:
            self._internal(node, f"course.api.{node.id}")
        elif isinstance(node, ast.Subscript):
            self._subscript_check(node, choosing)
        elif isinstance(node, ast.Lambda):
            self._walk_function(node, {}, self.cell, effects=False)
            return
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self._comprehension(node, choosing)
            return
        elif isinstance(node, ast.Call):
            self._call(node, choosing)
        for child in self._children(node):
            self._expr(child, choosing)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                       choosing: bool) -> None:
        self.loop_depth += 1
        self.scopes.append(_Scope({}))
        try:
            for gen in node.generators:
                self._expr(gen.iter, choosing)
                self._assign(gen.target, None, taint=self._taint(gen.iter))
                for condition in gen.ifs:
                    self._expr(condition, choosing)
            for part in [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]:
                self._expr(part, choosing)
        finally:
            self.scopes.pop()
            self.loop_depth -= 1

    def _subscript_check(self, node: ast.Subscript, choosing: bool) -> None:
        inner = node.value.value if isinstance(node.value, ast.Attribute) else node.value  # x[...], x.iloc[...]
        if isinstance(inner, ast.Call) and _last(inner.func) == "train_test_split":
            self.subsamples.add(id(inner))  # one part kept, the rest dropped
        if choosing and isinstance(inner, ast.Call) and _last(inner.func) in _SORTERS:
            self._check_selector(inner, inner.func.value if isinstance(inner.func, ast.Attribute) else None)
        base, key = self._dotted(node.value), _const(node.slice)
        if base == "os.environ" and isinstance(key, str) and _CACHE_TEXT.search(key):
            self._report("internal-access", node,
                         f"`{_snip(node)}` looks up where the course's raw data lives, to read it around the "
                         "logged split store.")
        elif base == "sys.modules" and self._module_path(node.slice):
            self._report("internal-access", node,
                         f"`{_snip(node)}` reaches a harness module through sys.modules, the usual first step "
                         "to patching it.")

    def _call(self, call: ast.Call, choosing: bool) -> None:
        func, last = call.func, _last(call.func)
        receiver = func.value if isinstance(func, ast.Attribute) else None
        if last in _HUB_LOADERS or self._hub_download(call, last):
            self._report("hub-dataset", call,
                         f"`{_snip(call)}` downloads a hub dataset; the course's hub copy includes the test "
                         "split with labels, so test data can reach training or selection.")
        self._check_strings(call, last, receiver)
        self._check_patching(call, last)
        if last == "final_evaluation":
            self._final(call)
        elif not isinstance(func, ast.Lambda) and self._notebook_function(func):
            if self.loop_depth and last in self.calls_final:
                self._report("final-eval-in-loop", call,
                             f"`{_snip(call)}` runs final_evaluation (inside `{last}`) in a loop; the test "
                             "evaluation must run once, after every choice is made.")
            self._call_function(call, *self._notebook_function(func))
        self._check_training(call, last, receiver)
        self._check_eval(call, last)
        self._check_resplit(call, last, receiver)
        if choosing and last in _PICKERS:
            self._check_selector(call, receiver)
        if last in _MUTATORS and receiver is not None and _root(receiver) is not None:
            self._mutate(_root(receiver).id, self._args_taint(call), call)
        if self.capture and last in _DUMPS:
            self._escape(self._args_taint(call), call, "a file")
        if self.function_depth == 0 and self.position > self.first_final and (
                _is_training_call(call) or isinstance(func, ast.Name) and func.id in self.trains):
            first = self.cells[self.first_final][0]
            self._report("final-eval-before-training-ends", call,
                         f"`{_snip(call)}` trains in a cell run after final_evaluation (cell {first}); training "
                         "must be finished before the one final evaluation.")

    def _args_taint(self, call: ast.Call) -> Taint:
        return _union(*(self._taint(a) for a in call.args), *(self._taint(kw.value) for kw in call.keywords))

    def _check_strings(self, call: ast.Call, last: str, receiver: ast.expr | None) -> None:
        """Hub files, the course's raw files and cache, hand-written run records, COURSE_* settings."""
        if last in _PRINTS:
            return
        for arg in call.args + [kw.value for kw in call.keywords]:
            text = self._text(arg) or ""
            if _HUB_TEXT.search(text):
                self._report("hub-dataset", call,
                             f"`{_snip(call)}` reads the hub dataset's files, which include the test split "
                             "with labels.")
            elif _CACHE_TEXT.search(text):
                self._report("internal-access", call,
                             f"`{_snip(call)}` reads the course's raw data or cache directly, around the logged "
                             "split store (the raw files hold the test split).")
            elif _RUNS_FILE.search(text) and self._writes(call, last, arg):
                self._runs_write(call)
        if receiver is not None and _RUNS_FILE.search(self._text(receiver) or "") and (
                last in ("write_text", "write_bytes", "touch", "symlink_to", "hardlink_to")
                or last == "open" and any(c in str(_const(_kwarg(call, "mode", 0))) for c in "wax+")):
            self._runs_write(call)
        if last == "putenv" or last in ("update", "setdefault") and self._dotted(receiver) == "os.environ":
            keys = [str(_const(a)) for a in call.args] + [str(kw.arg) for kw in call.keywords]
            keys += [str(_const(k)) for a in call.args if isinstance(a, ast.Dict) for k in a.keys]
            if any(k.startswith("COURSE_") for k in keys):
                self._report("internal-access", call,
                             f"`{_snip(call)}` sets a harness setting from the notebook; COURSE_* settings "
                             "(mode, data, runs) belong to the harness, and grading mode hides test labels.")

    @staticmethod
    def _writes(call: ast.Call, last: str, arg: ast.expr) -> bool:
        if last == "open":
            return any(c in str(_const(_kwarg(call, "mode", 1))) for c in "wax+")
        if last in ("copy", "copyfile", "copy2", "copytree", "move", "rename", "replace", "symlink", "link"):
            return arg is _kwarg(call, "dst", 1)
        return last in ("save", "savez", "savez_compressed", "dump", "to_json", "to_csv", "write_record")

    def _runs_write(self, call: ast.Call) -> None:
        self._report("internal-access", call,
                     f"`{_snip(call)}` writes a run record by hand; records must come from final_evaluation, "
                     "which is what the grader trusts.")

    def _check_patching(self, call: ast.Call, last: str) -> None:
        """setattr / mock.patch on course or grader, getattr of an internal, importlib of an internal."""
        first = call.args[0] if call.args else None
        if last in ("setattr", "delattr", "patch", "object") and first is not None and self._module_path(first):
            self._report("internal-access", call,
                         f"`{_snip(call)}` patches `{self._module_path(first)}`, which can change what the "
                         "harness evaluates or records.")
        elif last == "getattr" and len(call.args) > 1 and self._module_path(first) \
                and _is_internal(f"{self._module_path(first)}.{_const(call.args[1])}"):
            self._internal(call, f"{self._module_path(first)}.{_const(call.args[1])}")
        elif last in ("import_module", "__import__") and isinstance(_const(first), str) and _is_internal(first.value):
            self._internal(call, first.value)

    def _check_training(self, call: ast.Call, last: str, receiver: ast.expr | None) -> None:
        if last.endswith("Trainer"):
            for position, name in ((3, "train_dataset"), (4, "eval_dataset")):
                data = _kwarg(call, name, position)
                if data is not None:
                    self._dataset_use(call, name, self._taint(data))
            return
        if receiver is not None and last == "backward":
            t = _union(self._taint(receiver), self._args_taint(call))
            if "test" in _splits(t):
                self._report("train-on-test", call,
                             f"`{_snip(call)}` back-propagates a loss computed on test data "
                             f"({_origin_of(t, 'test')}).")
            return
        if receiver is None:
            if last in self.functions or not (last == "build_vocab_from_iterator" or _TRAIN_NAME.search(last)) \
                    or "split" in last:
                return
            t = self._args_taint(call)  # an imported train(...) helper, or torchtext's vocabulary builder
            if last == "build_vocab_from_iterator":
                self._fit_on_eval(call, "a vocabulary", t)
            elif "test" in _splits(t):
                self._report("train-on-test", call,
                             f"`{_snip(call)}` trains with test data ({_origin_of(t, 'test')}).")
            return
        if last not in _FIT_METHODS:
            return
        data = call.args + [kw.value for kw in call.keywords if kw.arg not in _EVAL_KWARGS | {"callbacks"}]
        if not data:  # model.train(), trainer.train(): the data was fixed earlier and checked there
            return
        t = _union(*(self._taint(d) for d in data))
        splits, cls = _splits(t), self._class_of(receiver)
        calibrator = bool(_CALIBRATOR.search(f"{cls} {_snip(receiver)}"))
        if _LABEL_ENCODER.match(cls):
            if splits & {"val", "test"}:
                split = "test" if "test" in splits else "val"
                self._report("label-encoder-all", call,
                             f"`{_snip(call)}` fits a label encoder on labels that include the {split} split "
                             f"({_origin_of(t, split)}); the label set must come from the course (LABELS).")
        elif (last in _PREPROCESSING_ONLY or _PREPROCESSOR.search(cls)) and not calibrator:
            self._fit_on_eval(call, f"`{cls}`" if cls else "preprocessing", t)
        elif "test" in splits:
            self._report("train-on-test", call,
                         f"`{_snip(call)}` trains on data derived from the test split ({_origin_of(t, 'test')}).")
        elif "val" in splits and not calibrator:
            self._report("train-on-val", call,
                         f"`{_snip(call)}` trains on data derived from the val split ({_origin_of(t, 'val')}), so "
                         "val no longer measures generalisation or guides selection honestly.")
        for kw in call.keywords:
            if kw.arg in _EVAL_KWARGS:
                self._dataset_use(call, "eval_dataset", self._taint(kw.value))

    def _fit_on_eval(self, call: ast.Call, what: str, t: Taint) -> None:
        splits = _splits(t) & {"val", "test"}
        if splits:
            split = "test" if "test" in splits else "val"
            self._report("fit-on-eval", call,
                         f"`{_snip(call)}` fits {what} on data that includes the {split} split "
                         f"({_origin_of(t, split)}), leaking its statistics into preprocessing.")

    def _dataset_use(self, node: ast.AST, role: str, t: Taint) -> None:
        """A trainer's train_dataset / eval_dataset (or a fit's validation data) being set to `t`."""
        splits = _splits(t)
        if role == "train_dataset" and "test" in splits:
            self._report("train-on-test", node,
                         f"`{_snip(node)}` trains on data derived from the test split ({_origin_of(t, 'test')}).")
        elif role == "train_dataset" and "val" in splits:
            self._report("train-on-val", node,
                         f"`{_snip(node)}` trains on data derived from the val split ({_origin_of(t, 'val')}), so "
                         "val no longer measures generalisation or guides selection honestly.")
        elif role == "eval_dataset" and "test" in splits:
            stopping = " and picks the checkpoint or stops early on it" if self.best_at_end or \
                "EarlyStopping" in ast.unparse(node) else ""
            self._report("eval-on-test", node,
                         f"`{_snip(node)}` evaluates on test data during training ({_origin_of(t, 'test')})"
                         f"{stopping}, so the test score is no longer an unbiased estimate.")

    def _check_eval(self, call: ast.Call, last: str) -> None:
        if last in _METRICS:
            t = self._args_taint(call)
            if "test" in _splits(t):
                self._report("eval-on-test", call,
                             f"`{_snip(call)}` scores test data ({_origin_of(t, 'test')}) outside "
                             "final_evaluation; any decision after it is a decision on test.")

    def _check_resplit(self, call: ast.Call, last: str, receiver: ast.expr | None) -> None:
        if last == "train_test_split":
            parts = call.args + ([receiver] if receiver is not None else [])
            splits = _splits(_union(*(self._taint(p) for p in parts)))
            # halving val to fit a temperature (weeks 4-5) is course practice; so is a stratified subsample
            if splits != {"val"} and (id(call) not in self.subsamples or len(splits) > 1):
                self._report("resplit", call,
                             f"`{_snip(call)}` draws new splits{self._mix_note(splits)}; the course's train/val/"
                             "test split is fixed so every number is comparable.")
        elif last == "split" and receiver is not None and _SPLITTER.search(self._class_of(receiver)) \
                or last in ("cross_val_score", "cross_validate", "cross_val_predict"):
            splits = self._mixture(call.args)
            if len(splits) > 1:
                self._report("resplit", call,
                             f"`{_snip(call)}` cross-validates over pooled splits{self._mix_note(splits)}; the "
                             "course's train/val/test split is fixed.")
        elif last in ("concatenate_datasets", "interleave_datasets", "concat", "ConcatDataset"):
            first = call.args[0] if call.args else None
            pieces = first.elts if isinstance(first, (ast.List, ast.Tuple)) else call.args
            splits = self._mixture(pieces)
            if len(splits) > 1:
                self._report("resplit", call,
                             f"`{_snip(call)}` pools the splits{self._mix_note(splits)}; the course's "
                             "train/val/test split is fixed so every number is comparable.")

    def _mixture(self, pieces: list[ast.expr]) -> set[str]:
        return set().union(*(_splits(self._taint(p)) | _name_splits(p) for p in pieces))

    @staticmethod
    def _mix_note(splits: set[str]) -> str:
        named = [s for s in ("train", "val", "test") if s in splits]
        return f" from {' + '.join(named)}" if named else ""

    def _check_selector(self, call: ast.Call, receiver: ast.expr | None) -> None:
        extra = call.args[1:] if receiver is None else call.args
        if any(kw.arg in ("axis", "dim") for kw in call.keywords) or any(
                isinstance(_const(a), int) or isinstance(a, ast.UnaryOp) for a in extra):
            return  # argmax over classes (logits.argmax(-1)) predicts; it does not choose
        t = _union(self._args_taint(call), self._taint(receiver) if receiver is not None else {})
        if "test" in _splits(t) or "final" in t and (self.loop_depth or self.function_depth):
            self._select_on_test(call, t)

    def _choice(self, stmt: ast.If | ast.While) -> None:
        compares = [n for n in ast.walk(stmt.test) if isinstance(n, ast.Compare)] or [stmt.test]
        t = _union(*(self._taint(c) for c in compares))
        in_loop = self.loop_depth or self.function_depth or isinstance(stmt, ast.While)
        if ("test" in _splits(t) or "final" in t and in_loop) and _chooses(stmt):
            self._select_on_test(stmt.test, t)

    def _select_on_test(self, node: ast.AST, t: Taint) -> None:
        source = _origin_of(t, "test") if "test" in _splits(t) else \
            f"final_evaluation's result, {_origin_of(t, 'final')}"
        self._report("select-on-test", node,
                     f"`{_snip(node)}` chooses a model, epoch or setting with a test-derived value ({source}), "
                     "so the final test score is no longer an unbiased estimate.")

    def _final(self, call: ast.Call) -> None:
        if self.loop_depth:
            self._report("final-eval-in-loop", call,
                         f"`{_snip(call)}` runs final_evaluation in a loop; the test evaluation must run once, "
                         "after every choice is made.")
        run = _kwarg(call, "run", 1)
        run = _const(run) if isinstance(_const(run), str) else self.strings.get(getattr(run, "id", ""))
        if run is not None:
            first, cell = self.final_runs.setdefault(run, (call, self.cell))
            if first is not call:
                self._report("final-eval-repeated", call,
                             f"`{_snip(call)}` repeats final_evaluation for run {run!r} (first at cell {cell}, "
                             f"line {first.lineno}); each repeat is another look at test.")
        predict = _kwarg(call, "predict", 0)
        target = self._notebook_function(predict) if predict is not None else None
        if target is None:
            return
        fn, cell, skip = target
        params = [a.arg for a in fn.args.posonlyargs + fn.args.args][skip:]
        name = "the predict lambda" if isinstance(predict, ast.Lambda) else f"`{_snip(predict, 40)}`"
        if params:
            texts = {"captured": f"the texts final_evaluation passes to {name} at cell {self.cell}, "
                                 f"line {call.lineno}"}
            this = predict.value if isinstance(predict, ast.Attribute) else predict
            self._walk_function(fn, {params[0]: texts}, cell, effects=True, capture=name, skip=skip, this=this)
