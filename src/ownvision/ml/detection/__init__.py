"""Object detection internals: network, training data, training loop and ONNX export.

The public entry point is :mod:`ownvision.ml.detector`; these modules are its parts:

- :mod:`~ownvision.ml.detection.network`: EfficientNet-Lite trunk + FPN + FCOS head, decoding to
  normalised boxes (the exported graph).
- :mod:`~ownvision.ml.detection.data`: image/box preparation, the feature cache and batches.
- :mod:`~ownvision.ml.detection.loop`: the time-budgeted optimisation loop and prediction.
- :mod:`~ownvision.ml.detection.export`: ONNX serialisation of the network.
"""
