"""The paper's associative retrieval: data, classifiers, training loop and train.assoc."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fw_agents.supervised import assoc
from fw_agents.supervised.models import SequenceClassifier, fit
from train import assoc as assoc_cli
from train._cli import run_cli


def test_assoc_format_matches_the_paper():
    tokens, targets = assoc.generate(500, num_pairs=4, seed=0)
    assert tokens.shape == (500, 11) and targets.shape == (500,)
    assert len(assoc.VOCAB) == 37
    for row, target in zip(tokens, targets, strict=True):
        text = assoc.decode(row)
        keys, values = text[0:8:2], text[1:8:2]
        assert len(set(keys)) == 4 and keys.isalpha() and values.isdigit()
        assert text[8:10] == "??" and text[10] in keys
        assert assoc.answer(text) == target  # the answer is always recoverable from the sequence
    assert assoc.answer("c9k8j3f1??c") == 9


def test_assoc_splits_are_deterministic_and_distinct():
    a, _ = assoc.split("valid", seed=3)
    b, _ = assoc.split("valid", seed=3)
    c, _ = assoc.split("test", seed=3, size=10_000)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == (assoc.SPLITS["valid"], 11)
    with pytest.raises(ValueError, match="num_pairs"):
        assoc.generate(3, num_pairs=27)


@pytest.mark.parametrize("core", ["fw", "fw-rnn", "lstm", "irnn", "alstm"])
def test_classifier_shapes(core):
    model = SequenceClassifier(core, 37, 20, 10, tokens=True)
    assert model(torch.zeros(5, 11, dtype=torch.long)).shape == (5, 10)


def test_tiny_fast_weight_model_learns_two_pair_retrieval():
    """K = 2: chance is 90% error; a small fast-weight model gets well below it in seconds."""
    torch.manual_seed(0)
    data = {name: assoc.to_tensors(*assoc.split(name, num_pairs=2, size=4000)) for name in assoc.SPLITS}
    model = SequenceClassifier("fw", 37, 32, 10, tokens=True, embed_dim=32, readout_hidden=32)
    result = fit(model, data["train"], data["valid"], data["test"], epochs=6, batch_size=64, lr=3e-3, eval_every=100)
    assert result.test_error < 0.6


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--core", "transformer"], "unknown core 'transformer'"),
        (["--core", "lstm", "--inner-steps", "2"], "--inner-steps only apply to --core fw-rnn or fw-paper"),
        (["--core", "fw", "--decay", "0.9"], "--decay only apply to --core fw-rnn or fw-paper"),
        (["--hidden", "0"], "must be positive"),
        (["--num-pairs", "30"], "num_pairs"),
    ],
)
def test_assoc_cli_bad_input(argv, message, capsys):
    assert run_cli(assoc_cli.main, argv) == 2
    assert message in capsys.readouterr().err


def test_assoc_cli_runs_and_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["--core", "fw", "--hidden", "8", "--epochs", "0.2", "--train-size", "2000", "--json", str(out)]
    assert run_cli(assoc_cli.main, argv) == 0
    assert "test error" in capsys.readouterr().out
    import json

    figures = json.loads(out.read_text())
    assert 0.0 <= figures["test_error"] <= 1.0 and figures["curve"]
