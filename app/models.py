"""Every ORM model, imported in one place so metadata (and Alembic) sees all tables: the one
module that imports every package's models (outside the layers of `make lint`)."""

from app.audit.models import AuditEntry
from app.auth.models import ApiKey
from app.commentary.models import Commentary
from app.core.database import Base
from app.dashboard.models import ShareLink
from app.initiatives.models import Initiative
from app.readings.models import Reading, ReadingRollup
from app.scorecards.models import Measure, Objective, Scorecard
from app.webhooks.models import Delivery, DeliveryAttempt, Event, Subscription
from app.xapi.models import XapiStatement

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "Commentary",
    "Delivery",
    "DeliveryAttempt",
    "Event",
    "Initiative",
    "Measure",
    "Objective",
    "Reading",
    "ReadingRollup",
    "Scorecard",
    "ShareLink",
    "Subscription",
    "XapiStatement",
]
