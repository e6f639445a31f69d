"""Teach transformers' Auto classes about cnbench's NEZHA without paying for it at ``import cnbench``.

``install()`` (called by ``cnbench/__init__``) makes ``model_type: "nezha"`` resolve to
``NezhaConfig`` in ``AutoConfig``, ``NezhaModel`` in ``AutoModel``, ``NezhaForMaskedLM`` in
``AutoModelForMaskedLM`` and ``BertTokenizer`` in ``AutoTokenizer``. It imports neither torch nor
transformers itself: it puts a finder at the front of ``sys.meta_path``, and each registration runs
right after transformers' own auto module for it has finished executing, on first import:

- ``transformers.models.auto.configuration_auto`` -> ``AutoConfig.register``. This needs only the
  config module, which imports nothing that ``configuration_auto`` has not already imported, so it
  is safe however deep in transformers' import chain ``configuration_auto`` is first pulled in
  (``transformers.modeling_utils`` imports it half-way through its own body).
- ``transformers.models.auto.modeling_auto`` -> ``AutoModel.register`` and
  ``AutoModelForMaskedLM.register``. This imports ``cnbench.models.nezha`` (torch, and transformers'
  ``modeling_utils``, ``modeling_outputs``, ``activations``, ``initialization``), none of which
  imports ``modeling_auto`` at module level, so none is half-initialised at that point.
  ``AutoTokenizer`` imports ``modeling_auto`` too, so a tokenizer-only process pays this (~1 s) as well.
- ``transformers.models.auto.tokenization_auto`` -> ``AutoTokenizer.register``.

A module already imported when ``install()`` runs is registered on the spot. Once all are done the
finder removes itself, so later imports pay nothing. ``install()`` is idempotent. An error while
registering (e.g. a broken torch install) surfaces from the transformers import that triggered it.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Callable
from types import ModuleType

CONFIGURATION_AUTO = "transformers.models.auto.configuration_auto"
MODELING_AUTO = "transformers.models.auto.modeling_auto"
TOKENIZATION_AUTO = "transformers.models.auto.tokenization_auto"


def register_config(configuration_auto: ModuleType) -> None:
    from cnbench.models.configuration_nezha import NezhaConfig

    configuration_auto.AutoConfig.register(NezhaConfig.model_type, NezhaConfig, exist_ok=True)


def register_models(modeling_auto: ModuleType) -> None:
    from cnbench.models.nezha import NezhaConfig, NezhaForMaskedLM, NezhaModel

    modeling_auto.AutoModel.register(NezhaConfig, NezhaModel, exist_ok=True)
    modeling_auto.AutoModelForMaskedLM.register(NezhaConfig, NezhaForMaskedLM, exist_ok=True)


def register_tokenizer(tokenization_auto: ModuleType) -> None:
    # transformers lists "nezha" -> BertTokenizer by model type, but looks tokenizers up by config
    # class; without this a checkpoint folder holding only vocab.txt gets a generic backend that fails.
    from transformers.models.bert.tokenization_bert import BertTokenizer

    from cnbench.models.configuration_nezha import NezhaConfig

    tokenization_auto.AutoTokenizer.register(NezhaConfig, tokenizer_class=BertTokenizer, exist_ok=True)


_CALLBACKS = {
    CONFIGURATION_AUTO: register_config,
    MODELING_AUTO: register_models,
    TOKENIZATION_AUTO: register_tokenizer,
}


class _LoaderWithCallback(importlib.abc.Loader):
    """Delegates to the real loader, then hands the executed module to ``callback``."""

    def __init__(self, loader, callback: Callable[[ModuleType], None]):
        self._loader = loader
        self._callback = callback

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module, and anything introspecting it later, should only ever see the real loader.
        spec = module.__spec__
        assert spec is not None  # the import system sets it before exec_module
        module.__loader__ = spec.loader = self._loader
        self._loader.exec_module(module)
        self._callback(module)


class AfterImportHook(importlib.abc.MetaPathFinder):
    """Runs ``callbacks[name](module)`` once module ``name`` has been imported and executed.

    Callbacks are consumed when the module executes, not when its spec is found: a bare
    ``importlib.util.find_spec`` must not use them up.
    """

    def __init__(self, callbacks: dict[str, Callable[[ModuleType], None]]):
        self._pending = dict(callbacks)

    def find_spec(self, fullname, path, target=None):
        if fullname not in self._pending:
            return None
        spec = self._find_spec_elsewhere(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _LoaderWithCallback(spec.loader, self._run)
        return spec

    def _find_spec_elsewhere(self, fullname, path, target):
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def _run(self, module: ModuleType) -> None:
        callback = self._pending.pop(module.__name__, None)
        if not self._pending and self in sys.meta_path:
            sys.meta_path.remove(self)
        if callback is not None:
            callback(module)


def install() -> None:
    """Register NEZHA with the Auto classes now or as soon as transformers loads them (see module doc)."""
    if any(isinstance(finder, AfterImportHook) for finder in sys.meta_path):
        return
    pending = {}
    for name, callback in _CALLBACKS.items():
        module = sys.modules.get(name)
        if module is not None:
            callback(module)
        else:
            pending[name] = callback
    if pending:
        sys.meta_path.insert(0, AfterImportHook(pending))
