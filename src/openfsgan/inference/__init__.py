"""Running the trained generators: ONNX Runtime sessions of the shipped (or given) models."""

from openfsgan.inference.sessions import (
    STAGES,
    GeneratorSession,
    NeuralModels,
    execution_providers,
    load_session,
    shipped_model_dir,
)

__all__ = ["STAGES", "GeneratorSession", "NeuralModels", "execution_providers", "load_session",
           "shipped_model_dir"]
