"""The bundled demo: procedural images with known ground truth and the small CNN trained on them.

- :mod:`cnnviz.demo.shapes`: the shapes generator (images, masks, seeds; no TensorFlow);
- :mod:`cnnviz.demo.model`: the demo CNN's architecture and the loading of its bundled weights;
- :mod:`cnnviz.demo.train`: its training script (``python -m cnnviz.demo.train``);
- :mod:`cnnviz.demo.digits`: generated handwritten digits (no TensorFlow), the data of
- :mod:`cnnviz.demo.lenet`: LeNet-5, the second demo model, trained by :mod:`cnnviz.demo.train_lenet`.

Importing this package loads no TensorFlow.
"""
