"""forensics: offline log forensics for LLM API distillation campaigns."""

__version__ = "0.1.0"
