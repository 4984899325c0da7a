"""FuxiCTR's own end-to-end path on a Criteo-shaped Parquet file, timed stage by stage (one speed case).

What a FuxiCTR 2.3.10 user runs, and what each figure of :class:`~benchmarks.speed_common.CaseResult`
covers (the split, sizes and field meanings are in benchmarks/speed_common.py):

* ``preprocess_s``: the steps of ``fuxictr.preprocess.build_dataset`` on the training rows.
  ``FeatureProcessor.read_data`` (a lazy Polars scan of the raw Parquet file), cut to the first 90% of
  the rows with a lazy ``slice`` (``build_dataset`` takes one file per split, and its own
  ``split_train_test`` indexes with pandas ``.loc``, which a lazy frame does not have), then
  ``FeatureProcessor.preprocess`` (fills the missing values), ``FeatureProcessor.fit``, and
  ``build_dataset``'s ``transform``. ``fit`` gathers its statistics in one Polars pass (token counts,
  numeric min/max/mean/std) and writes feature_map.json, feature_processor.pkl and
  feature_vocab.json. ``transform`` runs ``FeatureProcessor.transform`` in Ray Data ``map_batches``
  tasks and writes ``<data_dir>/train.parquet``. This figure includes starting the local Ray
  cluster, because FuxiCTR's ``transform`` and its Parquet data loader both need one. Features:
  I1..I13 ``numeric`` (nulls filled with 0, then FuxiCTR's ``normalizer: StandardScaler``, fitted on
  the training rows), C1..C26 ``categorical`` (nulls filled with "", a vocabulary of every training
  token: ``min_categr_count`` 1, FuxiCTR's default; unseen tokens get the OOV id), label ``label``.
* Setup between preprocessing and training (counted in ``end_to_end_s``): the feature map is loaded
  from feature_map.json (as FuxiCTR's run_expid.py does), the model is built, and
  ``RankDataLoader(data_format="parquet", shuffle=True)`` makes a Ray-Data ``ParquetDataLoader``.
* ``train_s``: ``BaseModel.fit(train_gen, epochs=epochs, validation_data=...)`` alone. FuxiCTR's
  ``fit`` cannot run without validation data: it evaluates once at the end of every epoch and then
  reloads its checkpoint. So it gets a tiny validation set: the first batch of training rows, through
  the fitted processor's ``preprocess`` and ``transform`` in this process (untimed).
  ``save_best_only=False``, ``reduce_lr_on_plateau=False`` and an early-stop patience above
  ``epochs`` keep training at exactly ``epochs`` passes with the last weights. Inside ``train_s`` are
  the per-epoch evaluation on that batch, the per-epoch checkpoint write (``torch.save``), the final
  checkpoint reload, the single-block ``random_shuffle`` of the Ray dataset each epoch, and FuxiCTR's
  default gradient clipping (norm 10).
* ``score_s``: the test rows (the last 10%) from the raw file to a scores file. Read and slice as
  above, ``preprocess``, ``transform`` with the fitted processor (Ray, writes test.parquet), a test
  ``RankDataLoader``, ``BaseModel.predict``, and a Parquet file of the scores.
* ``predict_rows_per_s``: ``BaseModel.predict`` alone on that test loader (rows already encoded).
* ``one_row_p50_ms`` / ``one_row_p99_ms``: FuxiCTR has no one-row predict API. Each raw row (a dict)
  becomes a one-row Polars frame with a placeholder label, then goes through the fitted processor's own
  ``preprocess`` and ``transform`` (the same functions its Ray tasks run), becomes tensors, and the
  model runs ``forward`` under ``torch.no_grad``.

Models: FuxiCTR's pip package has no model zoo, so :class:`DeepFM` and :class:`DCNv2` are
``BaseModel`` subclasses written after FuxiCTR's model_zoo DeepFM and DCNv2 (parallel, full-rank
CrossNetV2). They use its layers (``FeatureEmbedding``, ``FactorizationMachine`` (which holds a
``LogisticRegression``), ``MLP_Block``, ``CrossNetV2``), as benchmarks/peers/fuxictr_runner.py does.
FuxiCTR's own ``compile`` / ``reset_parameters`` / ``fit`` / ``predict`` run them.

Ray is started with ``num_cpus=threads``, so its tasks use at most the case's thread budget. It still
runs its own processes (GCS server, raylet, one worker per task slot) beside the torch threads of this
process. :func:`~benchmarks.speed_common.emit` reports this process's peak RSS and, apart, the largest
peak of the processes that ended (``RUSAGE_CHILDREN``: not their sum, and not Ray's shared-memory object
store). The training loader's
per-epoch shuffle is Ray's ``random_shuffle``, which FuxiCTR does not seed, so the row order (and the
AUC's last digits) varies from run to run. Only fp32 runs: FuxiCTR has no bf16 option, so a bf16 case
returns a result with no figures and a note saying so.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fuxictr.pytorch.models import BaseModel
from torch import nn

from benchmarks.speed_common import (
    BATCH_SIZE,
    CATEGORICAL,
    CROSS_LAYERS,
    EMBEDDING_DIM,
    HIDDEN,
    LABEL,
    LR,
    NUMERIC,
    CaseResult,
    auc,
    one_row_latency,
    raw_rows,
    split_rows,
    test_file,
    timed,
)

MODELS: tuple[str, ...] = ("deepfm", "dcnv2")
DATASET_ID = "criteo_like"
SEED = 0
NORMALIZER = "StandardScaler"  # FuxiCTR's numeric normalizers: StandardScaler or MinMaxScaler
FEATURE_COLS: list[dict[str, Any]] = [
    {"name": NUMERIC, "active": True, "dtype": "float", "type": "numeric", "fill_na": 0.0, "normalizer": NORMALIZER},
    {"name": CATEGORICAL, "active": True, "dtype": "str", "type": "categorical", "fill_na": ""},
]
LABEL_COL: dict[str, Any] = {"name": LABEL, "dtype": "float"}
# BaseModel settings: exactly `epochs` passes, no regularizers, last weights kept (see the docstring).
MODEL_PARAMS: dict[str, Any] = {
    "gpu": -1,
    "optimizer": "adam",
    "loss": "binary_crossentropy",
    "learning_rate": LR,
    "embedding_dim": EMBEDDING_DIM,
    "embedding_regularizer": None,
    "net_regularizer": None,
    "metrics": ["AUC"],
    "monitor": "AUC",
    "monitor_mode": "max",
    "save_best_only": False,
    "reduce_lr_on_plateau": False,
    "verbose": 0,
}


class DeepFM(BaseModel):
    """FuxiCTR's model_zoo DeepFM: ``sigmoid(LR + FM + MLP(flattened embeddings))``."""

    def __init__(self, feature_map: Any, learning_rate: float, embedding_dim: int, **kwargs: Any) -> None:
        from fuxictr.pytorch.layers import FactorizationMachine, FeatureEmbedding, MLP_Block

        super().__init__(feature_map, model_id="DeepFM", **kwargs)
        self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
        self.fm = FactorizationMachine(feature_map)
        self.mlp = MLP_Block(
            input_dim=feature_map.sum_emb_out_dim(),
            output_dim=1,
            hidden_units=list(HIDDEN),
            hidden_activations="ReLU",
            output_activation=None,
            dropout_rates=0.0,
            batch_norm=False,
        )
        self.compile(kwargs["optimizer"], kwargs["loss"], learning_rate)
        self.reset_parameters()
        self.model_to_device()

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        X = self.get_inputs(inputs)
        feature_emb = self.embedding_layer(X)
        y_pred = self.fm(X, feature_emb)
        y_pred += self.mlp(feature_emb.flatten(start_dim=1))
        return {"y_pred": self.output_activation(y_pred)}


class DCNv2(BaseModel):
    """FuxiCTR's model_zoo DCNv2, parallel structure: ``sigmoid(Linear([CrossNetV2(x), MLP(x)]))``."""

    def __init__(self, feature_map: Any, learning_rate: float, embedding_dim: int, **kwargs: Any) -> None:
        from fuxictr.pytorch.layers import CrossNetV2, FeatureEmbedding, MLP_Block

        super().__init__(feature_map, model_id="DCNv2", **kwargs)
        self.embedding_layer = FeatureEmbedding(feature_map, embedding_dim)
        input_dim = feature_map.sum_emb_out_dim()
        self.crossnet = CrossNetV2(input_dim, CROSS_LAYERS)
        self.parallel_dnn = MLP_Block(
            input_dim=input_dim,
            output_dim=None,
            hidden_units=list(HIDDEN),
            hidden_activations="ReLU",
            output_activation=None,
            dropout_rates=0.0,
            batch_norm=False,
        )
        self.fc = nn.Linear(input_dim + HIDDEN[-1], 1)
        self.compile(kwargs["optimizer"], kwargs["loss"], learning_rate)
        self.reset_parameters()
        self.model_to_device()

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        X = self.get_inputs(inputs)
        feature_emb = self.embedding_layer(X, flatten_emb=True)
        final_out = torch.cat([self.crossnet(feature_emb), self.parallel_dnn(feature_emb)], dim=-1)
        return {"y_pred": self.output_activation(self.fc(final_out))}


def _start_ray(threads: int) -> None:
    """The local Ray cluster FuxiCTR's transform and Parquet loader use, capped at ``threads`` CPUs.

    The same call as ``fuxictr.preprocess.build_dataset.init_ray`` (which then finds it running),
    plus ``num_cpus`` and no dashboard.
    """
    import importlib
    import os

    import ray

    fuxi_build = importlib.import_module("fuxictr.preprocess.build_dataset")  # the module, not the function

    if ray.is_initialized():
        raise RuntimeError("Ray is already running in this process; a speed case needs its own cluster")
    project_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(fuxi_build.__file__))))
    ray.init(
        num_cpus=threads,
        include_dashboard=False,
        logging_level=logging.ERROR,
        log_to_driver=True,
        runtime_env={"env_vars": {"PYTHONPATH": project_root}},
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # one INFO line per dataset execution


def _encode(processor: Any, data: Path, rows: slice, split: str) -> str:
    """Raw rows ``rows`` of ``data`` through FuxiCTR's read/preprocess/transform; the encoded Parquet path."""
    from fuxictr.preprocess.build_dataset import transform

    ddf = processor.read_data(str(data), data_format="parquet")
    ddf = processor.preprocess(ddf.slice(rows.start, rows.stop - rows.start))
    transform(processor, ddf, split=split, block_size=0)
    path = Path(processor.data_dir) / f"{split}.parquet"
    if not path.is_file():
        raise RuntimeError(f"FuxiCTR's transform wrote no {path}")
    return str(path)


def _tensors(processor: Any, frame: Any) -> dict[str, torch.Tensor]:
    """Raw rows (a Polars lazy frame) through the fitted processor's own ``preprocess`` and ``transform``,
    in this process, as the column -> tensor batch FuxiCTR's loader yields."""
    collected = processor.preprocess(frame).collect()
    batch = processor.transform({c: collected.get_column(c).to_numpy() for c in collected.columns})
    return {name: torch.as_tensor(np.asarray(values)) for name, values in batch.items()}


def _not_run(model: str, precision: str, epochs: int) -> CaseResult:
    out = CaseResult("fuxictr", model, precision, epochs=epochs)
    out.notes.append(f"FuxiCTR has no {precision} option (its BaseModel trains in fp32 only); not run")
    return out


def run_case(model: str, data: Path, threads: int, epochs: int = 1, precision: str = "fp32") -> CaseResult:
    """FuxiCTR's path for ``model`` ('deepfm' or 'dcnv2') on ``data`` (see the module docstring).

    A ``precision`` other than 'fp32' returns a result with every figure None and a note: FuxiCTR
    has no bf16 option.
    """
    if model not in MODELS:
        raise ValueError(f"unknown FuxiCTR model {model!r}; expected one of {', '.join(MODELS)}")
    if precision != "fp32":
        return _not_run(model, precision, epochs)
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray
    from fuxictr.features import FeatureMap
    from fuxictr.preprocess import FeatureProcessor
    from fuxictr.preprocess.build_dataset import transform
    from fuxictr.pytorch.dataloaders import RankDataLoader
    from fuxictr.pytorch.torch_utils import seed_everything

    torch.set_num_threads(threads)
    seed_everything(SEED)
    logging.getLogger().setLevel(logging.WARNING)  # FuxiCTR logs every step at INFO
    n = pq.ParquetFile(data).metadata.num_rows
    train_rows, test_rows = split_rows(n)
    out = CaseResult("fuxictr", model, precision, epochs=epochs)
    out.train_rows, out.test_rows = train_rows.stop, n - test_rows.start

    with tempfile.TemporaryDirectory(prefix="fuxictr_speed_") as tmp:
        root = Path(tmp)
        try:
            # -- preprocessing: Ray up, read, preprocess, fit, transform the training rows -----------
            def preprocess() -> tuple[Any, str, float]:
                _, ray_s = timed(lambda: _start_ray(threads))
                processor = FeatureProcessor(
                    feature_cols=FEATURE_COLS, label_col=LABEL_COL, dataset_id=DATASET_ID, data_root=str(root / "data")
                )
                ddf = processor.read_data(str(data), data_format="parquet")
                train_ddf = processor.preprocess(ddf.slice(0, train_rows.stop))
                processor.fit(train_ddf, rebuild_dataset=True, min_categr_count=1)
                transform(processor, train_ddf, split="train", block_size=0)
                return processor, str(Path(processor.data_dir) / "train.parquet"), ray_s

            (processor, train_path, ray_s), out.preprocess_s = timed(preprocess)

            # -- setup: feature map from its json, the model, the training loader ------------------
            params = {**MODEL_PARAMS, "model_root": str(root / "checkpoints"), "early_stop_patience": epochs + 1}

            def setup() -> tuple[Any, Any, Any]:
                feature_map = FeatureMap(DATASET_ID, processor.data_dir)
                feature_map.load(processor.json_file, params)
                network = (DeepFM if model == "deepfm" else DCNv2)(feature_map, **params)
                Path(network.model_dir).mkdir(parents=True, exist_ok=True)  # fit() writes its checkpoint there
                train_gen, _ = RankDataLoader(
                    feature_map,
                    stage="train",
                    train_data=train_path,
                    batch_size=BATCH_SIZE,
                    shuffle=True,
                    data_format="parquet",
                )
                return feature_map, network, train_gen

            (feature_map, network, train_gen), setup_s = timed(setup)
            if train_gen.num_samples != out.train_rows:
                raise RuntimeError(f"FuxiCTR's loader holds {train_gen.num_samples} rows, expected {out.train_rows}")
            # fit() needs validation data (see the docstring): the first batch of training rows.
            valid = [_tensors(processor, processor.read_data(str(data), data_format="parquet").head(BATCH_SIZE))]

            # -- training ----------------------------------------------------------------------------
            _, out.train_s = timed(lambda: network.fit(train_gen, epochs=epochs, validation_data=valid))
            out.train_rows_per_s = out.train_rows * epochs / out.train_s
            out.end_to_end_s = out.preprocess_s + setup_s + out.train_s

            # -- scoring: raw test rows to a scores file -----------------------------------------------
            # Ray Data may reorder blocks unless asked not to; scores must follow the file's rows.
            ray.data.DataContext.get_current().execution_options.preserve_order = True
            scores_path = root / "scores.parquet"

            def score() -> tuple[Any, np.ndarray]:
                test_path = _encode(processor, test_file(data), slice(0, out.test_rows), "test")
                test_gen = RankDataLoader(
                    feature_map, stage="test", test_data=test_path, batch_size=BATCH_SIZE, data_format="parquet"
                )
                scores = network.predict(test_gen)
                pq.write_table(pa.table({"score": scores}), scores_path)
                return test_gen, scores

            (test_gen, scores), out.score_s = timed(score)
            out.score_rows_per_s = out.test_rows / out.score_s

            # -- batch predict on the encoded test rows --------------------------------------------
            probs, predict_s = timed(lambda: network.predict(test_gen))
            out.predict_rows_per_s = out.test_rows / predict_s
            labels = pq.read_table(data, columns=[LABEL]).column(LABEL).to_numpy()[test_rows]
            loader_labels = np.concatenate([batch[LABEL].numpy() for batch in test_gen])
            if len(probs) != out.test_rows or not np.array_equal(loader_labels, labels):
                raise RuntimeError("FuxiCTR's test loader did not return the test rows in file order")
            if not np.allclose(probs, scores, atol=1e-6):
                raise RuntimeError("two predicts of the same test rows disagree")
            out.test_auc = auc(labels, probs)

            # -- one raw row: FuxiCTR's preprocess + transform, then forward ------------------------
            schema = pl.read_parquet_schema(data)
            network.eval()

            def predict_one(row: dict[str, Any]) -> float:
                frame = pl.LazyFrame({**{k: [v] for k, v in row.items()}, LABEL: [0]}, schema=schema)
                X = _tensors(processor, frame)
                with torch.no_grad():
                    return float(network.forward(X)["y_pred"][0, 0])

            rows = raw_rows(data)
            if abs(predict_one(rows[0]) - probs[0]) > 1e-5:
                raise RuntimeError("the one-row path scores the first test row differently from the batch predict")
            out.one_row_p50_ms, out.one_row_p99_ms = one_row_latency(predict_one, rows)
        finally:
            if ray.is_initialized():
                ray.shutdown()

    out.notes += [
        "FuxiCTR 2.3.10: FeatureProcessor read_data/preprocess/fit + build_dataset's Ray transform to "
        "Parquet; RankDataLoader(data_format='parquet') (Ray Data); BaseModel.fit/predict on DeepFM/DCNv2 "
        "composed from its layers",
        f"Ray local cluster (num_cpus={threads}) started inside preprocess_s ({ray_s:.2f}s of it); its "
        "GCS/raylet/worker processes run beside this one (the largest one's peak RSS is shown apart); "
        "the train loader's per-epoch random_shuffle is Ray's and unseeded",
        f"end_to_end_s includes {setup_s:.2f}s between preprocessing and fit (feature map load, model "
        "build, Ray-Data train loader that counts its rows)",
        "fit() requires validation data: given the first 4,096 training rows (encoded in memory); it "
        "evaluates AUC on them once per epoch, saves a checkpoint each epoch and reloads it at the end "
        "(all inside train_s); no early stop, no LR decay; gradient norm clipped at 10 (FuxiCTR's default)",
        "numerics: nulls to 0 then FuxiCTR's StandardScaler normalizer; categories: every training token "
        "(min_categr_count 1), nulls as ''",
        "one-row latency: FuxiCTR has no one-row predict API; measured as its FeatureProcessor.preprocess "
        "(Polars) + transform on a one-row frame, then model.forward under no_grad",
    ]
    return out
