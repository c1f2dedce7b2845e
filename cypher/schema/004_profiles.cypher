// Merged profile views: merge policies, computed attribute definitions and their per-identity
// running state, and the lookups the profile reads and deletions use.
CREATE CONSTRAINT merge_policy_id IF NOT EXISTS FOR (m:MergePolicy) REQUIRE m.id IS UNIQUE;
CREATE CONSTRAINT merge_policy_name IF NOT EXISTS FOR (m:MergePolicy) REQUIRE m.name IS UNIQUE;
CREATE INDEX merge_policy_default IF NOT EXISTS FOR (m:MergePolicy) ON (m.isDefault);
CREATE CONSTRAINT computed_attribute_name IF NOT EXISTS FOR (d:ComputedAttribute) REQUIRE d.name IS UNIQUE;
CREATE CONSTRAINT computed_value_id IF NOT EXISTS FOR (c:ComputedValue) REQUIRE c.id IS UNIQUE;
CREATE INDEX computed_value_def IF NOT EXISTS FOR (c:ComputedValue) ON (c.def);
CREATE INDEX profile_alias_merged_into IF NOT EXISTS FOR (a:ProfileAlias) ON (a.mergedInto);
CREATE INDEX event_ts IF NOT EXISTS FOR (e:Event) ON (e.ts);
CREATE INDEX event_type IF NOT EXISTS FOR (e:Event) ON (e.type);
