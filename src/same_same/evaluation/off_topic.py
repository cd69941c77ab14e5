"""Held-out off-topic queries: what the eval asks to measure "no good match".

None of them is among the calibration's null queries (``relevance.null_set``; a
test checks it), so the false-positive rate is measured on queries the
calibration never saw. They are about things a photo collection of everyday
subjects, or of the generated coloured shapes, does not show.
"""

from __future__ import annotations

OFF_TOPIC_QUERIES: tuple[str, ...] = (
    "zebra on a motorbike",
    "a spreadsheet of quarterly sales figures",
    "a recipe for lasagna",
    "a cat asleep on a keyboard",
    "the eiffel tower at night",
    "a stock market chart crashing",
    "quantum physics lecture notes",
    "my grandmother's ninetieth birthday",
    "a dog catching a frisbee",
    "snow-capped mountains at dawn",
    "a man in a suit giving a speech",
    "a plate of sushi",
    "an old steam locomotive",
    "a hospital corridor",
    "children playing football in a park",
    "a bookshop window",
    "a hot air balloon festival",
    "a rusty anchor on a beach",
    "a dentist drilling a tooth",
    "the rings of saturn",
    "a pizza oven",
    "a violinist on a street corner",
    "a traffic warden writing a ticket",
    "a goldfish bowl",
    "a pair of scissors",
    "the sydney opera house",
    "a scuba diver and a turtle",
    "an electric guitar amplifier",
    "a crowd at a rock concert",
    "a loaf of sourdough bread",
    "a man shaving in a mirror",
    "a squirrel eating a nut",
    "a tractor ploughing a field",
    "a referee showing a red card",
    "a pharmacy shelf of medicines",
    "a bride throwing a bouquet",
    "a night market with lanterns",
    "a glass of red wine",
    "a broken smartphone screen",
    "a flock of sheep on a hillside",
)

__all__ = ["OFF_TOPIC_QUERIES"]
