"""cnbench: a Chinese NLP benchmark harness for fine-tuning BERT-family encoders with strict metrics."""

from cnbench.models.registration import install as _register_nezha

__version__ = "0.1.0"

# Cheap: imports neither torch nor transformers; NEZHA joins the Auto classes when transformers loads them.
_register_nezha()
