import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_GLUE = REPO.parent / "shared" / "glue"


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
