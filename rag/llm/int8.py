"""A model's linear layers in int8: copies for writing one token at a time beside bf16 weights (AMX CPUs), or
every product computed in int8 (VNNI CPUs), and a saved int8 copy that loads without a new conversion."""

from __future__ import annotations

from pathlib import Path


def int8_rows(weight):  # noqa: ANN001, ANN201 - torch tensors
    """A weight matrix as int8 rows and one float32 scale per row (a row's largest magnitude becomes 127). Worked
    in place on one float32 copy, a third of the time of fresh tensors at every step (seconds at load); the copy
    leaves the weight itself alone (tied to the embeddings in some models)."""
    import torch

    rows = weight.detach().to(torch.float32, copy=True)
    scale = rows.abs().amax(dim=1).clamp(min=1e-8) / 127
    return rows.div_(scale[:, None]).round_().clamp_(-127, 127).to(torch.int8), scale


class Int8Writer:
    """A linear layer that keeps its bf16 weights for reading the prompt, where AMX multiplies bf16 matrices
    fast, and an int8 copy (one scale per output row) for writing, one token at a time, where every step reads
    all the weights from memory and half the bytes make it about 1.6x faster (docs/benchmarks.md)."""

    def __init__(self, linear):  # noqa: ANN001 - a torch.nn.Linear
        import torch

        self.int8, scale = int8_rows(linear.weight)
        self.scale = scale.to(linear.weight.dtype)
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


def compute_in_int8(model, reduce_range: bool | None = None) -> None:  # noqa: ANN001 - a transformers model
    """Every linear layer in int8 (``Int8Linear``; ``reduce_range`` as there). Where the CPU has VNNI (and no bf16
    hardware) this reads a prompt about three times faster than fp32 or the AVX2 llama.cpp wheel and writes as fast
    as the wheel (docs/benchmarks.md)."""
    import torch

    from rag.llm.int8_linear import Int8Linear

    for name, module in list(model.named_modules()):
        if isinstance(module, torch.nn.Linear):
            int8, scale = int8_rows(module.weight)
            bias = None if module.bias is None else module.bias.detach().float()
            _replace(model, name, Int8Linear(int8, scale, bias, reduce_range))


def embeddings_in_int8(model) -> None:  # noqa: ANN001 - a transformers model after compute_in_int8
    """The input embedding table in int8 (``Int8Embedding``); done after loading, so the saved copy keeps it as it
    was. A table that a float output layer still reads (tied weights) stays; an int8 output layer has its own copy."""
    import torch

    from rag.llm.int8_linear import Int8Embedding

    table = model.get_input_embeddings()
    output = model.get_output_embeddings()
    tied = isinstance(output, torch.nn.Linear) and output.weight is table.weight
    if not isinstance(table, torch.nn.Embedding) or table.weight.dtype != torch.float32 or tied:
        return
    weight = table.weight.detach()
    int8 = torch.empty(weight.shape, dtype=torch.int8)
    scale = torch.empty(weight.shape[0], dtype=torch.float32)
    for lo in range(0, weight.shape[0], 8192):  # a block at a time: no float32 copy of the whole table
        int8[lo : lo + 8192], scale[lo : lo + 8192] = int8_rows(weight[lo : lo + 8192])
    model.set_input_embeddings(Int8Embedding(int8, scale))


def release_freed_memory() -> None:
    """Hands memory freed while loading back to the system. glibc keeps freed blocks for reuse, and the weights
    pass through temporary copies (read, quantised, packed): without this the int8 1.5B holds about 0.8 GB more
    than it uses, for as long as the process lives."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to hand back this way
        pass


INT8_FILE = "int8.safetensors"


def save_int8(model, folder: str) -> None:  # noqa: ANN001 - a model after compute_in_int8
    """The model's config and weights: each int8 layer as its int8 matrix, row scales and bias; the rest as is."""
    from safetensors.torch import save_file

    from rag.llm.int8_linear import Int8Linear

    tensors = {}
    for name, module in model.named_modules():
        if isinstance(module, Int8Linear):
            int8, scale, bias = module.weight_scale_bias()
            tensors[f"{name}.int8"] = int8.contiguous()
            tensors[f"{name}.scale"] = scale.contiguous()
            if bias is not None:
                tensors[f"{name}.bias"] = bias.contiguous()
    tensors.update((key, value.contiguous()) for key, value in model.state_dict().items())
    Path(folder).mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(folder)
    save_file(tensors, str(Path(folder) / INT8_FILE))


def load_int8(folder: str):  # noqa: ANN201 - a transformers model
    """A model saved by ``save_int8``: built without weights, its int8 layers put in, the rest read into place."""
    import torch
    from accelerate import init_empty_weights
    from safetensors import safe_open
    from transformers import AutoConfig, AutoModelForCausalLM

    from rag.llm.int8_linear import Int8Linear

    config = AutoConfig.from_pretrained(folder)
    with init_empty_weights():  # parameters on the meta device; buffers (rotary frequencies) made for real
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    # one tensor at a time, read into memory of its own: a memory-mapped file would stay resident (about a GB
    # more) for as long as any of its tensors lives, and reading it whole doubles the peak while loading
    with safe_open(str(Path(folder) / INT8_FILE), framework="pt", backend="pread") as tensors:
        keys = set(tensors.keys())
        for key in sorted(k for k in keys if k.endswith(".int8")):
            name = key.removesuffix(".int8")
            bias = tensors.get_tensor(f"{name}.bias") if f"{name}.bias" in keys else None
            _replace(model, name, Int8Linear(tensors.get_tensor(key), tensors.get_tensor(f"{name}.scale"), bias))
            keys -= {key, f"{name}.scale", f"{name}.bias"}
        for key in sorted(keys):
            owner, _, attr = key.rpartition(".")
            module = model.get_submodule(owner)
            value = tensors.get_tensor(key)
            if attr in module._parameters:
                module._parameters[attr] = torch.nn.Parameter(value, requires_grad=False)
            else:
                module._buffers[attr] = value
    missing = [name for name, p in model.named_parameters() if p.is_meta]
    if missing:
        raise ValueError(f"{folder} lacks {len(missing)} weights ({missing[0]}, ...)")
    return model.eval()


def _replace(model, name: str, layer) -> None:  # noqa: ANN001
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, layer)
