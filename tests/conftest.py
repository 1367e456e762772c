import copy
import os
from pathlib import Path

import pytest
import torch
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_GLUE = REPO.parent / "shared" / "glue"
TINY = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())  # seed 7

# The lightest per-seed DAG of the tiny config that still trains, moves and evaluates every run: the 3-node grid,
# no layer surfaces, no flatness record or filter-normalised curves (per-run computations tested on their own).
LIGHT = {"grid": {"min": -2.0, "max": 2.0, "points": 3, "curve_points": 5, "shards": 1}, "layers": {"tasks": []},
         "flatness": {"enabled": False, "filter_directions": {"enabled": False}}}


def tiny_with(**keys) -> dict:
    """config/tiny.yaml with these top-level keys replaced (a fresh copy each call)."""
    c = copy.deepcopy(TINY)
    c.update(keys)
    return c


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A small random "pre-trained" BERT (3 layers, hidden 32) saved as a local model directory."""
    from transformers import BertConfig, BertModel

    d = tmp_path_factory.mktemp("tiny_bert")
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=64)).save_pretrained(d)
    return d


def random_data(n: int, vocab: int, max_len: int, num_labels: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(4, max_len + 1, (n,), generator=g)
    ids = torch.zeros(n, max_len, dtype=torch.int32)
    types = torch.zeros(n, max_len, dtype=torch.int8)
    for i, L in enumerate(lengths.tolist()):
        ids[i, :L] = torch.randint(1, vocab, (L,), generator=g)
        types[i, L // 2:L] = 1
    return {"input_ids": ids, "token_type_ids": types, "lengths": lengths.int(),
            "labels": torch.randint(0, num_labels, (n,), generator=g)}


ARCHITECTURES = ["bert", "roberta", "distilbert", "electra", "deberta-v2", "xlm-roberta", "modernbert"]


def tiny_config(kind: str, vocab: int = 120, layers: int = 3, max_pos: int = 80, hidden: int = 32):
    """A tiny random config of each supported architecture (hidden 32, 4 heads, FFN 64 by default), built locally
    (no hub); ``hidden`` scales it (heads of 8 dims below 64, else of 32; FFN 2x, or 4x from 64 on)."""
    import transformers as tf

    heads, inter = (hidden // 8, 2 * hidden) if hidden < 64 else (hidden // 32, 4 * hidden)
    common = dict(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                  intermediate_size=inter, max_position_embeddings=max_pos)
    if kind == "bert":
        return tf.BertConfig(**common)
    if kind == "roberta":
        return tf.RobertaConfig(**common, type_vocab_size=1)
    if kind == "xlm-roberta":
        return tf.XLMRobertaConfig(**common, type_vocab_size=1)
    if kind == "electra":
        return tf.ElectraConfig(**common, embedding_size=hidden // 2)
    if kind == "deberta-v2":
        return tf.DebertaV2Config(**common, relative_attention=True, pos_att_type=["p2c", "c2p"], max_relative_positions=-1,
                                  position_buckets=16, type_vocab_size=0, norm_rel_ebd="layer_norm", share_att_key=True)
    if kind == "distilbert":
        return tf.DistilBertConfig(vocab_size=vocab, dim=hidden, n_layers=layers, n_heads=heads, hidden_dim=inter,
                                   max_position_embeddings=max_pos)
    if kind == "modernbert":
        return tf.ModernBertConfig(**common, global_attn_every_n_layers=2, local_attention=16,
                                   pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1, sep_token_id=2)
    raise ValueError(kind)


def save_tiny(kind: str, d: Path, vocab: int = 120, layers: int = 3, seed: int = 0) -> Path:
    """A tiny random "pre-trained" encoder of ``kind`` saved as a local model directory (base model, no head)."""
    from transformers import AutoModel

    torch.manual_seed(seed)
    AutoModel.from_config(tiny_config(kind, vocab, layers)).save_pretrained(d)
    return d


def reference(s: dict, state: dict) -> dict:
    """transformers' own evaluation (3 labels, 160-token batches) of ``state`` on ``s["dev"]``, model from ``s["dir"]``."""
    from bertscape.modeling import build_model
    from bertscape.train import evaluate

    m = build_model(s["dir"], 3, "finetune", 0)
    m.load_state_dict(state)
    return evaluate(m, s["dev"], 160)


_THREADS = torch.get_num_threads()  # the session's, before any test (a module-scoped fixture may change it first)
_THREAD_ENV = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}


@pytest.fixture(autouse=True)
def _restore_threads():
    """bertscape.runner.run sets torch's thread count (and OMP_NUM_THREADS) for the whole process, as a job must;
    tests that call it in-process must not change the arithmetic of later tests (a run split across processes
    compares bit for bit only at equal thread counts): after each test, the session's count and variables."""
    yield
    torch.set_num_threads(_THREADS)
    for k, v in _THREAD_ENV.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
