"""The retrieval eval behind ``same-same eval CAPTIONS.csv`` (and ``bench/relevance.py``).

``read_captions`` reads a captions file, ``run_eval`` ingests its images into a
store of its own and measures text->image and image->text recall, duplicate
detection and the "no good match" error rates; ``write_captioned_set`` writes the
generated set CI measures with the bundled tiny model.
"""

from .captions import CaptionSet, read_captions
from .generated import write_captioned_set
from .off_topic import OFF_TOPIC_QUERIES
from .runner import EVAL_NAMESPACE, EvalOptions, EvalReport, run_eval

__all__ = [
    "EVAL_NAMESPACE",
    "OFF_TOPIC_QUERIES",
    "CaptionSet",
    "EvalOptions",
    "EvalReport",
    "read_captions",
    "run_eval",
    "write_captioned_set",
]
