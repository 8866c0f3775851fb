"""``--resplay-checklist``: the deployment-checklist section of the terminal summary (issue 13)."""

from __future__ import annotations

from plugin_helpers import Project

pytest_plugins = ["pytester"]

APP = """
    def test_sloppy(openai_client):
        openai_client.responses.create(model="gpt-5.5", input="hi")

    def test_tuned(openai_client, resplay):
        openai_client.responses.create(
            model="gpt-5.5", input="hi", reasoning={"effort": "low"}, text={"verbosity": "low"}
        )
        assert resplay.checklist(missed_only=True) == []
"""


def test_summary_lists_missed_checks_with_the_tests_that_missed_them(project: Project) -> None:
    project.write("test_app.py", APP)
    result = project.run("--resplay-checklist")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*resplay deployment checklist*",
            "MISSED in 1/2 tests: reasoning_effort_unset "
            "[[]Set up reasoning.effort; quality, cost, latency[]]",
            "*test_app.py::test_sloppy: reasoning.effort never set*",
        ]
    )


def test_summary_is_opt_in(project: Project) -> None:
    project.write("test_app.py", APP)
    result = project.run()
    result.assert_outcomes(passed=2)
    assert "resplay deployment checklist" not in result.stdout.str()
