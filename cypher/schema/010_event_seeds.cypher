// Segment rules that need a matching event start from the events (segments/seeds.py):
// `type = $t AND ts` in a window is one seek of this composite index. The (type, timestamp)
// index it replaces named a property no event has (events store their time as `ts`).
DROP INDEX event_type_time IF EXISTS;
CREATE INDEX event_type_ts IF NOT EXISTS FOR (e:Event) ON (e.type, e.ts);
