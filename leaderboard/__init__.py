"""The course's static site: leaderboards, season view, student feedback with memo observations,
the instructor's overview and exports, built from the grader's results (`leaderboard.site.build_site`)."""


def __getattr__(name):
    if name == "build_site":
        from leaderboard.site import build_site

        return build_site
    raise AttributeError(name)


__all__ = ["build_site"]
