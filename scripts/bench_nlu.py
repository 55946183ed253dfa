#!/usr/bin/env python
"""NLU benchmark: our pipeline (config.yml) against Rasa 3.6's default pipeline.

Run with the Rasa environment from the repository root (`make bench-nlu`):

    .venv/rasa/bin/python scripts/bench_nlu.py              # 5 folds, writes docs/benchmarks/nlu.md
    .venv/rasa/bin/python scripts/bench_nlu.py --quick      # smoke run: 2 folds, few epochs
    .venv/rasa/bin/python scripts/bench_nlu.py --extra stem=/tmp/config-stem.yml --out /tmp/x.md

What it does:
- loads every NLU file under data/nlu/ (examples, regexes, lookups, synonyms);
- splits the intent examples into K stratified folds (fixed seed);
- for each fold trains an NLU-only model per pipeline on the other folds (Rasa's own
  `rasa.model_training.train_nlu`, into a temporary directory) and evaluates it on the
  held-out fold twice: as written, and with every Polish diacritic stripped (same models);
- aggregates intent macro-F1 / accuracy, entity micro-F1, per-intent F1, the top
  confusions, training times, and the confidence distribution of correct vs wrong
  predictions of our pipeline, from which the FallbackClassifier thresholds are chosen.

FallbackClassifier is taken out of both pipelines for training and scoring (it has no
weights, so the trained models are the same): accuracy is measured on the classifier's
top intent. Its effect at given thresholds is then computed from the recorded
confidences, identically for every pipeline.

"Rasa's default pipeline" is the one Rasa 3.6 auto-fills when config.yml has no pipeline
(rasa/engine/recipes/config_files/default_config.yml; `language: pl` does not change it),
with one change: DIETClassifier and ResponseSelector get the same fixed `random_seed` as
ours, so that both sides of the comparison are reproducible.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import io
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
# Rasa's training cache would only fill .rasa/cache with never-reused fold models.
os.environ["RASA_MAX_CACHE_SIZE"] = "0"

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # custom components are imported as bot.rasa_ext.*

import warnings  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=UserWarning)

import yaml  # noqa: E402  (ships with Rasa)

SEED = 4242
# Diacritics stripped from the "stripped" test folds: what a keyboard without the Polish
# layout produces. Case is kept (our folding component and Rasa's lower-casing handle it).
STRIP = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")
# The understanding issue's targets for this benchmark.
TARGET_RATIO = 1.05
TARGET_MACRO_F1 = 0.93
FALLBACK_GRID = [0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8]
AMBIGUITY_GRID = [0.0, 0.05, 0.1]


# Earlier measurements behind the choices in config.yml, made with this script's
# tuning options (`--extra LABEL=CONFIG --only ... --max-folds 1`); kept here so that
# every regenerated report still says why the pipeline looks the way it does.
DECISIONS = """\
## How the pipeline was chosen (earlier runs of this script)

Fold 1 of a 3-fold split (seed 4242) of the data as it was then; training times are
wall-clock on the shared 2-core machine while other jobs ran, so compare them only
roughly.

| variant (on top of the token folder, regex and count-vector features) | examples | macro-F1 | accuracy | training |
| --- | ---: | ---: | ---: | ---: |
| DIET 1 layer × 128, 60 epochs (first version) | 1373 | 0.8121 | 0.8188 | 80 s |
| DIET 1 layer × 128, 100 epochs | 1373 | 0.8151 | 0.8231 | 137 s |
| DIET 1 layer × 256, 100 epochs | 1373 | 0.8201 | 0.8297 | 211 s |
| **DIET 2 layers × 128, 100 epochs (chosen)** | 1373 | **0.8426** | **0.8493** | 175 s |
| DIET 2 layers × 256, 100 epochs | 1373 | 0.8394 | 0.8493 | 294 s |
| Rasa default pipeline (for reference; stripped: 0.8117 / 0.8231) | 1373 | 0.8100 | 0.8188 | 269 s |

**Stemmer: pystempel 2.0.0 (Stempel, PoliMorf table), evaluated, not kept.** Stems were
put into the token lemma (then folded) that the count-vector featurisers read. Fold 1 of
3 on 1295 examples, first version of the pipeline: accuracy 0.766 (stripped 0.775) with
the stemmer against 0.806 (0.806) without it, i.e. 4 points worse; the other two folds
were not run. The stemmer mangles the words people type without diacritics ("hasla" →
"hasć", "zresetowac" → "zresetowacórka") where the character n-grams already relate
"hasło"/"hasła"/"haseł", and its table takes ~20 s to load at every start. Uninstalled;
not in requirements/rasa.in.

**Sparse linear intent classifier, evaluated 2026-12-03, not kept.** A custom component
(logistic regression, C=10, over TF-IDF char_wb 1-4 + word 1-2 n-grams of the folded text,
plus word n-grams of lemmas from a folded morfeusz2 lexicon: every form of every training
lemma folded to ASCII and mapped to its lemma; e-mails, numbers by length and
password-shaped tokens replaced by placeholder words), with RegexEntityExtractor +
CRFEntityExtractor for the entities. On this script's 5 folds: macro-F1 0.8487 / accuracy
0.8412 (the same on stripped folds), entity F1 0.838 (DIET: 0.878), training 12-27 s per fold
instead of ~136 s. On the 376 intent-labelled user turns of the independent evaluation
conversations (`bench/conversations/`, never trained on), the deciding measure: accuracy
0.705 after the fallback (0.750 top intent) against DIET's 0.811 (0.822). DIET generalises
better to messages written by other hands, so it stays; the component and morfeusz2 were
removed.

**Sparse linear intent classifier, measured again 2026-12-03 (later), kept.** On the grown data
(3,002 examples, 38 intents) `bot.rasa_ext.linear_intent.LinearIntentClassifier` (logistic
regression, C=20, class weights balanced, TF-IDF char_wb 1-4 + word 1-2 of the folded text,
values replaced by placeholder words, no lexicon) reaches 0.876 accuracy on 5 intent-only
folds (seed 4242), trains in ~25 s, and on the same 376 intent-labelled turns of
`bench/conversations/` gets 0.854 after the fallback (0.25 / ambiguity 0.05) against 0.840 for
the DIET model it replaced (counting `done` for `thanks`, see `scripts/bench_conversations.py`).
DIET stayed for the entities (`intent_classification: false`) until the next change.

**CRFEntityExtractor for the entities instead of DIET, 2026-12-04, kept.** On the same data
and code, the deciding measure (`make bench-conversations`, 717 turns never trained on) was
the same: 637 turns as expected with the CRF, 638 with DIET (one turn each way: a name in the
genitive DIET tagged, a price question the CRF got right), 79/82 journeys both. The CRF trains
in ~9 s instead of DIET's ~13 minutes, so the whole model trains in under 3 minutes; without a
TensorFlow model Rasa is ready in 10-11 s instead of 45-49 s, takes 587 MB instead of 1,565 and
spends ~5 ms instead of ~11 on NLU per turn. The fold comparison of the two is in the results
above when this script runs with `--extra diet=scripts/nlu_configs/diet_entities.yml`
(`make bench-nlu`).

**The classifier's settings and a lemma lexicon, measured again 2026-12-04 (4,706 examples,
41 intents), nothing changed.** Intent-only runs of the classifier on this script's 5 folds
(seed 4242; macro-F1 / accuracy): as configured (C=20, char_wb 1-4 + word 1-2) 0.871 / 0.878;
C=50 0.872 / 0.879; a linear SVM 0.869 / 0.874; char_wb 2-5 0.869 / 0.876; char_wb 1-5 + word
1-3 0.864 / 0.873; the folded morfeusz2 lexicon (every form of every training lemma folded to
ASCII and mapped to its lemma, as a third bag of words) 0.867 / 0.875. All within half a point:
modelling has plateaued on these folds.

**Why macro-F1 stays near 0.87 (the target is 0.93).** Of the 573 held-out examples the
classifier gets wrong over the 5 folds, 331 (58%) are short answers and closings whose meaning
is the question they answer, not their words: "ok", "jasne", "dobra" are `affirm` after a
yes/no question and `done` after an answer; "na srebrny", "zarząd", "pełnomocnika" are `inform`
inside a form and the operation outside one; "nie tym razem", "odpuść" are `deny` or `stop`.
The examples carry no question, so no classifier can tell them apart; in a conversation the
rules decide by the question asked (see `docs/conversations.md`), which is what `make
bench-conversations` measures (95.3% of 717 turns as expected). Most of the other 242 are
neighbours within one area (`account_status` / `packages_info` 14, `login_help` /
`register_account` 11, `forgot_comarch_id` / `pin_unclear` 10, the four device intents 38).
"""


# --------------------------------------------------------------------------- configs


def load_yaml(path: Path) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def default_pipeline() -> List[Dict[str, Any]]:
    """The pipeline Rasa 3.6 fills in when config.yml has none."""
    import rasa.engine.recipes.default_recipe as recipe_module

    path = (
        Path(recipe_module.__file__).parent / "config_files" / "default_config.yml"
    )
    pipeline = copy.deepcopy(load_yaml(path)["pipeline"])
    for component in pipeline:
        if component["name"] in ("DIETClassifier", "ResponseSelector"):
            component.setdefault("random_seed", SEED)
    return pipeline


def split_fallback(
    pipeline: List[Dict[str, Any]]
) -> Tuple[List[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """Removes FallbackClassifier from a pipeline, returns (pipeline, its config)."""
    kept, fallback = [], None
    for component in pipeline:
        if component["name"] == "FallbackClassifier":
            fallback = dict(component)
        else:
            kept.append(component)
    return kept, fallback


def quick_pipeline(pipeline: List[Dict[str, Any]], epochs: int) -> List[Dict[str, Any]]:
    out = copy.deepcopy(pipeline)
    for component in out:
        if component["name"] in ("DIETClassifier", "ResponseSelector"):
            component["epochs"] = min(int(component.get("epochs", 300)), epochs)
    return out


def write_config(path: Path, pipeline: List[Dict[str, Any]], language: str) -> None:
    config = {
        "recipe": "default.v1",
        "assistant_id": "bench",
        "language": language,
        "pipeline": pipeline,
        # NLU-only training: an explicit empty policy list keeps Rasa from auto-filling
        # (and writing back) its default policies.
        "policies": [],
    }
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config, fh, allow_unicode=True, sort_keys=False)


# ----------------------------------------------------------------------------- data


def load_nlu(data_dir: Path):
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(data_dir), language="pl")


def stratified_folds(examples: Sequence[Any], k: int, seed: int) -> List[List[int]]:
    """Indices of `examples` split into k folds, each intent spread evenly."""
    by_intent: Dict[str, List[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        by_intent[example.get("intent")].append(index)
    rng = random.Random(seed)
    folds: List[List[int]] = [[] for _ in range(k)]
    offset = 0
    for intent in sorted(by_intent):
        indices = by_intent[intent][:]
        rng.shuffle(indices)
        for position, index in enumerate(indices):
            folds[(position + offset) % k].append(index)
        # rotate so that intents with fewer than k examples do not all land in fold 0
        offset = (offset + len(indices)) % k
    return [sorted(fold) for fold in folds]


def make_training_data(full, examples: Sequence[Any]):
    from rasa.shared.nlu.training_data.training_data import TrainingData

    return TrainingData(
        training_examples=list(examples),
        entity_synonyms=full.entity_synonyms,
        regex_features=full.regex_features,
        lookup_tables=full.lookup_tables,
        responses=full.responses,
    )


def entity_spans(entities: Sequence[Dict[str, Any]]) -> set:
    return {(e["start"], e["end"], e["entity"]) for e in entities or []}


# ------------------------------------------------------------------------ rasa glue


@contextlib.contextmanager
def redirect_fds(log_path: Path) -> Iterator[None]:
    """Sends the process's stdout/stderr (incl. TensorFlow's C++ logs) to log_path."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def train(config_path: Path, data_path: Path, out_dir: Path, name: str) -> Tuple[str, float]:
    import rasa.model_training

    started = time.perf_counter()
    model = rasa.model_training.train_nlu(
        str(config_path), str(data_path), str(out_dir), fixed_model_name=name
    )
    elapsed = time.perf_counter() - started
    if not model:
        raise RuntimeError(f"training {name} failed (see the log)")
    return model, elapsed


def predict(model_path: str, texts: Sequence[str]) -> List[Dict[str, Any]]:
    """Parses texts with a trained model; returns intent ranking and entities per text."""
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER

    processor = Agent.load(model_path).processor
    tracker = DialogueStateTracker.from_events("bench", [])
    target = processor.model_metadata.nlu_target
    results: List[Dict[str, Any]] = []
    batch = 64
    for start in range(0, len(texts), batch):
        messages = [UserMessage(text=t, sender_id="bench") for t in texts[start : start + batch]]
        parsed = processor.graph_runner.run(
            inputs={PLACEHOLDER_MESSAGE: messages, PLACEHOLDER_TRACKER: tracker},
            targets=[target],
        )[target]
        for message in parsed:
            data = message.as_dict(only_output_properties=True)
            ranking = data.get("intent_ranking") or [data.get("intent") or {}]
            results.append(
                {
                    "intent": (data.get("intent") or {}).get("name"),
                    "confidence": float((data.get("intent") or {}).get("confidence") or 0.0),
                    "second": float(ranking[1]["confidence"]) if len(ranking) > 1 else 0.0,
                    # `register` (bot/rasa_ext/register.py) is a rule over the address form,
                    # never annotated in data/nlu: not scored against the annotations
                    "entities": [
                        {"start": e["start"], "end": e["end"], "entity": e["entity"]}
                        for e in data.get("entities") or []
                        if e.get("entity") != "register"
                    ],
                }
            )
    return results


# -------------------------------------------------------------------------- metrics


def intent_scores(gold: Sequence[str], pred: Sequence[str]) -> Dict[str, Any]:
    labels = sorted(set(gold))
    per_intent = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, pred) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, pred) if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[label] = {"f1": f1, "support": tp + fn}
    accuracy = sum(1 for g, p in zip(gold, pred) if g == p) / len(gold) if gold else 0.0
    macro = statistics.fmean(v["f1"] for v in per_intent.values()) if per_intent else 0.0
    return {"accuracy": accuracy, "macro_f1": macro, "per_intent": per_intent}


def entity_scores(gold: Sequence[set], pred: Sequence[set]) -> Dict[str, float]:
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    n_pred = sum(len(p) for p in pred)
    n_gold = sum(len(g) for g in gold)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": n_gold}


def fallback_rates(
    records: Sequence[Dict[str, Any]], threshold: float, ambiguity: float
) -> Tuple[float, float]:
    """Share of wrong / correct predictions that the FallbackClassifier would reject."""
    wrong = [r for r in records if not r["correct"]]
    right = [r for r in records if r["correct"]]

    def rejected(r: Dict[str, Any]) -> bool:
        return r["confidence"] < threshold or (r["confidence"] - r["second"]) < ambiguity

    wrong_rejected = sum(map(rejected, wrong)) / len(wrong) if wrong else 0.0
    right_rejected = sum(map(rejected, right)) / len(right) if right else 0.0
    return wrong_rejected, right_rejected


def quantiles(values: Sequence[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1) + 0.5))]

    return f"{q(0.1):.2f} / {q(0.25):.2f} / {q(0.5):.2f} / {q(0.75):.2f}"


# ---------------------------------------------------------------------------- main


def fallback_configs(config_path: Path) -> Dict[str, Optional[Dict[str, Any]]]:
    return {
        "ours": split_fallback(load_yaml(config_path)["pipeline"])[1],
        "default": split_fallback(default_pipeline())[1],
    }


def from_json(path: Path, config_path: Path) -> Dict[str, Any]:
    """Rebuilds a run's result from its --json dump (to re-render the report)."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    records = saved["records"]
    first = next(iter(records.values()))["normal"]
    meta = saved.get("meta") or {
        "n_examples": len(first),
        "n_intents": len({r["gold"] for r in first}),
        "n_entity_examples": sum(1 for r in first if r["gold_entities"]),
    }
    return {"records": records, "times": saved["times"], **meta,
            "fallback": fallback_configs(config_path)}


def run(args: argparse.Namespace) -> Dict[str, Any]:
    # Rasa's imports print a screenful of deprecation warnings; nothing of ours.
    with contextlib.redirect_stderr(io.StringIO()):
        import rasa.model_training  # noqa: F401
        import rasa.core.agent  # noqa: F401

    config = load_yaml(ROOT / args.config)
    language = config.get("language", "pl")
    ours, our_fallback = split_fallback(config["pipeline"])
    default, default_fallback = split_fallback(default_pipeline())
    pipelines: Dict[str, List[Dict[str, Any]]] = {"ours": ours, "default": default}
    for extra in args.extra:
        label, _, path = extra.partition("=")
        pipelines[label] = split_fallback(load_yaml(Path(path))["pipeline"])[0]
    if args.only:
        pipelines = {k: v for k, v in pipelines.items() if k in args.only.split(",")}
    if args.quick:
        pipelines = {k: quick_pipeline(v, args.quick_epochs) for k, v in pipelines.items()}

    data = load_nlu(ROOT / args.data)
    examples = [m for m in data.intent_examples if m.get("text")]
    folds = stratified_folds(examples, args.folds, args.seed)
    log_path = Path(args.log)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("", encoding="utf-8")

    # what a partial --json dump needs to be rendered as the run it is part of
    meta = {
        "n_examples": len(examples),
        "n_intents": len(data.intents),
        "n_entity_examples": len(data.entity_examples),
        "folds": args.folds,
    }
    print(
        f"{len(examples)} examples, {len(data.intents)} intents, "
        f"{len(data.entity_examples)} with entities; {args.folds} folds; "
        f"pipelines: {', '.join(pipelines)}; training log: {log_path}",
        flush=True,
    )

    # records[pipeline][variant] = list of per-example dicts
    records: Dict[str, Dict[str, List[Dict[str, Any]]]] = {
        p: {"normal": [], "stripped": []} for p in pipelines
    }
    times: Dict[str, List[float]] = {p: [] for p in pipelines}
    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
        tmp_dir = Path(tmp)
        for label, pipeline in pipelines.items():
            write_config(tmp_dir / f"config-{label}.yml", pipeline, language)
        for fold_index, test_indices in enumerate(folds[: args.max_folds or None]):
            test_set = set(test_indices)
            train_examples = [e for i, e in enumerate(examples) if i not in test_set]
            test_examples = [examples[i] for i in test_indices]
            data_path = tmp_dir / f"train-{fold_index}.yml"
            make_training_data(data, train_examples).persist_nlu(str(data_path))
            texts = [e.get("text") for e in test_examples]
            stripped = [t.translate(STRIP) for t in texts]
            for label in pipelines:
                with redirect_fds(log_path):
                    model, seconds = train(
                        tmp_dir / f"config-{label}.yml",
                        data_path,
                        tmp_dir / "models",
                        f"{label}-{fold_index}",
                    )
                    normal_pred = predict(model, texts)
                    stripped_pred = predict(model, stripped)
                os.remove(model)
                times[label].append(seconds)
                for variant, preds in (("normal", normal_pred), ("stripped", stripped_pred)):
                    for example, pred in zip(test_examples, preds):
                        records[label][variant].append(
                            {
                                "text": example.get("text"),
                                "gold": example.get("intent"),
                                "pred": pred["intent"],
                                "confidence": pred["confidence"],
                                "second": pred["second"],
                                "correct": pred["intent"] == example.get("intent"),
                                "gold_entities": sorted(entity_spans(example.get("entities"))),
                                "pred_entities": sorted(entity_spans(pred["entities"])),
                            }
                        )
                acc = statistics.fmean(
                    r["correct"] for r in records[label]["normal"][-len(texts):]
                )
                acc_s = statistics.fmean(
                    r["correct"] for r in records[label]["stripped"][-len(texts):]
                )
                if args.json:  # partial results survive an interrupted run
                    dump_json(Path(args.json), records, times, meta)
                print(
                    f"fold {fold_index + 1}/{args.folds} {label:>8}: trained in {seconds:5.1f}s, "
                    f"accuracy {acc:.3f}, stripped {acc_s:.3f}",
                    flush=True,
                )

    return {
        "records": records,
        "times": times,
        **meta,
        "fallback": {"ours": our_fallback, "default": default_fallback},
        "data_dir": args.data,
        "pipelines": pipelines,
    }


def summarise(result: Dict[str, Any]) -> Dict[str, Any]:
    summary: Dict[str, Any] = {}
    for label, variants in result["records"].items():
        summary[label] = {}
        for variant, recs in variants.items():
            scores = intent_scores([r["gold"] for r in recs], [r["pred"] for r in recs])
            scores["entities"] = entity_scores(
                [set(map(tuple, r["gold_entities"])) for r in recs],
                [set(map(tuple, r["pred_entities"])) for r in recs],
            )
            summary[label][variant] = scores
    return summary


def render(result: Dict[str, Any], args: argparse.Namespace) -> str:
    summary = summarise(result)
    records = result["records"]
    labels = list(records)
    lines: List[str] = []
    add = lines.append
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    add("# NLU benchmark: our pipeline against " + ", ".join(
        "Rasa's default" if label == "default" else label for label in labels if label != "ours"))
    add("")
    add(
        f"Generated by `make bench-nlu` (`scripts/bench_nlu.py"
        f"{' --quick' if args.quick else ''} --folds {args.folds}"
        f"{f' --max-folds {args.max_folds}' if args.max_folds else ''}"
        f"{f' --only {args.only}' if args.only else ''}"
        + "".join(f" --extra {extra}" for extra in args.extra)
        + f"`) on {now}; "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"rasa {__import__('rasa').__version__}."
    )
    add("")
    add(
        f"Data: {result['n_examples']} intent examples of {result['n_intents']} intents "
        f"({result['n_entity_examples']} with entities) from `data/nlu/`; "
        f"{args.folds}-fold stratified cross-validation, seed {args.seed}. Every model is "
        "evaluated on its held-out fold as written (**normal**) and on the same fold with "
        "all Polish diacritics stripped (**stripped**: ą→a, ł→l, Ż→Z, ...), without retraining."
    )
    add("")
    add(
        "- **ours**: the `pipeline` of `config.yml`. **default**: the pipeline Rasa 3.6 "
        "auto-fills for a config without one (`default_config.yml`; `language: pl` does "
        "not change it), plus a fixed `random_seed` for DIET/ResponseSelector."
    )
    add(
        "- FallbackClassifier is left out of training and scoring for **both** pipelines "
        "(it has no weights): accuracy and F1 are of the classifier's top intent, so "
        "`nlu_fallback` is never counted. Its effect is measured separately below."
    )
    for extra in args.extra:
        label, _, path = extra.partition("=")
        add(f"- **{label}**: the `pipeline` of `{path}` (see its header).")
    add("- Macro-F1: unweighted mean of per-intent F1 over all folds pooled.")
    if args.max_folds:
        add(
            f"- **Folds run**: the first {args.max_folds} of the {args.folds} folds (each model "
            f"trains on {args.folds - 1}/{args.folds} of the data); the others were not run."
        )
    if args.quick:
        add(f"- **Quick run**: epochs capped at {args.quick_epochs}; numbers are a smoke test only.")
    add("")

    add("## Results")
    add("")
    add("| pipeline | data | macro-F1 | accuracy | entity F1 | median training time |")
    add("| --- | --- | ---: | ---: | ---: | ---: |")
    for label in labels:
        for variant in ("normal", "stripped"):
            s = summary[label][variant]
            add(
                f"| {label} | {variant} | {s['macro_f1']:.4f} | {s['accuracy']:.4f} | "
                f"{s['entities']['f1']:.4f} | {statistics.median(result['times'][label]):.1f} s |"
            )
    add("")
    def ratio(a: float, b: float) -> str:
        return f"{a / b:.3f}" if b else "-"

    others = [label for label in labels if label != "ours"]
    add("| ratio ours / other | data | macro-F1 | accuracy | entity F1 |")
    add("| --- | --- | ---: | ---: | ---: |")
    for other in others:
        for variant in ("normal", "stripped"):
            o, d = summary["ours"][variant], summary[other][variant]
            add(
                f"| ours / {other} | {variant} | {ratio(o['macro_f1'], d['macro_f1'])} | "
                f"{ratio(o['accuracy'], d['accuracy'])} | "
                f"{ratio(o['entities']['f1'], d['entities']['f1'])} |"
            )
    add("")
    if "default" in summary:
        beats = all(
            summary["ours"][v]["macro_f1"] > summary["default"][v]["macro_f1"]
            and summary["ours"][v]["accuracy"] >= summary["default"][v]["accuracy"]
            for v in ("normal", "stripped")
        )
        add(
            "Ours beats the default on both versions of the data: "
            f"**{'yes' if beats else 'NO'}**."
        )
        add("")
        add("| target | normal | stripped | |")
        add("|---|---:|---:|---|")
        ratios = {
            v: summary["ours"][v]["macro_f1"] / summary["default"][v]["macro_f1"]
            for v in ("normal", "stripped")
        }
        add(
            f"| macro-F1 ours / default ≥ {TARGET_RATIO} | {ratios['normal']:.3f} | "
            f"{ratios['stripped']:.3f} | "
            f"{'met' if min(ratios.values()) >= TARGET_RATIO else '**missed**'} |"
        )
        ours_f1 = {v: summary["ours"][v]["macro_f1"] for v in ("normal", "stripped")}
        add(
            f"| macro-F1 of ours ≥ {TARGET_MACRO_F1} | {ours_f1['normal']:.3f} | "
            f"{ours_f1['stripped']:.3f} | "
            f"{'met' if min(ours_f1.values()) >= TARGET_MACRO_F1 else '**missed**'} |"
        )
    else:
        add("Rasa's default pipeline was not run this time (`--only`).")
    add("")
    add(
        "Training time: median wall-clock seconds of one fold's NLU-only `train_nlu` "
        f"(training on {args.folds - 1}/{args.folds} of the data), times per fold: "
        + "; ".join(
            f"{label} " + ", ".join(f"{t:.0f}" for t in result["times"][label]) for label in labels
        )
        + "."
    )
    add("")

    add("## Per-intent F1")
    add("")
    header = "| intent | n | " + " | ".join(
        f"{label} {variant}" for label in labels for variant in ("normal", "stripped")
    ) + " |"
    add(header)
    add("| --- | ---: |" + " ---: |" * (2 * len(labels)))
    intents = sorted(summary["ours"]["normal"]["per_intent"])
    for intent in intents:
        n = summary["ours"]["normal"]["per_intent"][intent]["support"]
        cells = [
            f"{summary[label][variant]['per_intent'][intent]['f1']:.3f}"
            for label in labels
            for variant in ("normal", "stripped")
        ]
        add(f"| {intent} | {n} | " + " | ".join(cells) + " |")
    add("")

    add("## Top confusions (true → predicted, count over all folds)")
    add("")
    for label in labels:
        for variant in ("normal", "stripped"):
            confusions = Counter(
                (r["gold"], r["pred"]) for r in records[label][variant] if not r["correct"]
            )
            add(f"**{label}, {variant}**: " + (
                "; ".join(f"{g} → {p} ({c})" for (g, p), c in confusions.most_common(10))
                or "none"
            ))
            add("")

    add("## FallbackClassifier thresholds (ours)")
    add("")
    pooled = records["ours"]["normal"] + records["ours"]["stripped"]
    right = [r for r in pooled if r["correct"]]
    wrong = [r for r in pooled if not r["correct"]]
    add(
        "Top-intent confidence of our pipeline's predictions on the held-out folds "
        f"(normal and stripped pooled: {len(right)} correct, {len(wrong)} wrong); "
        "quantiles p10 / p25 / p50 / p75:"
    )
    add("")
    add(f"- correct: {quantiles([r['confidence'] for r in right])}")
    add(f"- wrong: {quantiles([r['confidence'] for r in wrong])}")
    add(
        f"- gap top1 − top2, correct: {quantiles([r['confidence'] - r['second'] for r in right])}; "
        f"wrong: {quantiles([r['confidence'] - r['second'] for r in wrong])}"
    )
    add("")
    add(
        "Share of wrong predictions the fallback would catch / share of correct ones it "
        "would lose (`threshold` on the top confidence, `ambiguity_threshold` on the gap):"
    )
    add("")
    add("| threshold | " + " | ".join(f"ambiguity {a}" for a in AMBIGUITY_GRID) + " |")
    add("| ---: |" + " ---: |" * len(AMBIGUITY_GRID))
    for threshold in FALLBACK_GRID:
        cells = []
        for ambiguity in AMBIGUITY_GRID:
            w, c = fallback_rates(pooled, threshold, ambiguity)
            cells.append(f"{w:.0%} / {c:.1%}")
        add(f"| {threshold} | " + " | ".join(cells) + " |")
    add("")
    for label in ("ours", "default"):
        fb = result["fallback"].get(label) if label in records else None
        if not fb:
            continue
        t, a = float(fb.get("threshold", 0.3)), float(fb.get("ambiguity_threshold", 0.1))
        for variant in ("normal", "stripped"):
            recs = records[label][variant]
            w, c = fallback_rates(recs, t, a)
            accepted = [
                r for r in recs if not (r["confidence"] < t or r["confidence"] - r["second"] < a)
            ]
            precision = statistics.fmean(r["correct"] for r in accepted) if accepted else 0.0
            n_wrong = sum(1 for r in recs if not r["correct"])
            n_right = len(recs) - n_wrong
            add(
                f"- {label} as configured (threshold {t}, ambiguity {a}), {variant}: catches "
                f"{w:.0%} of wrong ({round(w * n_wrong)}/{n_wrong}), loses {c:.1%} of correct "
                f"({round(c * n_right)}/{n_right}); accuracy of accepted answers "
                f"{precision:.4f} on {len(accepted)}/{len(recs)} messages."
            )
    add("")
    add(DECISIONS)
    return "\n".join(lines) + "\n"


def dump_json(
    path: Path, records: Dict[str, Any], times: Dict[str, Any], meta: Optional[Dict] = None
) -> None:
    path.write_text(
        json.dumps({"records": records, "times": times, "meta": meta}, ensure_ascii=False),
        encoding="utf-8",
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 folds, epochs capped: smoke run")
    parser.add_argument("--quick-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--config", default="config.yml")
    parser.add_argument("--data", default="data/nlu")
    parser.add_argument("--out", default="docs/benchmarks/nlu.md", help="'-' for none")
    parser.add_argument("--json", default="", help="also dump the raw per-example records")
    parser.add_argument("--log", default="var/bench-nlu.log", help="Rasa's training output")
    parser.add_argument(
        "--render-from", default="", metavar="JSON", help="re-render a --json dump, no training"
    )
    parser.add_argument("--only", default="", help="tuning: comma-separated pipeline labels")
    parser.add_argument("--max-folds", type=int, default=0, help="tuning: stop after N folds")
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="LABEL=CONFIG",
        help="another pipeline to compare (its config file's pipeline)",
    )
    args = parser.parse_args(argv)
    if args.quick and "--folds" not in (argv if argv is not None else sys.argv[1:]):
        args.folds = 2
    if args.folds < 2:
        parser.error("--folds must be at least 2")

    os.chdir(ROOT)
    if args.render_from:
        # Re-render a finished run's report (e.g. after changing the fallback thresholds
        # in config.yml) without retraining anything.
        result = from_json(Path(args.render_from), ROOT / args.config)
        args.folds = result.get("folds") or len(result["times"]["ours"])
        minutes = result.get("minutes")
    else:
        started = time.perf_counter()
        result = run(args)
        minutes = (time.perf_counter() - started) / 60
        result["minutes"] = minutes
        if args.json:
            meta_keys = ("n_examples", "n_intents", "n_entity_examples", "folds", "minutes")
            dump_json(
                Path(args.json),
                result["records"],
                result["times"],
                {k: result[k] for k in meta_keys},
            )
    if "ours" not in result["records"] or len(result["records"]) < 2:
        print("tuning run (not ours and another pipeline): records only")
        return 0
    report = render(result, args)
    if minutes:
        report += f"Whole benchmark: {minutes:.0f} minutes.\n"
    print()
    print(report)
    if args.out != "-":
        out = ROOT / args.out
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report, encoding="utf-8")
        print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
