"""Response models of the public JSON routes, so OpenAPI (``/openapi.json``) documents them.

Routes keep building plain dicts; FastAPI validates them against these models and serializes
them with ``response_model_exclude_unset=True``, so a key a route leaves out stays out (no new
nulls) and numbers keep their JSON type (:data:`~breastgate.web.api.schemas.base.Number`). The
bodies are the ones the routes answered before the models: tests compare them key for key.

- :mod:`.results`: the results JSON ``breastgate.results/1`` (DESIGN §4).
- :mod:`.gateway`: health, studies, orders, report drafts, the worklist.
- :mod:`.governance`: algorithms and modes, feedback, approval, outcomes, audit.
- :mod:`.monitoring`: monitoring and drift reports, version comparisons.
- :mod:`.risk`: BCRAT and Tyrer-Cuzick answers, launch links, Sectra's Data Provider.

Not modelled: UPS-RS (``/ups-rs``) answers DICOM JSON (``application/dicom+json``, PS3.18 F.2),
whose shape is the DICOM standard's, not ours.
"""
