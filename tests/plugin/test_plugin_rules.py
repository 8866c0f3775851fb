"""The ``resplay`` fixture's scripting surface: rules, strict mode and scenarios, failures at ``check()``."""

from __future__ import annotations

from plugin_helpers import Project

pytest_plugins = ["pytester"]


def test_rules_strict_mode_and_scenarios_in_the_fixture(project: Project) -> None:
    project.write(
        "test_rules.py",
        """
        import openai, pytest
        from mockserver import rules as R

        def test_rule_answers(resplay, openai_client):
            resplay.rule(R.input_contains("capital") & R.model("gpt-5"), "Paris.")
            assert openai_client.responses.create(model="gpt-5", input="capital?").output_text == "Paris."
            resplay.check()

        def test_strict_unmatched_fails_at_check(resplay, openai_client):
            resplay.strict()
            with pytest.raises(openai.BadRequestError, match="no scripted rule matched"):
                openai_client.responses.create(model="gpt-5", input="surprise")

        def test_unused_one_shot_rule_fails_at_check(resplay):
            resplay.rule(R.input_contains("never"), "unused", name="never asked")

        def test_scenario(resplay, openai_client):
            resplay.load_scenario("rules:\\n  - times: permanent\\n    reply: {text: from file}\\n")
            assert openai_client.responses.create(model="gpt-5", input="a").output_text == "from file"
        """,
    )
    result = project.run()
    result.assert_outcomes(passed=4, errors=2)
    output = result.stdout.str()
    assert "ERROR at teardown of test_strict_unmatched_fails_at_check" in output
    assert "strict mode: no rule matched request model='gpt-5' turn=0 input='surprise'" in output
    assert "ERROR at teardown of test_unused_one_shot_rule_fails_at_check" in output
    assert "scripted rules never used: never asked" in output
