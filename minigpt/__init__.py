"""minigpt: build a GPT from scratch in PyTorch, one chapter at a time."""

__version__ = "0.1.0"
