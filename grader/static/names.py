"""The name tables: which functions, methods, classes and strings the static rules recognise.

Plain constants, read by the taint engine and the rules alike. A name in a table is a promise about
what a call does to data (fits on it, copies it, scores it, ...), judged from the name alone: the
analysis never imports the student's libraries.
"""

from __future__ import annotations

import re

# Parts of `course` a student must not touch: they bypass the logged split store or the run record.
INTERNAL = {
    "catalog",
    "sources",
    "splits",
    "access",
    "synthetic",
    "runrecord",
    "store",
    "_store",
    "configured",
    "SplitStore",
    "cached_course",
    "open_course",
    "config_for",
    "load_raw",
}
HUB_LOADERS = {"load_dataset", "load_dataset_builder"}
# Calls that read a whole dataset of the notebook's own (a frame, a file): the rows a split later divides.
ROW_LOADERS = {
    "read_csv",
    "read_table",
    "read_parquet",
    "read_json",
    "read_excel",
    "read_feather",
    "read_pickle",
    "read_sql",
    "load_from_disk",
    "load_files",
    "fetch_20newsgroups",
    "loadtxt",
    "genfromtxt",
}
# Calls that divide rows into a kept and a held-out part, and calls that cross-validate over rows.
SPLIT_CALLS = {"train_test_split", "random_split", "iterative_train_test_split"}
CV_CALLS = {
    "cross_val_score",
    "cross_validate",
    "cross_val_predict",
    "learning_curve",
    "validation_curve",
    "permutation_test_score",
}
# Calls whose result repeats rows: oversamplers, bootstrap resampling.
RESAMPLERS = {"fit_resample", "fit_sample", "resample", "upsample", "oversample"}
POOLS = {"concat", "concatenate_datasets", "concatenate", "vstack", "append", "ConcatDataset", "interleave_datasets"}
FIT_METHODS = {
    "fit",
    "partial_fit",
    "train",
    "fit_transform",
    "adapt",
    "train_new_from_iterator",
    "train_from_iterator",
    "build_vocab",
    "fit_on_texts",
}
PREPROCESSING_ONLY = FIT_METHODS - {"fit", "partial_fit", "train"}
EVAL_KWARGS = {"validation_data", "eval_set", "evals", "valid_sets", "eval_dataset"}
METRICS = {
    "evaluate",
    "f1_score",
    "accuracy_score",
    "precision_score",
    "recall_score",
    "classification_report",
    "confusion_matrix",
    "precision_recall_fscore_support",
    "balanced_accuracy_score",
    "log_loss",
    "roc_auc_score",
    "top_k_accuracy_score",
    "matthews_corrcoef",
    "cohen_kappa_score",
    "summary",
    "score",
    "compute",
}
PICKERS = {"max", "min", "argmax", "argmin", "nanargmax", "nanargmin", "idxmax", "idxmin"}
SORTERS = {"sorted", "sort_values", "nlargest", "nsmallest", "most_common"}  # pick only when indexed: [0], [-1]
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "appendleft", "extendleft", "put"}
DUMPS = {
    "dump",
    "save",
    "savez",
    "to_csv",
    "to_json",
    "to_parquet",
    "to_pickle",
    "write",
    "writelines",
    "write_text",
    "save_to_disk",
}
SAVES = {"save", "save_pretrained", "save_model", "load_state_dict", "state_dict", "deepcopy", "clone"}
# Model outputs are not the texts: only these calls keep the "captured" taint of predict's input.
COPIES = {
    "list",
    "tuple",
    "set",
    "dict",
    "sorted",
    "reversed",
    "iter",
    "zip",
    "enumerate",
    "map",
    "filter",
    "copy",
    "deepcopy",
    "array",
    "asarray",
    "Series",
    "DataFrame",
    "from_dict",
    "from_list",
    "str",
    "join",
    "tolist",
    "to_list",
    "items",
    "values",
    "keys",
    "concatenate",
    "chain",
}
# Methods whose result does not carry the receiver's data: a fitted vectorizer applied to val is val.
APPLY = {
    "transform",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "encode",
    "encode_plus",
    "batch_encode_plus",
    "kneighbors",
}
PRINTS = {"print", "display", "Markdown", "HTML", "info", "debug", "warning", "log"}
# Calls that build or look up a path: the data comes from the call that reads the path, not from these.
PATH_CALLS = {
    "Path",
    "PurePath",
    "join",
    "joinpath",
    "glob",
    "iglob",
    "rglob",
    "expanduser",
    "abspath",
    "resolve",
    "absolute",
    "fspath",
    "str",
    "sorted",
    "list",
    "exists",
    "is_file",
    "isfile",
    "isdir",
    "listdir",
    "get",
    "getenv",
}

PREPROCESSOR = re.compile(
    r"(Vectorizer|Scaler|Encoder|Binarizer|Tokenizer|TokenizerFast|Imputer|Normalizer|PCA|SVD|NMF|"
    r"ColumnTransformer|FunctionTransformer|QuantileTransformer|PowerTransformer|SelectKBest|"
    r"SelectPercentile|Discretizer|Vocab\w*|Word2Vec|FastText|Doc2Vec|TextVectorization|Normalization|"
    r"StringLookup|IntegerLookup)$"
)
LABEL_ENCODER = re.compile(r"^(LabelEncoder|LabelBinarizer|MultiLabelBinarizer)$")
CALIBRATOR = re.compile(r"temperature|calibrat|isotonic|platt", re.I)  # fitting T on val is course practice
SPLITTER = re.compile(r"(KFold|ShuffleSplit|LeaveOneOut|PredefinedSplit)$")
SEARCH_CV = re.compile(r"(SearchCV|CV)$")  # GridSearchCV, LogisticRegressionCV: their fit selects by CV
TRAIN_NAME = re.compile(r"^(train|fit)(_|$)|_(train|fit)$")
CHOICE_NAME = re.compile(r"best|chosen|choice|select|winner|optimal|patience|stop|top", re.I)
RUNS_FILE = re.compile(r"(^|/)runs/+[^/]*\.(json|npz)$")
# The hub copy by address or by the course dataset's id; never by a file name (a local
# consumer_complaints.csv is the notebook's own file).
HUB_TEXT = re.compile(r"^hf://datasets/|huggingface\.co/datasets/|^(datasets/)?determined-ai/consumer_complaints")
CACHE_TEXT = re.compile(r"course-harness|COURSE_CACHE|COURSE_DATA_DIR|(^|/)(synthetic|raw)/.*\.(parquet|csv|jsonl)$")
TEST_FILE = re.compile(r"(^|/)test\.(parquet|csv|jsonl|json|arrow)$")


def is_internal(path: str) -> bool:
    """Whether a dotted path (`course.api.store`) names a harness internal."""
    parts = path.split(".")
    return parts[0] == "course" and any(p in INTERNAL for p in parts[1:3])
