"""Encoders: pretrained Chinese BERT-family models by alias or path, and from-scratch presets."""
