"""Adapters that put third-party engines behind the :class:`~breastgate.algorithms.base.Algorithm`
protocol: a vendor DICOM node (:mod:`.dicom_node`), an ONNX model run here (:mod:`.onnx_runner`)
and a vendor service over HTTP (:mod:`.http_engine`). They return the same engine-neutral
:class:`~breastgate.domain.model.AlgorithmResult` as the built-ins.
"""
