"""How long the transformers backend takes to read a prompt, on this machine, right now.

    .venv/bin/python benchmarks/probes/prefill_timing.py [--model qwen2.5-coder-1.5b] [--weights plain|clone|packed]

Interleaves, three times in one process: ``model.generate`` for one new token (the raw prompt read) and the
backend's streaming path up to its first piece, on the same chat prompt (about 980 tokens). ``--weights clone``
copies the memory-mapped weights into anonymous memory first; ``--weights packed`` swaps every linear layer for
one whose weights are reordered once for oneDNN. Measured numbers: docs/benchmarks.md, "Timing probes".
"""

import argparse
import time

import torch

from rag.llm.factory import packaged_or_given
from rag.llm.transformers_backend import Transformers


class Packed(torch.nn.Module):
    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        self.out_features = linear.out_features
        self.weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), 512)
        self.bias = None if linear.bias is None else linear.bias.detach().clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).contiguous()
        return torch.ops.mkldnn._linear_pointwise(flat, self.weight, self.bias, "none", [], "").reshape(*x.shape[:-1], -1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--weights", choices=["plain", "clone", "packed"], default="plain")
    args = parser.parse_args()
    llm = Transformers(packaged_or_given(args.model, None))
    model, tokenizer = llm._load()
    with torch.no_grad():
        if args.weights == "clone":
            for p in model.parameters():
                p.data = p.data.clone()
        elif args.weights == "packed":
            for module in list(model.modules()):
                for name, child in list(module.named_children()):
                    if isinstance(child, torch.nn.Linear):
                        setattr(module, name, Packed(child))
    text = "The station keeps 18,000 litres of drinking water and the desalination plant makes 4,000 litres a day. "
    messages = [{"role": "system", "content": "Answer from the passages only. " * 5},
                {"role": "user", "content": text * 30 + "\nQuestion: how much water?\nAnswer:"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    print(f"{args.model}, weights {args.weights}, {torch.get_num_threads()} threads, {ids['input_ids'].shape[-1]} prompt tokens")

    def raw() -> float:
        with torch.no_grad():
            start = time.perf_counter()
            model.generate(**ids, max_new_tokens=1, do_sample=False)
            return time.perf_counter() - start

    def first_piece() -> float:
        llm._previous = None  # no cached prefix: the whole prompt is read
        start = time.perf_counter()
        pieces = llm.stream(messages, 8)
        next(pieces)
        took = time.perf_counter() - start
        list(pieces)
        return took

    raw()  # warm up
    for _ in range(3):
        print(f"generate(1 token) {raw():.2f} s   stream to first piece {first_piece():.2f} s")


if __name__ == "__main__":
    main()
