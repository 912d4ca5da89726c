"""Every ORM model, imported in one place so metadata (and Alembic) sees all tables."""

from app.auth.models import ApiKey
from app.core.database import Base
from app.measures.models import Measure
from app.readings.models import Reading
from app.scorecards.models import Objective, Scorecard

__all__ = ["ApiKey", "Base", "Measure", "Objective", "Reading", "Scorecard"]
