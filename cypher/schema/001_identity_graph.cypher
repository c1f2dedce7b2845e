// Identity graph: identities, their links and the profile clusters they form.
CREATE CONSTRAINT identity_key IF NOT EXISTS FOR (i:Identity) REQUIRE i.key IS UNIQUE;
CREATE INDEX identity_namespace IF NOT EXISTS FOR (i:Identity) ON (i.namespace);
CREATE CONSTRAINT profile_id IF NOT EXISTS FOR (p:Profile) REQUIRE p.id IS UNIQUE;
CREATE CONSTRAINT profile_alias_id IF NOT EXISTS FOR (a:ProfileAlias) REQUIRE a.id IS UNIQUE;
CREATE INDEX link_source IF NOT EXISTS FOR ()-[l:LINK]-() ON (l.source);
CREATE INDEX cluster_change_profile IF NOT EXISTS FOR (c:ClusterChange) ON (c.profileId);
