"""Int8 copies of a model's linear weights for writing an answer one token at a time."""

from __future__ import annotations


class Int8Writer:
    """A linear layer that keeps its bf16 weights for reading the prompt, where AMX multiplies bf16 matrices
    fast, and an int8 copy (one scale per output row) for writing, one token at a time, where every step reads
    all the weights from memory and half the bytes make it about 1.6x faster (docs/benchmarks.md)."""

    def __init__(self, linear):  # noqa: ANN001 - a torch.nn.Linear
        import torch

        weight = linear.weight.detach()
        scale = weight.abs().amax(dim=1).float().clamp(min=1e-8) / 127
        # in place on one float copy: a third of the time of fresh tensors at every step (seconds at load)
        self.int8 = weight.float().div_(scale[:, None]).round_().clamp_(-128, 127).to(torch.int8)
        self.scale = scale.to(weight.dtype)
        self.linear = linear
        self._bf16_mm = torch.nn.functional.linear  # looked up once: this runs for every layer at every token
        self._int8_mm = torch.ops.aten._weight_int8pack_mm

    def __call__(self, x):  # noqa: ANN001, ANN204 - a torch.Tensor
        bias = self.linear.bias
        if x.dim() != 3 or x.shape[1] != 1:  # a prompt: several tokens at once
            return self._bf16_mm(x, self.linear.weight, bias)
        y = self._int8_mm(x.reshape(-1, x.shape[-1]).contiguous(), self.int8, self.scale)
        return (y if bias is None else y + bias).reshape(*x.shape[:-1], -1)


def write_in_int8(model) -> None:  # noqa: ANN001 - a transformers model
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.forward = Int8Writer(module)  # the module stays: tied weights and saving see no change


def int8_writing_available() -> bool:
    import torch

    return hasattr(torch.ops.aten, "_weight_int8pack_mm")
