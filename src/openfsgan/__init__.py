"""openfsgan: subject-agnostic face swapping and reenactment after FSGAN (Nirkin et al.)."""

__version__ = "0.1.0"
TOOL_ID = "openfsgan"
