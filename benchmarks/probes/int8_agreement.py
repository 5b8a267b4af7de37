"""How closely the int8 generator follows its float32 weights: on one 600-token prompt (sample_docs text), the share
of positions where the int8 model's next-token choice is the float32 model's, and the mean KL divergence of its
next-token distribution from theirs. Three ways of quantising each layer's input are compared: one scale per call
(fbgemm's own), one scale per token (the default), and no input quantisation (int8 weights only: the floor).

    .venv/bin/python benchmarks/probes/int8_agreement.py [--model qwen2.5-coder-1.5b] [--out FILE.json]

Needs the float32 copy saved beside the GGUF (made on first use: several GB) and the int8 copy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from rag.core.config import load_config
    from rag.eval.meta import run_meta
    from rag.llm.int8 import load_int8
    from rag.llm.int8_linear import Int8Linear
    from rag.llm.tokens import gguf_tokenizer
    from rag.models.packaged import resolve_gguf

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "int8-agreement.json"))
    args = parser.parse_args()
    gguf = Path(resolve_gguf(args.model))
    ids = gguf_tokenizer(gguf)(" ".join(p.read_text() for p in sorted((ROOT / "sample_docs").glob("*.md")))[:4000],
                               return_tensors="pt")["input_ids"][:, :600]
    with torch.inference_mode():
        reference = AutoModelForCausalLM.from_pretrained(str(gguf.with_suffix(".fp32")), dtype=torch.float32).eval()
        expected = reference(ids).logits[0]
        del reference
        model = load_int8(str(gguf.with_suffix(".int8")))
        per_token = Int8Linear.forward

        def per_call(self: Int8Linear, x: torch.Tensor) -> torch.Tensor:
            y = self._mm(x.reshape(-1, self.in_features))
            return (y if self.bias is None else y + self.bias).reshape(*x.shape[:-1], self.out_features)

        def float_inputs(self: Int8Linear, x: torch.Tensor) -> torch.Tensor:
            int8, scale, bias = self.weight_scale_bias()
            return torch.nn.functional.linear(x, int8.float() * scale[:, None], bias)

        results = {}
        for name, forward in (("one scale per call", per_call), ("one scale per token (default)", per_token),
                              ("int8 weights, float inputs", float_inputs)):
            Int8Linear.forward = forward
            got = model(ids).logits[0]
            p, q = expected.log_softmax(-1), got.log_softmax(-1)
            results[name] = {"top1_agreement": round((expected.argmax(-1) == got.argmax(-1)).float().mean().item(), 4),
                             "mean_kl": round((p.exp() * (p - q)).sum(-1).mean().item(), 5)}
            print(f"{name:32} next token agrees at {results[name]['top1_agreement']:.4f}, mean KL {results[name]['mean_kl']}")
        Int8Linear.forward = per_token
    meta = run_meta(load_config(None, {"generate.model": args.model}, environ={}), program="benchmarks/probes/int8_agreement.py")
    Path(args.out).write_text(json.dumps({"meta": meta, "prompt_tokens": int(ids.shape[1]), "results": results}, indent=1) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
