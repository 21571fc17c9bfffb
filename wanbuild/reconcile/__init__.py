"""Orchestration of apply: desired state, observation, the lock file, and execution of plans.
Decisions are made in wanbuild.core.plan; this package only gathers facts and carries them out."""
