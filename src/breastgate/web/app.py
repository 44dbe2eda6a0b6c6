"""FastAPI application factory."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from breastgate import __version__
from breastgate.risk.errors import RiskInputError
from breastgate.web.api import (
    compare,
    dicomweb,
    dicomweb_stow,
    events,
    governance,
    launch,
    lesions,
    oidc,
    problems,
    risk,
    sectra,
    signin,
    worklist,
)
from breastgate.web.api.access import SignInLimiter, check_rules, signed_in
from breastgate.web.api.deps import AppContext
from breastgate.web.api.limits import BodyLimit
from breastgate.web.api.monitoring import router as monitoring_router
from breastgate.web.api.routes import router
from breastgate.web.api.ups import router as ups_router
from breastgate.web.ui import pages


def create_app(context: AppContext) -> FastAPI:
    # No Swagger UI (it loads from a CDN, blank on an offline hospital network): the OpenAPI
    # document is served to signed-in users at /api/openapi.json.
    app = FastAPI(
        title="breastgate",
        version=__version__,
        description="Vendor-neutral gateway between PACS/RIS and breast imaging AI. "
        "Built-in algorithms are reference implementations; not for diagnostic use.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    app.state.sign_in_limiter = SignInLimiter()
    problems.install(app)
    app.add_middleware(BodyLimit)
    app.include_router(signin.router)
    app.include_router(oidc.router)
    app.include_router(router)
    app.include_router(events.router)  # before worklist: /worklist/events is not a study UID
    app.include_router(worklist.router)
    app.include_router(ups_router)
    app.include_router(governance.router)
    app.include_router(risk.router)
    app.include_router(compare.router)
    app.include_router(monitoring_router)
    app.include_router(sectra.router)
    app.include_router(launch.router)
    app.include_router(lesions.router)
    app.include_router(dicomweb.router)
    app.include_router(dicomweb_stow.router)
    app.add_exception_handler(RiskInputError, risk.input_problem)
    pages.install(app)

    @app.get("/api/openapi.json", include_in_schema=False, dependencies=[Depends(signed_in())])
    def openapi() -> dict[str, Any]:
        return app.openapi()

    check_rules(app)
    return app
