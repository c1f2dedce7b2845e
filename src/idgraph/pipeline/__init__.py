"""One change pipeline for every write: a typed change set, the stages that run on it inside the
writer's transaction (re-cluster, profile facts, views, segment membership), and the change feed
it is published to after the commit (docs/architecture.md)."""
