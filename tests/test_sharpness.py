"""Top Hessian eigenvalue: power iteration on HVPs equals the explicit Hessian's, on a tiny BERT."""
import torch

from bertscape.batches import make_batches
from bertscape.modeling import base_prefix, is_encoder_param
from bertscape.sharpness import hvp, load_for_hessian, top_eigenvalue


def tiny_bert(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    cfg = BertConfig(vocab_size=12, hidden_size=4, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8,
                     max_position_embeddings=8, type_vocab_size=2, num_labels=2)
    cfg.save_pretrained(tmp_path)
    torch.manual_seed(0)
    ref = BertForSequenceClassification(cfg)
    for p in ref.parameters():  # large weights: a well-separated top eigenvalue, so few iterations are needed
        p.data.normal_(0, 0.5)
    model = load_for_hessian(tmp_path, ref.state_dict(), 2).double()
    data = {"input_ids": torch.randint(0, 12, (6, 6)), "token_type_ids": torch.zeros(6, 6, dtype=torch.long),
            "lengths": torch.tensor([3, 5, 6, 4, 6, 2]), "labels": torch.tensor([0, 1, 1, 0, 1, 0])}
    return model, make_batches(data, torch.arange(6), "train", 100), make_batches(data, torch.arange(6), "train", 12)


def test_power_iteration_finds_the_largest_magnitude_eigenvalue(tmp_path):
    model, batches, split = tiny_bert(tmp_path)
    prefix = base_prefix(model)
    params = [p for n, p in model.named_parameters() if is_encoder_param(n, prefix)]
    for n, p in model.named_parameters():
        p.requires_grad_(is_encoder_param(n, prefix))
    sizes = [p.numel() for p in params]
    cols = []
    for k in range(sum(sizes)):  # the explicit Hessian, one basis vector at a time
        e = torch.zeros(sum(sizes), dtype=torch.float64)
        e[k] = 1
        cols.append(torch.cat([h.reshape(-1) for h in hvp(model, params, batches, [x.view_as(p) for x, p in
                                                                                    zip(e.split(sizes), params)])]))
    H = torch.stack(cols, 1)
    v = [torch.randn_like(p) for p in params]  # the loss is a mean: HVPs accumulated over padded batches agree
    assert len(split) > 1 and all(torch.allclose(a, b, atol=1e-12) for a, b in
                                  zip(hvp(model, params, batches, v), hvp(model, params, split, v)))
    assert torch.allclose(H, H.T, atol=1e-8)  # a real Hessian is symmetric
    eig = torch.linalg.eigvalsh((H + H.T) / 2)
    expected = float(eig[eig.abs().argmax()])
    r = top_eigenvalue(model, batches, iters=500, tol=1e-11, seed=0)
    assert abs(r["lambda_max"] - expected) <= 1e-6 * abs(expected), (r, expected)
    assert r["parameters"] == sum(sizes) and r["examples"] == 6
