"""Heatmap methods: one small module per method over the shared core (:mod:`cnnviz.methods.core`).

Each module exports ``METHOD``, a :class:`cnnviz.methods.core.Method`; :mod:`cnnviz.explanation` keeps
the registry (name -> method) and does the common work (classes, layers, resizing, normalising).
"""
