"""Inference on the vectorised engine: calibration to data, sensitivity and optimisation, each
running its designs as ensembles (DESIGN §6, the ``infer`` stage).

This stage imports only the stages below it (parse, IR, compile, integrate, results, scenario).
"""
