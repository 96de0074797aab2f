"""Analysis of models and runs: causal structure, feedback loops."""
