"""FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from breastgate import __version__
from breastgate.risk.errors import RiskInputError
from breastgate.web.api import compare, governance, launch, lesions, problems, risk, sectra, worklist
from breastgate.web.api.deps import AppContext
from breastgate.web.api.monitoring import router as monitoring_router
from breastgate.web.api.routes import router
from breastgate.web.api.ups import router as ups_router


def create_app(context: AppContext) -> FastAPI:
    app = FastAPI(
        title="breastgate",
        version=__version__,
        description="Vendor-neutral gateway between PACS/RIS and breast imaging AI. "
        "Built-in algorithms are reference implementations; not for diagnostic use.",
    )
    app.state.context = context
    problems.install(app)
    app.include_router(router)
    app.include_router(worklist.router)
    app.include_router(ups_router)
    app.include_router(governance.router)
    app.include_router(risk.router)
    app.include_router(compare.router)
    app.include_router(monitoring_router)
    app.include_router(sectra.router)
    app.include_router(launch.router)
    app.include_router(lesions.router)
    app.add_exception_handler(RiskInputError, risk.input_problem)
    return app
