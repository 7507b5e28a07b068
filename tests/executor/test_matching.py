from devcapsules.matching import json_equal, normalise_output, output_equal


def test_numbers_compare_with_tolerance_but_not_with_booleans():
    assert json_equal(0.1 + 0.2, 0.3)
    assert json_equal(3, 3.0)
    assert not json_equal(3, 4)
    assert not json_equal(1.0, 1.0001)
    assert not json_equal(True, 1)
    assert not json_equal(0, False)
    assert json_equal(1e-12, 0)  # absolute tolerance 1e-9
    assert json_equal(float("nan"), float("nan"))


def test_integers_compare_exactly_even_when_huge():
    assert not json_equal(10**20, 10**20 + 1)


def test_containers_compare_deeply():
    assert json_equal({"a": [1, 2.0, {"b": None}]}, {"a": [1, 2, {"b": None}]})
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert not json_equal([1, 2], [2, 1])
    assert not json_equal([1], [1, 1])
    assert not json_equal("1", 1)
    assert not json_equal(None, 0)


def test_output_ignores_trailing_whitespace_and_newlines_only():
    assert output_equal("3  \n\n\n", "3")
    assert output_equal("a\r\nb\t\r\n", "a\nb\n")
    assert not output_equal(" 3", "3")
    assert not output_equal("a\n\nb", "a\nb")
    assert normalise_output("x \ny \n\n") == "x\ny"
