"""Training rows in chunks through a shuffle buffer."""

from __future__ import annotations

import numpy as np
import pytest
from training_helpers import best_column_auc, binary_data, small_mlp

from needmap.metrics import binary_metrics
from needmap.preprocessing.batch import FeatureBatch
from needmap.training import TrainConfig, Trainer, predict_proba
from needmap.training.stream import TrainingStream, shuffled_batches


def chunked(batch: FeatureBatch, size: int):
    """chunks(rng) over ``batch`` in slices of ``size`` rows, slices in a random order."""

    def chunks(rng: np.random.Generator):
        starts = np.arange(0, len(batch), size)
        for start in rng.permutation(starts):
            index = np.arange(start, min(start + size, len(batch)))
            yield batch.take(index), index

    return chunks


def test_every_row_comes_out_once_in_batches_that_mix_chunks() -> None:
    batch, _ = binary_data(2500, seed=0)
    rng = np.random.default_rng(0)
    out = list(shuffled_batches(chunked(batch, 300)(rng), batch_size=128, buffer_rows=1000, rng=rng))
    positions = np.concatenate([p for _, p in out])
    assert np.array_equal(np.sort(positions), np.arange(2500))
    assert all(len(f) == 128 for f, _ in out[:-1]) and 0 < len(out[-1][0]) <= 128
    for features, index in out:  # each row's features travel with its position
        assert np.array_equal(features.numeric, batch.numeric[index])
        assert np.array_equal(features.categorical, batch.categorical[index])
        assert features.categorical.dtype == np.int64
    # A batch holds rows of several chunks (chunks of 300 consecutive rows; the buffer spans 3+ of them).
    assert max(len(np.unique(index // 300)) for _, index in out) >= 3
    # A buffer smaller than two batches holds two batches.
    out = list(shuffled_batches(chunked(batch, 300)(rng), batch_size=1000, buffer_rows=10, rng=rng))
    assert [len(f) for f, _ in out] == [1000, 1000, 500]


def test_the_order_changes_each_epoch_and_follows_the_seed() -> None:
    batch, _ = binary_data(1000, seed=0)
    stream = TrainingStream(1000, chunked(batch, 100), buffer_rows=400)

    def first_epochs(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [np.concatenate([p for _, p in stream.batches(64, rng)]) for _ in range(2)]

    one, again = first_epochs(1), first_epochs(1)
    assert all(np.array_equal(a, b) for a, b in zip(one, again, strict=True))
    assert not np.array_equal(one[0], one[1])


@pytest.mark.slow
def test_a_model_trained_on_a_stream_learns_as_one_trained_in_memory() -> None:
    train, y_train = binary_data(3000, seed=1)
    valid, y_valid = binary_data(1000, seed=2)
    config = TrainConfig(progress=False, threads=1, epochs=6, batch_size=128, lr=3e-3)
    aucs = {}
    for name, rows in (("memory", train), ("stream", TrainingStream(3000, chunked(train, 250), buffer_rows=1000))):
        model = small_mlp()
        result = Trainer(model, "binary", config).fit(rows, y_train, valid, y_valid)
        assert len(result.history) >= 3
        aucs[name] = binary_metrics(y_valid, predict_proba(model, valid))["auc"]
    reference = best_column_auc(train, y_train, valid, y_valid)
    assert aucs["stream"] > reference, (aucs, reference)
    assert abs(aucs["stream"] - aucs["memory"]) < 0.01


def test_a_stream_chunk_with_ids_out_of_range_is_an_error() -> None:
    from needmap.errors import DataError

    train, y_train = binary_data(600, seed=1)
    bad = FeatureBatch(train.numeric, train.categorical.copy())
    bad.categorical[5, 0] = 99
    stream = TrainingStream(600, chunked(bad, 200), buffer_rows=400)
    with pytest.raises(DataError, match="ids"):
        Trainer(small_mlp(), "binary", TrainConfig(progress=False, threads=1, epochs=1)).fit(stream, y_train)


def test_prefetching_gives_the_same_batches_and_passes_errors_on() -> None:
    batch, _ = binary_data(1200, seed=0)

    def epoch(prefetch: int) -> list[np.ndarray]:
        stream = TrainingStream(1200, chunked(batch, 100), buffer_rows=400, prefetch=prefetch)
        return [p for _, p in stream.batches(64, np.random.default_rng(5))]

    assert all(np.array_equal(a, b) for a, b in zip(epoch(0), epoch(2), strict=True))

    def failing(rng: np.random.Generator):
        yield batch.take(np.arange(100)), np.arange(100)
        raise OSError("disk gone")

    stream = TrainingStream(1200, failing, buffer_rows=400, prefetch=2)
    with pytest.raises(OSError, match="disk gone"):
        list(stream.batches(64, np.random.default_rng(0)))
    # A consumer that stops early (an error in a training step) leaves no thread behind.
    import threading

    batches = TrainingStream(1200, chunked(batch, 10), buffer_rows=200, prefetch=1).batches(
        64, np.random.default_rng(0)
    )
    next(batches)
    batches.close()
    assert not [t for t in threading.enumerate() if t.name == "needmap-prefetch"]
