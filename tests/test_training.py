"""Training building blocks against hand-computed values, and a few real training steps on the tiny corpus."""

import json

import numpy as np
import pytest
import torch

from lsr.errors import LsrError
from lsr.recipe_files import parse_overrides
from lsr.training.candidates import ScoreCache
from lsr.training.ensemble import ensemble_targets, normalise_rows
from lsr.training.losses import TermWeightedFlopsLoss
from lsr.training.recipe import TrainRecipe
from lsr.training.teachers import Candidates


def test_minmax_ensemble_worked_example():
    scores = {"a": np.array([[1.0, 2.0, 3.0]]), "b": np.array([[10.0, 0.0, 5.0]])}
    # a -> [0, .5, 1]; b -> [1, 0, .5]; mean -> [.5, .25, .75]; x30
    np.testing.assert_allclose(ensemble_targets(scores), [[15.0, 7.5, 22.5]])
    # weights 3:1 -> (3*[0,.5,1] + [1,0,.5]) / 4 = [.25, .375, .875]
    np.testing.assert_allclose(ensemble_targets(scores, {"a": 3, "b": 1}, scale=1), [[0.25, 0.375, 0.875]])


def test_zscore_and_constant_rows():
    np.testing.assert_allclose(normalise_rows(np.array([[1.0, 2.0, 3.0]]), "zscore"), [[-1.224745, 0.0, 1.224745]], rtol=1e-6)
    np.testing.assert_array_equal(normalise_rows(np.array([[4.0, 4.0]])), [[0.0, 0.0]])


@pytest.mark.parametrize("scores, weights, message", [
    ({}, None, "at least one teacher"),
    ({"a": np.ones((1, 2)), "b": np.ones((1, 3))}, None, "different candidate sets"),
    ({"a": np.ones((1, 2))}, {"z": 1.0}, "weights must"),
    ({"a": np.ones((1, 2))}, {"a": -1.0}, "weights must"),
])
def test_ensemble_errors(scores, weights, message):
    with pytest.raises(LsrError, match=message):
        ensemble_targets(scores, weights)


def test_flops_variants_hand_computed():
    embeddings = torch.tensor([[1.0, 0.0, 2.0], [3.0, 0.0, 0.0]])
    # mean |w| per term = [2, 0, 1] -> 4 + 0 + 1
    assert TermWeightedFlopsLoss(None).compute_loss_from_embeddings(embeddings).item() == pytest.approx(5.0)
    # l0 mask: only the first document has more than 1 active term -> mean [.5, 0, 1] -> .25 + 1
    assert TermWeightedFlopsLoss(None, threshold=1).compute_loss_from_embeddings(embeddings).item() == pytest.approx(1.25)
    # term weights [1, 2, 3] (the IDF of an inference-free query side): mean [2, 0, 3] -> 4 + 9
    weighted = TermWeightedFlopsLoss(None, term_weights=torch.tensor([1.0, 2.0, 3.0]))
    assert weighted.compute_loss_from_embeddings(embeddings).item() == pytest.approx(13.0)


class CountingTeacher:
    name = "counting"

    def __init__(self, fail_after=None):
        self.calls, self.fail_after = 0, fail_after

    def score(self, candidates, query_ids):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        return {q: np.arange(len(candidates.lists[q]), dtype=np.float32) for q in query_ids}


def test_score_cache_resumes_after_an_interruption(tmp_path):
    candidates = Candidates({f"q{i}": "text" for i in range(5)}, {f"q{i}": ["a", "b"] for i in range(5)}, {"a": "A", "b": "B"})
    cache = ScoreCache(tmp_path, candidates, source="test")
    with pytest.raises(KeyboardInterrupt):
        cache.scores("counting", lambda: CountingTeacher(fail_after=1), chunk=2, progress=False)
    saved = json.loads(cache.path("counting").read_text())
    assert len(saved["scores"]) == 2 and saved["teacher"] == "counting" and saved["source"] == "test"
    teacher = CountingTeacher()
    scores = cache.scores("counting", lambda: teacher, chunk=2, progress=False)
    assert teacher.calls == 2 and set(scores) == set(candidates.lists)  # only the 3 missing queries, in 2 chunks
    built = []
    cache.scores("counting", lambda: built.append(1) or CountingTeacher(), progress=False)
    assert not built  # complete cache: the teacher is not even loaded
    other = ScoreCache(tmp_path, Candidates(candidates.queries, {**candidates.lists, "q0": ["b"]}, candidates.documents), "test")
    teacher = CountingTeacher()
    other.scores("counting", lambda: teacher, chunk=10, progress=False)
    assert teacher.calls == 1  # other candidates: scored again


def test_recipe_validation(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("loss: hinge\n")
    with pytest.raises(LsrError, match="loss must be one of"):
        TrainRecipe.load(path)
    path.write_text("epoch: 1\n")
    with pytest.raises(LsrError, match="unknown setting"):
        TrainRecipe.load(path)
    ok = tmp_path / "ok.yaml"
    ok.write_text("seed: 1\n")
    recipe = TrainRecipe.load(ok, **parse_overrides(["epochs=0.5", "teachers=[bm25]"]))
    assert (recipe.name, recipe.seed, recipe.epochs, recipe.teachers) == ("ok", 1, 0.5, ["bm25"])
    with pytest.raises(LsrError, match="--set expects KEY=VALUE, got 'epochs'"):
        parse_overrides(["epochs"])


@pytest.mark.parametrize("settings, field, expected", [
    ("batch_size: 2.5", "batch_size", "an integer >= 1, got 2.5"),
    ("batch_size: 0", "batch_size", "an integer >= 1, got 0"),
    ("batch_size: '12'", "batch_size", "an integer >= 1, got '12' (a string: write it without quotes)"),
    ("negatives: true", "negatives", "an integer >= 1, got True"),
    ("max_steps: 10.5", "max_steps", "an integer >= 1 or empty, got 10.5"),
    ("patience: 0", "patience", "an integer >= 1 or empty, got 0"),
    ("selection_alpha: 0", "selection_alpha", "a finite number in (0, 1] or empty, got 0"),
    ("eval_every: 1e2", "eval_every", "an integer >= 1, got '1e2' (a string: YAML reads a number in exponent form"),
    ("learning_rate: fast", "learning_rate", "a finite number > 0, got 'fast'"),
    ("learning_rate: .nan", "learning_rate", "a finite number > 0, got nan"),
    ("learning_rate: '0.5'", "learning_rate", "a finite number > 0, got '0.5' (a string: write it without quotes)"),
    ("epochs: .inf", "epochs", "a finite number > 0, got inf"),
    ("temperature: 0", "temperature", "a finite number > 0, got 0"),
    ("warmup_ratio: 1.5", "warmup_ratio", "a finite number in [0, 1], got 1.5"),
    ("doc_reg_weight: -1", "doc_reg_weight", "a finite number >= 0, got -1"),
    ("student: dense\nepochs: 2.5", "epochs", "an integer >= 1, got 2.5"),
    ("student: dense\nhard_negatives: -1", "hard_negatives", "an integer >= 0, got -1"),
    ("student: dense\nscale: '20'", "scale", "a finite number > 0, got '20' (a string: write it without quotes)"),
])
def test_training_recipe_numbers_are_checked_naming_the_field_and_the_file(tmp_path, settings, field, expected):
    from lsr.training.recipe import load_training_recipe

    path = tmp_path / "bad.yaml"
    path.write_text(settings + "\n")
    with pytest.raises(LsrError) as error:
        load_training_recipe(path)
    assert str(error.value).startswith(f"{path}: recipe 'bad': {field} must be {expected}") and "\n" not in str(error.value)


WEIGHTS = "ensemble weights must map teachers (bm25) to finite numbers >= 0, not all 0; got"


@pytest.mark.parametrize("settings, expected", [
    ("teachers: [bm25]\nteacher_weights: {bm25: heavy}", f"recipe 'bad': teacher_weights: {WEIGHTS} {{'bm25': 'heavy'}}"),
    ("teachers: [bm25]\nteacher_weights: {bm25: .nan}", f"recipe 'bad': teacher_weights: {WEIGHTS} {{'bm25': nan}}"),
    ("teachers: [bm25]\nteacher_weights: {bm25: -1}", f"recipe 'bad': teacher_weights: {WEIGHTS} {{'bm25': -1}}"),
    ("teachers: [bm25]\nteacher_weights: {bm25: 0}", f"recipe 'bad': teacher_weights: {WEIGHTS} {{'bm25': 0}}"),
    ("teachers: [bm25]\nteacher_weights: {splade: 1}", f"recipe 'bad': teacher_weights: {WEIGHTS} {{'splade': 1}}"),
    ("teachers: [bm25]\nteacher_weights: [1]", f"recipe 'bad': teacher_weights: {WEIGHTS} [1]"),
    ("selection_alpha: 0.05", "recipe 'bad': selection_alpha chooses among validated weights, which only patience keeps"),
    ("name: ../../escape", "recipe name '../../escape': a name must be a plain file name"),
    ("student: dense\nname: ../../escape", "recipe name '../../escape': a name must be a plain file name"),
])
def test_training_settings_that_would_fail_late_or_escape_the_output_folder_are_refused_naming_the_file(tmp_path, settings, expected):
    from lsr.training.recipe import load_training_recipe

    path = tmp_path / "bad.yaml"
    path.write_text(settings + "\n")
    with pytest.raises(LsrError) as error:
        load_training_recipe(path)
    assert str(error.value).startswith(f"{path}: {expected}") and "\n" not in str(error.value)


@pytest.mark.parametrize("weights", [{"bm25": float("nan")}, {"bm25": "1"}, {"bm25": float("inf")}, {"bm25": True}])
def test_ensemble_weights_that_are_not_finite_numbers_are_refused_not_nan_targets(weights):
    from lsr.training.ensemble import ensemble_targets

    with pytest.raises(LsrError, match="ensemble weights must map teachers"):
        ensemble_targets({"bm25": np.array([[1.0, 2.0, 3.0]])}, weights)


@pytest.mark.parametrize("settings, field, value", [
    ("learning_rate: 1e-4", "learning_rate", 1e-4),  # a string to YAML 1.1, but exactly a number
    ("learning_rate: 1.0e-4", "learning_rate", 1e-4),
    ("learning_rate: 1", "learning_rate", 1.0),
    ("epochs: 2", "epochs", 2.0),
    ("batch_size: 8.0", "batch_size", 8),
    ("student: dense\nepochs: 3.0", "epochs", 3),
])
def test_training_recipe_numbers_that_are_exactly_numbers_are_read_as_their_fields_type(tmp_path, settings, field, value):
    from lsr.training.recipe import load_training_recipe

    path = tmp_path / "ok.yaml"
    path.write_text(settings + "\n")
    loaded = getattr(load_training_recipe(path), field)
    assert loaded == value and type(loaded) is type(value)


@pytest.mark.parametrize("overrides, expected", [
    ({"nosuchkey": 1}, "unknown setting(s) nosuchkey"),
    ({"dataset": None}, "recipe 'r': dataset must be a string, got None"),
    ({"backbone": 5}, "recipe 'r': backbone must be a string, got 5"),
    ({"teachers": "bm25"}, "recipe 'r': teachers must be a list of names"),
    ({"student": "dense", "nosuchkey": 1}, "unknown setting(s) nosuchkey"),
    ({"student": "dense", "dataset": None}, "recipe 'r': dataset must be a string, got None"),
])
def test_set_overrides_are_checked_like_the_recipe_file(tmp_path, overrides, expected):
    """``--set nosuchkey=1`` or ``--set dataset=`` (None) used to reach the dataclass as a TypeError."""
    from lsr.training.recipe import load_training_recipe

    path = tmp_path / "r.yaml"
    path.write_text("seed: 1\n")
    with pytest.raises(LsrError) as error:
        load_training_recipe(path, **overrides)
    assert str(error.value).startswith(f"{path}: ") and expected in str(error.value)


@pytest.mark.parametrize("student", ["inference-free", "dense"])
def test_an_output_that_is_not_a_model_folder_is_refused_before_any_work(tmp_path, student):
    from lsr.training.dense import train_dense
    from lsr.training.recipe import DenseTrainRecipe
    from lsr.training.train import train

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    recipe = TrainRecipe(name="r", dataset=str(tmp_path / "no-such-dataset")) if student != "dense" else \
        DenseTrainRecipe(name="r", dataset=str(tmp_path / "no-such-dataset"))
    run = train if student != "dense" else train_dense
    with pytest.raises(LsrError, match=f"^{foreign} exists and is not a model folder"):  # not "dataset not found": nothing ran
        run(recipe, foreign, out_dir=tmp_path / "out", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"] and (foreign / "notes.txt").read_text() == "mine"


def test_the_documented_set_of_a_learning_rate_in_exponent_form_is_read_as_a_number(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("seed: 1\n")
    assert TrainRecipe.load(path, **parse_overrides(["learning_rate=1e-4"])).learning_rate == 1e-4  # docs/training.md's example


def test_a_few_training_steps_on_the_tiny_corpus(tmp_path, capsys, caplog):
    """Loss and active document terms go down; the saved model reloads and encodes identically; a run without progress
    output prints no loss dicts and no widget-example bar, nor sentence-transformers' warning that the inference-free
    queries go unregularised."""
    from sentence_transformers import SparseEncoder

    from lsr.data import load_dataset
    from lsr.eval.metrics import evaluate
    from lsr.training.candidates import load_candidates
    from lsr.training.train import rerank_scores, split_queries, train
    from tests.conftest import write_beir

    root = write_beir(tmp_path / "tinytrain", split="train")
    recipe = TrainRecipe(name="tiny", dataset=str(root), teachers=["sparse:splade-tiny", "bm25"], candidates_k=10, negatives=2,
                         rows_per_query=24, batch_size=2, learning_rate=5e-4, doc_reg_weight=0.5, warmup_ratio=0.1,
                         eval_every=3, validation_fraction=0.2, doc_max_length=48)
    summary = train(recipe, tmp_path / "model", out_dir=tmp_path / "out", progress=False)
    printed = capsys.readouterr()
    assert "'loss'" not in printed.out and "Computing widget examples" not in printed.err
    assert not [r for r in caplog.records if "query_regularizer_weight" in r.getMessage()]
    base = [e["base_loss"] for e in summary["log"] if "base_loss" in e]
    third = len(base) // 3
    assert third >= 3 and np.mean(base[-third:]) < np.mean(base[:third]), base
    terms = [v["avg_doc_terms"] for v in summary["validation"]]
    assert terms[-1] < terms[0]
    model_dir = tmp_path / "model"
    for name in ("idf.json", "recipe.yaml", "training_log.json", "training_curve.png", "modules.json"):
        assert (model_dir / name).is_file(), name
    # the reloaded model reproduces the final validation exactly (same encodings, same scores)
    loaded = SparseEncoder(str(model_dir), device="cpu")
    dataset = load_dataset(str(root))
    candidates = load_candidates(tmp_path / "out" / "teachers" / "tinytrain" / "train-bm25-top10", dataset)
    _, val_ids = split_queries(list(candidates.lists), recipe.validation_fraction, recipe.seed)
    run, sparsity = rerank_scores(loaded, candidates, val_ids)
    final = summary["validation"][-1]
    assert sparsity["avg_doc_terms"] == final["avg_doc_terms"]
    assert evaluate(run, {q: dataset.qrels("train")[q] for q in val_ids})["nDCG@10"] == final["val_nDCG@10"]
    # the held-out queries' full retrieval, recorded at the end, is what evaluate-model --held-out gives
    from lsr.eval.model_eval import evaluate_model, held_out_queries

    assert summary["validation_query_ids"] == val_ids and held_out_queries(str(model_dir)) == ("train", val_ids)
    assert summary["validation_retrieval"] == evaluate_model(str(model_dir), dataset, "train", doc_max_length=48, query_ids=val_ids,
                                                             progress=False)
    assert set(summary["validation_retrieval"]) >= {"nDCG@10", "R@100", "avg_doc_terms", "flops"}


def test_teachers_score_as_their_models_do(bm25_index, tiny):
    """Bi-encoder teachers give the model's own similarity; BM25 gives Lucene's score, retrieved or not."""
    from lsr import Searcher
    from lsr.training.teachers import load_teacher

    docs = {d.id: d.contents for d in tiny.corpus()}
    candidates = Candidates({"q": "smoking and lung cancer"}, {"q": ["d3", "d1", "d5"]}, docs)
    for spec in ("dense:all-MiniLM-L6-v2", "sparse:splade-tiny"):
        teacher = load_teacher(spec, progress=False)
        model = teacher.model
        expected = model.similarity(model.encode_query(["smoking and lung cancer"]), model.encode_document([docs["d3"], docs["d1"], docs["d5"]]))
        expected = (expected.to_dense() if expected.is_sparse else expected)[0].numpy()
        np.testing.assert_allclose(teacher.score(candidates, ["q"])["q"], expected, rtol=1e-4)
    bm25 = load_teacher(f"bm25:{bm25_index}").score(candidates, ["q"])["q"]
    with Searcher.open(bm25_index) as searcher:
        hits = {h.docid: h.score for h in searcher.search("smoking and lung cancer", k=10)}
    assert bm25[0] == pytest.approx(hits["d3"], rel=1e-4) and bm25[0] > bm25[1]
    assert bm25[2] == 0.0 and "d5" not in hits  # a candidate BM25 would not retrieve scores 0
    with pytest.raises(LsrError, match="unknown teacher"):
        load_teacher("colbert:x")


def test_a_dense_teacher_with_its_own_query_model_encodes_queries_with_it_and_documents_with_the_other(tmp_path, tiny):
    """``dense:DOCUMENTS|QUERIES`` (a query encoder tuned against frozen document vectors): each side through its model,
    and in a recipe file both paths are read relative to the recipe's folder."""
    from lsr.training.recipe import resolve_paths
    from lsr.training.teachers import BiEncoderTeacher

    class Side:
        def __init__(self, vector):
            self.vector = torch.tensor(vector)

        def encode_query(self, texts, **_):
            return [self.vector for _ in texts]

        encode_document = encode_query

        def similarity(self, queries, documents):
            return queries @ documents.T

    teacher = BiEncoderTeacher("dense:d|q", Side([1.0, 3.0]), progress=False, query_model=Side([0.0, 2.0]))
    candidates = Candidates({"q": "smoking"}, {"q": ["d3", "d1"]}, {d.id: d.contents for d in tiny.corpus()})
    np.testing.assert_allclose(teacher.score(candidates, ["q"])["q"], [6.0, 6.0])  # [0, 2] . [1, 3]: queries by one, documents by the other
    (tmp_path / "models" / "q").mkdir(parents=True)
    resolved = resolve_paths(tmp_path / "recipes" / "r.yaml", {"teachers": ["dense:all-MiniLM-L6-v2|../models/q", "bm25"]})
    assert resolved["teachers"] == [f"dense:all-MiniLM-L6-v2|{tmp_path / 'models' / 'q'}", "bm25"]


def test_max_logits_gradients():
    from lsr.training.fast_pooling import MaxLogits

    torch.manual_seed(0)
    hidden = torch.randn(2, 5, 4, dtype=torch.double, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).bool()
    weight = torch.randn(7, 4, dtype=torch.double, requires_grad=True)
    bias = torch.randn(7, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda h, w, b: MaxLogits.apply(h, mask, w, b), (hidden, weight, bias))
    full = (hidden @ weight.T + bias).masked_fill(~mask[:, :, None], float("-inf")).amax(dim=1)
    torch.testing.assert_close(MaxLogits.apply(hidden, mask, weight, bias), full)


@pytest.mark.parametrize("activation", ["relu", "log1p_relu"])
def test_fast_splade_training_matches_sentence_transformers(activation):
    """Same embeddings and gradients as the full SPLADE head; the model is plain again after the block."""
    from sentence_transformers.sparse_encoder.modules import SpladePooling

    from lsr.encoders.sparse import load_sparse_encoder
    from lsr.training.fast_pooling import FastSpladeTraining

    model = load_sparse_encoder("splade-tiny")
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if isinstance(module, SpladePooling):
            module.activation_function = activation
    model.train()
    texts = ["Aspirin lowers the risk of colorectal cancer in adults.", "Statins reduce cholesterol.", "A cat."]
    features = dict(model[0].tokenizer(texts, padding=True, return_tensors="pt"))

    def forward_backward(fast: bool):
        model.zero_grad()
        if fast:
            with FastSpladeTraining(model):
                out = model(dict(features))["sentence_embedding"]
        else:
            out = model(dict(features))["sentence_embedding"]
        (out.sum() + (out ** 2).sum()).backward()
        return out.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    plain, plain_grads = forward_backward(False)
    fast, fast_grads = forward_backward(True)
    torch.testing.assert_close(fast, plain)
    assert plain_grads.keys() == fast_grads.keys()
    for name, grad in plain_grads.items():
        if "attention.self.key.bias" in name:  # its true gradient is 0 (softmax ignores it): both are float noise
            continue
        torch.testing.assert_close(fast_grads[name], grad, rtol=1e-3, atol=1e-5, msg=name)
    assert isinstance(model[0].auto_model.cls.predictions.decoder, torch.nn.Linear)
    assert not any("forward" in vars(m) for m in model.modules())


def _weights(model_dir):
    from safetensors.torch import load_file

    return {name: tensor for path in sorted(model_dir.rglob("*.safetensors")) for name, tensor in load_file(str(path)).items()}


def test_resume_after_a_kill_gives_the_same_model(tmp_path, monkeypatch):
    """A fixed seed gives the same model; a run killed after a checkpoint and resumed ends where an uninterrupted run ends."""
    from sentence_transformers.sparse_encoder import SparseEncoderTrainer

    from lsr.training.train import train
    from tests.conftest import write_beir

    root = write_beir(tmp_path / "tinyresume", split="train")
    recipe = TrainRecipe(name="tiny", dataset=str(root), teachers=["bm25"], candidates_k=10, negatives=2, rows_per_query=8,
                         batch_size=2, learning_rate=5e-4, max_steps=4, eval_every=2, validation_fraction=0.2, doc_max_length=48)
    out = tmp_path / "out"
    first = train(recipe, tmp_path / "a", out_dir=out, progress=False)
    train(recipe, tmp_path / "b", out_dir=out, progress=False)
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    step = SparseEncoderTrainer.training_step
    calls = []

    def killed_at_the_third_step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # checkpoint-2 is on disk
            raise KeyboardInterrupt
        return step(self, *args, **kwargs)

    monkeypatch.setattr(SparseEncoderTrainer, "training_step", killed_at_the_third_step)
    with pytest.raises(KeyboardInterrupt):
        train(recipe, tmp_path / "c", out_dir=out, progress=False)
    assert not (tmp_path / "c").exists() and (tmp_path / "c.checkpoints" / "checkpoint-2").is_dir()
    monkeypatch.setattr(SparseEncoderTrainer, "training_step", step)
    summary = train(recipe, tmp_path / "c", out_dir=out, resume=True, progress=False)
    assert summary["steps"] == 4
    assert summary["validation"] == first["validation"] and [v["step"] for v in first["validation"]] == [0, 2, 4]
    c = _weights(tmp_path / "c")
    assert all(torch.allclose(a[k], c[k], atol=1e-6) for k in a), [k for k in a if not torch.allclose(a[k], c[k], atol=1e-6)]


def test_best_weights_keep_the_first_best_with_its_step_and_score(tmp_path):
    from lsr.training.train import BestWeights

    model, path = torch.nn.Linear(3, 2), tmp_path / "best.safetensors"
    best = BestWeights(path, resumed=False)
    best.offer(model, 0, {"a": 0.4, "b": 0.6})
    kept = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight += 1
    best.offer(model, 2, {"a": 0.6, "b": 0.4})  # a tie is not better
    best.offer(model, 4, {"a": 0.4, "b": 0.4})
    resumed = BestWeights(path, resumed=True)
    assert (best.step, best.score, best.scores) == (resumed.step, resumed.score, resumed.scores) == (0, 0.5, {"a": 0.4, "b": 0.6})
    resumed.restore(model)
    assert all(torch.equal(model.state_dict()[k], kept[k]) for k in kept)
    BestWeights(path, resumed=False)  # a new run does not start from an old run's best
    assert not path.exists()


def test_best_weights_with_alpha_give_way_only_to_a_significantly_better_model(tmp_path):
    """A higher mean that one query carries is noise at alpha 0.05 and the kept step stays; a gain on every query replaces it."""
    from lsr.training.train import BestWeights

    start = {f"q{i}": 0.5 for i in range(20)}
    one_query = {**start, "q0": 1.0}
    every_query = {q: 0.6 + 0.01 * (i % 3) for i, q in enumerate(start)}
    model = torch.nn.Linear(3, 2)
    best = BestWeights(tmp_path / "best.safetensors", resumed=False, alpha=0.05)
    best.offer(model, 0, start)
    best.offer(model, 2, one_query)
    assert best.step == 0
    best.offer(model, 4, every_query)
    assert best.step == 4
    plain = BestWeights(tmp_path / "plain.safetensors", resumed=False)
    plain.offer(model, 0, start)
    plain.offer(model, 2, one_query)
    assert plain.step == 2


def test_patience_keeps_the_best_validated_weights_and_stops_after_that_many_validations_without_better(tmp_path, monkeypatch):
    """Validation scores are scripted (0.5, 0.7 at step 2, then 0.6 and a tie): with patience 2 the run stops at step 6 of 12
    and saves the weights it validated at step 2."""
    from sentence_transformers import SparseEncoder

    import lsr.training.train as training
    from tests.conftest import write_beir

    scripted, weights = [0.5, 0.7, 0.6, 0.7], []
    rerank = training.rerank_scores

    def snapshot(model, *args, **kwargs):
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
        return rerank(model, *args, **kwargs)

    monkeypatch.setattr(training, "rerank_scores", snapshot)
    monkeypatch.setattr(training, "per_query", lambda run, qrels: {"nDCG@10": dict.fromkeys(qrels, scripted.pop(0) if scripted else 0.0)})
    root = write_beir(tmp_path / "tinypatience", split="train")
    recipe = TrainRecipe(name="tiny", dataset=str(root), teachers=["bm25"], candidates_k=10, negatives=2, rows_per_query=8,
                         batch_size=2, learning_rate=5e-4, max_steps=12, eval_every=2, patience=2, validation_fraction=0.2,
                         doc_max_length=48)
    summary = training.train(recipe, tmp_path / "model", out_dir=tmp_path / "out", progress=False)
    assert [v["step"] for v in summary["validation"]] == [0, 2, 4, 6] and summary["steps"] == 6 and summary["kept_step"] == 2
    saved = SparseEncoder(str(tmp_path / "model"), device="cpu").state_dict()
    assert saved.keys() == weights[1].keys() and not all(torch.equal(weights[1][k], weights[3][k]) for k in saved)
    assert all(torch.equal(saved[k], weights[1][k]) for k in saved)


def _interrupted(checkpoints, recipe, corpus_sha256):
    """A checkpoint folder as a run of ``recipe`` over that corpus leaves it when killed after its first validation."""
    from dataclasses import asdict

    checkpoints.mkdir()
    (checkpoints / "validation.json").write_text(json.dumps({"history": [{"step": 0}], "seconds": 1.0,
                                                             "settings": {**asdict(recipe), "corpus_sha256": corpus_sha256}}))


@pytest.mark.parametrize("changes, named", [
    ({"learning_rate": 1e-4}, ["learning_rate 2e-05 -> 0.0001"]),
    ({"batch_size": 8, "seed": 7}, ["batch_size 12 -> 8", "seed 42 -> 7"]),
    ({"teachers": ["bm25"]}, ["teachers ['dense:all-MiniLM-L6-v2', 'sparse:splade-tiny', 'bm25'] -> ['bm25']"]),
    ({"corpus_sha256": "another"}, ["corpus_sha256 'abc' -> 'another'"]),
])
def test_resume_refuses_changed_settings_and_names_them(tmp_path, changes, named):
    from dataclasses import asdict

    from lsr.training.train import resumed_progress

    recipe = TrainRecipe(name="r")
    _interrupted(tmp_path / "r.checkpoints", recipe, "abc")
    now = {**asdict(recipe), "corpus_sha256": "abc", **changes}
    with pytest.raises(LsrError) as error:
        resumed_progress(tmp_path / "r.checkpoints", now)
    message = str(error.value)
    assert message.startswith(f"--resume: the run in {tmp_path / 'r.checkpoints'} was started with other settings (")
    assert all(change in message for change in named) and "\n" not in message
    assert resumed_progress(tmp_path / "r.checkpoints", {**asdict(recipe), "corpus_sha256": "abc"})["history"] == [{"step": 0}]


def test_resume_refuses_a_run_whose_settings_were_not_recorded_and_starts_afresh_without_one(tmp_path):
    from lsr.training.train import resumed_progress

    assert resumed_progress(tmp_path / "none.checkpoints", {"seed": 1}) == {}
    (tmp_path / "old.checkpoints" / "checkpoint-2").mkdir(parents=True)
    with pytest.raises(LsrError, match="does not record the settings its run was started with; run without --resume"):
        resumed_progress(tmp_path / "old.checkpoints", {"seed": 1})


def test_train_refuses_to_resume_with_another_learning_rate_before_any_work(tmp_path):
    """The check comes before the teachers and the training: the checkpoint is left as it was, and no model is written."""
    from dataclasses import replace

    from lsr.data import load_dataset
    from lsr.training.train import train
    from tests.conftest import write_beir

    root = write_beir(tmp_path / "tinyresume", split="train")
    recipe = TrainRecipe(name="tiny", dataset=str(root), teachers=["bm25"], candidates_k=10, negatives=2, batch_size=2, max_steps=4)
    _interrupted(tmp_path / "m.checkpoints", recipe, load_dataset(str(root)).corpus_sha256)
    before = (tmp_path / "m.checkpoints" / "validation.json").read_text()
    with pytest.raises(LsrError, match=r"started with other settings \(learning_rate 2e-05 -> 0.001\)"):
        train(replace(recipe, learning_rate=1e-3), tmp_path / "m", out_dir=tmp_path / "out", resume=True, progress=False)
    assert (tmp_path / "m.checkpoints" / "validation.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.checkpoints", "tinyresume"]


def test_lexical_prior_loss_hand_computed():
    """KL to the teacher of softmax(q . d + weight x prior); weight 0 is sentence-transformers' KL loss."""
    import torch
    from sentence_transformers.sparse_encoder.losses import SparseDistillKLDivLoss

    from lsr.training.losses import LexicalPriorKLDivLoss

    query = torch.tensor([[1.0, 0.0, 2.0]])
    docs = [torch.tensor([[0.5, 1.0, 0.0]]), torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[1.0, 1.0, 1.0]])]
    targets, prior = torch.tensor([[3.0, 1.0, 0.0]]), torch.tensor([[0.0, 2.0, 1.0]])
    labels = torch.cat([targets, prior], dim=1)
    student = torch.tensor([[0.5, 2.0, 3.0]]) + 0.5 * prior
    teacher = torch.softmax(targets, dim=1)
    expected = (teacher * (teacher.log() - torch.log_softmax(student, dim=1))).sum()
    loss = LexicalPriorKLDivLoss(None, weight=0.5).compute_loss_from_embeddings([query, *docs], labels)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    plain = SparseDistillKLDivLoss(None, temperature=1.0).compute_loss_from_embeddings([query, *docs], targets)
    prior = LexicalPriorKLDivLoss(None, weight=0.0).compute_loss_from_embeddings([query, *docs], labels)
    assert float(prior) == pytest.approx(float(plain), rel=1e-6)


@pytest.mark.parametrize("settings", [{"lexical_weight": -1}, {"lexical_weight": 2, "teachers": ["sparse:splade-tiny"]},
                                      {"lexical_weight": 2, "loss": "infonce"}, {"lexical_weight": 2, "student": "splade"}])
def test_lexical_weight_needs_what_it_uses(settings):
    with pytest.raises(LsrError, match="lexical_weight"):
        TrainRecipe(name="x", **settings)


def test_training_with_a_bm25_channel_on_the_tiny_corpus(tmp_path):
    """A student trained with BM25 in its score: the loss falls, validation adds the channel, the model reloads."""
    from sentence_transformers import SparseEncoder

    from lsr.training.train import train
    from tests.conftest import write_beir

    root = write_beir(tmp_path / "tinytrain", split="train")
    recipe = TrainRecipe(name="tiny", dataset=str(root), teachers=["sparse:splade-tiny", "bm25"], candidates_k=10, negatives=2,
                         rows_per_query=24, batch_size=2, learning_rate=5e-4, warmup_ratio=0.1,
                         eval_every=3, validation_fraction=0.2, doc_max_length=48, lexical_weight=0.5, doc_reg_weight=0.001)
    summary = train(recipe, tmp_path / "model", out_dir=tmp_path / "out", progress=False)
    base = [e["base_loss"] for e in summary["log"] if "base_loss" in e]
    third = len(base) // 3
    assert third >= 3 and np.mean(base[-third:]) < np.mean(base[:third]), base
    assert summary["validation_retrieval"]["avg_query_terms"] > 0
    SparseEncoder(str(tmp_path / "model"), device="cpu")
