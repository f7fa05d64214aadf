"""Media I/O: images, streamed video (PyAV), atomic outputs, the analysis cache."""
