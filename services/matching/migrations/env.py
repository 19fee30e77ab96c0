from services.matching.models import Base
from shared.db.alembic_env import run

run(Base.metadata)
