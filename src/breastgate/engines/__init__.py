"""Third-party engines behind the :class:`~breastgate.algorithms.base.Algorithm` protocol: a vendor
DICOM node with de- and re-identification (:mod:`.dicom_node`, :mod:`.deid`), an ONNX model run here
(:mod:`.onnx_runner`) and a vendor service over HTTP (:mod:`.http_engine`), configured in one TOML
file (:mod:`.config`). They return the same engine-neutral
:class:`~breastgate.domain.model.AlgorithmResult` as the built-ins."""
