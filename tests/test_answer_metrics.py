"""Answer accuracy: a reply is right when it states the gold answer, however it writes the numbers."""

from rag.core.numbers import normalize_numbers
from rag.eval.metrics import contains_answer


def test_numbers_compare_as_numbers() -> None:
    assert normalize_numbers("thirty Years and twenty-two knots") == "30 Years and 22 knots"
    assert normalize_numbers("18,000 litres, 1,200,000 m and 2\u20134 m") == "18000 litres, 1200000 m and 2-4 m"
    assert normalize_numbers("two hundred and forty-five days") == "245 days"
    assert normalize_numbers("one of the pumps") == "one of the pumps"  # a pronoun, not a figure


def test_a_reply_is_right_when_it_states_the_gold_answer() -> None:
    assert contains_answer("The station stores 18,000 litres of drinking water [1].", "18,000 litres")
    assert contains_answer("Boat launches stop above twenty-two knots.", "22 knots")
    assert contains_answer("The President serves for a term of Four Years.", "four years")
    assert contains_answer("Buoy B3 was deployed on 2 August 2023 [2].", "2 August 2023")
    assert not contains_answer("Buoy B3 was deployed on 14 May 2022 [2].", "2 August 2023")
    assert not contains_answer("It stores 180 litres.", "18,000 litres")
    assert not contains_answer("anything", "")


def test_a_decision_is_right_when_it_is_the_replys_decision() -> None:
    assert contains_answer("No. Nobody was hurt [1].", "no")
    assert contains_answer("Yes, the buoy was recovered two days later [2].", "Yes")
    assert not contains_answer("Yes, but there is no other transport [1].", "no")  # "no" is not its decision
    assert not contains_answer("The buoy was recovered [2].", "yes")  # no decision given


def test_units_are_spelt_one_way_and_parenthesised_gold_is_optional() -> None:
    assert contains_answer("Nobody may board above 0.8 meters.", "0.8 m (significant wave height)")
    assert contains_answer("It was set to 250 after the incident.", "250 (metres)")
    assert contains_answer("A dive lasts at most 40 min.", "40 minutes")
    assert not contains_answer("A dive lasts at most 40 hours.", "40 minutes")
    # parentheses that belong to the answer are no aside
    assert contains_answer("PostgreSQL takes float(1) to float(24) as real.", "float(1) to float(24)")
    assert not contains_answer("PostgreSQL takes float to float as real.", "float(1) to float(24)")
