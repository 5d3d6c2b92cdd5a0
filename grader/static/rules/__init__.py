"""The static rules, in the order the analysis runs them.

A new rule: a class in a new module here, decorated with `@rule(...)`, whose docstring says why the
pattern is a leak and which overrides the events it checks (base.py); add it to `ALL`, and its
fixture notebooks (leaky and honest) under tests/fixture_notebooks/static/rules/.
"""

from grader.static.rules.base import Rule
from grader.static.rules.capture import CapturedTexts
from grader.static.rules.evaluation import EvalOnTest
from grader.static.rules.final import FinalEvalBeforeTrainingEnds, FinalEvalInLoop
from grader.static.rules.hub import HubDataset
from grader.static.rules.internal import InternalAccess
from grader.static.rules.reference import ReferenceSolutions
from grader.static.rules.repeated import FinalEvalAfterTestTraining, FinalEvalRepeated
from grader.static.rules.resplit import InnerSplit, Resplit
from grader.static.rules.rows import CvSelectionOnHeldOut, FitBeforeSplit, Overlap
from grader.static.rules.selection import SelectOnTest
from grader.static.rules.syntax import Unreadable
from grader.static.rules.test_time import TestTimeTraining
from grader.static.rules.training import FitOnEval, LabelEncoderAll, TrainOnTest, TrainOnVal

# Most severe first: findings at the same line are listed in this order.
ALL: list[type[Rule]] = [
    HubDataset,
    InternalAccess,
    CapturedTexts,
    TrainOnTest,
    TestTimeTraining,
    Overlap,
    EvalOnTest,
    SelectOnTest,
    CvSelectionOnHeldOut,
    FinalEvalAfterTestTraining,  # critical
    Resplit,
    FitOnEval,
    FitBeforeSplit,
    TrainOnVal,
    FinalEvalInLoop,
    FinalEvalBeforeTrainingEnds,
    ReferenceSolutions,  # major
    LabelEncoderAll,
    FinalEvalRepeated,  # minor
    InnerSplit,
    Unreadable,  # info
]
