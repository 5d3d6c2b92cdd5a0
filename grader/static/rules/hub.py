"""hub-dataset: the notebook reads the public hub copy of the course's data."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.names import HUB_LOADERS, HUB_TEXT, PRINTS
from grader.static.nodes import arguments, last, snip
from grader.static.rules.base import Rule, rule

if TYPE_CHECKING:
    from grader.static.walk import Walk


@rule("hub-dataset", severity="critical", summary="loads the hub dataset, whose copy has the test labels")
class HubDataset(Rule):
    """The course's data is a public hub dataset, and its copy includes the test split with labels.
    The course's loader serves train and val and keeps test for final_evaluation; a notebook that
    downloads the hub copy (any hub dataset, by loader, download or `hf://datasets/` path) holds the
    test labels, so they can reach training or selection without a trace in the access log. A
    plain notebook (no course API) has no other data: its hub copy is its dataset, judged by the
    row rules, and the grader's record checks fail it for want of a run record."""

    def call(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        name = last(call.func)
        if walk.plain:
            return
        if name in HUB_LOADERS or walk.hub_download(call, name):
            self.report(
                walk,
                call,
                f"`{snip(call)}` downloads a hub dataset; the course's hub copy includes the test "
                "split with labels, so test data can reach training or selection.",
            )
        if name not in PRINTS and any(HUB_TEXT.search(walk.text(arg) or "") for arg in arguments(call)):
            self.report(
                walk, call, f"`{snip(call)}` reads the hub dataset's files, which include the test split with labels."
            )
