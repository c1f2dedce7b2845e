"""Realistic multi-source ingest items, person by person. Pure: no I/O, no clock, no globals.

`person_items(seed, i)` yields what five sources know of person i (`people.py` says who that
is); `generate(n, seed)` chains people 0..n-1 lazily, so any number can be streamed in flat
memory. Same seed and reference time, same items, in the same order.

Sources (the `source` of each item, and its file in `dataset.py`):
- crm: one record per customer (crm id, e-mail, phone, name, gender, age, birthDate, address,
  newsletter);
- web: a login record per cookie (ecid with the e-mail, often in another case), page views
  keyed by the cookie alone;
- app: an account record (login with e-mail), a record per device the login was used on
  (device with login), app opens keyed by the device;
- pos: a loyalty member record (loyalty id with e-mail; tier, lifetime value, last purchase)
  and purchases keyed by the loyalty id (`value`);
- email: opens and clicks keyed by the e-mail.

Traps (the `trap` of an item): `junk_value` (a record carrying a block-listed value, rejected
whole), `email_case_variant` (`Jane.Doe@Example.COM ` for jane.doe@example.com),
`shared_device` (a couple's tablet: both log in on it; the linking rules give it to the most
recent login, never joining the two), `conflicting_attributes` (another age or city than the
CRM's). Events fall in the year before the reference time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from random import Random
from typing import Any

from idgraph.demo.people import (
    COUNTRIES,
    LANGUAGES,
    Person,
    cookie_id,
    device_id,
    make_person,
    person_rng,
)

SOURCES = ("crm", "web", "app", "pos", "email")
TRAPS = ("junk_value", "email_case_variant", "shared_device", "conflicting_attributes")
DEFAULT_NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
YEAR_SECONDS = 365 * 86_400
JUNK_EMAILS = ("test@test.com", "n/a", "noemail@noemail.com", "unknown", "null")
JUNK_PHONES = ("n/a", "0000000000", "-", "none")
PAGES = ("/", "/shoes", "/shoes/running", "/jackets", "/sale", "/cart", "/checkout", "/help")
CURRENCIES = {"SE": "SEK", "DE": "EUR", "NO": "NOK", "US": "USD"}
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Generated:
    """One ingest item (a record or an event) and the trap it sets, if any."""

    source: str
    item: Json
    trap: str | None = None

    @property
    def kind(self) -> str:
        return "event" if "eventId" in self.item else "record"


def generate(profiles: int, seed: int, now: dt.datetime = DEFAULT_NOW) -> Iterator[Generated]:
    """The items of people 0..profiles-1, one person at a time (lazy)."""
    for index in range(profiles):
        yield from person_items(seed, index, now)


def person_items(seed: int, index: int, now: dt.datetime = DEFAULT_NOW) -> Iterator[Generated]:
    """Everything the sources know of person `index` (drawn from (seed, index) alone)."""
    rng = person_rng(seed, index)
    now = now.astimezone(dt.UTC)
    person = make_person(seed, index, rng, now)
    crm, web, app, pos = (rng.random() < share for share in (0.7, 0.6, 0.35, 0.4))
    app = app or person.household.tablet is not None
    crm = crm or not (web or app or pos)
    if crm:
        yield _crm_record(person, rng, now)
    if web:
        yield from _web(person, rng, now, crm_knows_work_email=crm)
    if app:
        yield from _app(person, rng, now)
    if pos:
        yield from _pos(person, rng, now)
    if crm and person.newsletter:
        yield from _email_engagement(person, rng, now)


# -- sources ----------------------------------------------------------------------------------
def _crm_record(person: Person, rng: Random, now: dt.datetime) -> Generated:
    identities = [_id("crm", person.crm_id), _id("email", person.email)]
    if person.work_email:
        identities.append(_id("email", person.work_email))
    if person.phone:
        identities.append(_id("phone", person.phone))
    attributes = {
        "firstName": person.first_name, "lastName": person.last_name, "gender": person.gender,
        "age": person.age_at(now.date()), "birthDate": person.birth_date.isoformat(),
        "address": {"city": person.city, "country": person.country,
                    "postalCode": person.postal_code},
        "newsletter": person.newsletter}
    return Generated("crm", _record("crm", person.crm_id, _at(rng, now), identities, attributes))


def _web(person: Person, rng: Random, now: dt.datetime,
         crm_knows_work_email: bool) -> Iterator[Generated]:
    for k in range(rng.randint(1, 3)):
        cookie = cookie_id(rng)
        email, trap = _typed_email(person, rng)
        if crm_knows_work_email and person.work_email and rng.random() < 0.3:
            email, trap = person.work_email, None
        attributes: Json = {"preferredLanguage": LANGUAGES[person.country]}
        if rng.random() < 0.15:  # a delivery form filled in with another city
            attributes["address"] = {"city": _other_city(person, rng)}
            trap = trap or "conflicting_attributes"
        yield Generated("web", _record("web", f"login-{person.index}-{k}", _at(rng, now),
                                       [_id("ecid", cookie), _id("email", email)], attributes),
                        trap)
        for n in range(rng.randint(1, 6)):
            yield Generated("web", _event("web", f"pv-{person.index}-{k}-{n}", _at(rng, now),
                                          "web.pageView", [_id("ecid", cookie)],
                                          {"url": rng.choice(PAGES)}))
    if rng.random() < 0.03:  # a sign-up form filled in with a placeholder
        yield Generated("web", _record("web", f"signup-{person.index}", _at(rng, now),
                                       [_id("ecid", cookie_id(rng)),
                                        _id("email", rng.choice(JUNK_EMAILS))], {}),
                        "junk_value")


def _app(person: Person, rng: Random, now: dt.datetime) -> Iterator[Generated]:
    # The login reaches the person through the account record only, never through a device:
    # a tablet shared by a couple carries two logins (unique), so the rules keep them apart.
    yield Generated("app", _record("app", f"account-{person.login}", _at(rng, now),
                                   [_id("login", person.login), _id("email", person.email)], {}))
    own = [device_id(rng) for _ in range(rng.randint(0, 2))]
    tablet = person.household.tablet
    for k, device in enumerate(own + ([tablet] if tablet else [])):
        trap = "shared_device" if device == tablet else None
        attributes = {"platform": rng.choice(("ios", "android")),
                      "appVersion": f"5.{rng.randint(0, 9)}.{rng.randint(0, 20)}"}
        yield Generated("app", _record("app", f"session-{person.index}-{k}", _at(rng, now),
                                       [_id("device", device), _id("login", person.login)],
                                       attributes), trap)
        for n in range(rng.randint(1, 4)):
            yield Generated("app", _event("app", f"open-{person.index}-{k}-{n}", _at(rng, now),
                                          "app.open", [_id("device", device)], {}))


def _pos(person: Person, rng: Random, now: dt.datetime) -> Iterator[Generated]:
    loyalty = _id("loyalty", person.loyalty_id)
    purchases = sorted(_at(rng, now) for _ in range(rng.randint(0, 6)))
    total = 0.0
    for n, when in enumerate(purchases):
        value = round(rng.uniform(5, 300), 2)
        total += value
        yield Generated("pos", _event("pos", f"receipt-{person.index}-{n}", when,
                                      "commerce.purchase", [loyalty],
                                      {"value": value, "currency": CURRENCIES[person.country],
                                       "store": f"{person.city} #{rng.randint(1, 9)}",
                                       "items": rng.randint(1, 5)}))
    yield _member_record(person, rng, now, purchases, round(total, 2))
    if rng.random() < 0.02:  # the clerk typed a placeholder for the phone
        yield Generated("pos", _record("pos", f"member-update-{person.index}", _at(rng, now),
                                       [loyalty, _id("phone", rng.choice(JUNK_PHONES))], {}),
                        "junk_value")


def _member_record(person: Person, rng: Random, now: dt.datetime, purchases: list[str],
                   total: float) -> Generated:
    identities = [_id("loyalty", person.loyalty_id), _id("email", person.email)]
    if person.phone and rng.random() < 0.5:
        identities.append(_id("phone", person.phone))
    attributes: Json = {"loyaltyTier": _tier(total), "lifetimeValue": total}
    if purchases:
        attributes["lastPurchaseAt"] = purchases[-1]
    trap = None
    if rng.random() < 0.2:  # the age the member gave at the till, a year or two off
        attributes["age"] = person.age_at(now.date()) + rng.choice((-2, -1, 1, 2))
        trap = "conflicting_attributes"
    when = purchases[-1] if purchases else _at(rng, now)
    return Generated("pos", _record("pos", f"member-{person.loyalty_id}", when, identities,
                                    attributes), trap)


def _email_engagement(person: Person, rng: Random, now: dt.datetime) -> Iterator[Generated]:
    for n in range(rng.randint(0, 8)):
        when = _at(rng, now)
        kind = rng.choice(("email.open", "email.open", "email.click"))
        properties: Json = {"campaign": f"newsletter-{when[:7]}"}
        if kind == "email.click":
            properties["url"] = rng.choice(PAGES)
        yield Generated("email", _event("email", f"{kind}-{person.index}-{n}", when, kind,
                                        [_id("email", person.email)], properties))


# -- values -----------------------------------------------------------------------------------
def _typed_email(person: Person, rng: Random) -> tuple[str, str | None]:
    """The e-mail as typed into a login form: often capitalised, sometimes with a space."""
    if rng.random() < 0.5:
        return person.email, None
    local, domain = person.email.split("@")
    variant = ".".join(part.capitalize() for part in local.split("."))
    domain = domain.upper() if rng.random() < 0.5 else domain.capitalize()
    return f"{variant}@{domain}" + (" " if rng.random() < 0.3 else ""), "email_case_variant"


def _other_city(person: Person, rng: Random) -> str:
    cities = [city for city, _ in COUNTRIES[person.country][0] if city != person.city]
    return rng.choice(cities)


def _tier(total: float) -> str:
    return "platinum" if total >= 1000 else "gold" if total >= 500 else (
        "silver" if total >= 100 else "basic")


def _at(rng: Random, now: dt.datetime) -> str:
    """A moment in the year before `now`, to the second, in UTC."""
    when = now - dt.timedelta(seconds=rng.randrange(1, YEAR_SECONDS))
    # isoformat: twice as fast as strftime, which was the generator's largest cost
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _id(namespace: str, value: str) -> Json:
    return {"namespace": namespace, "value": value}


def _record(source: str, record_id: str, when: str, identities: list[Json],
            attributes: Json) -> Json:
    return {"source": source, "recordId": record_id, "timestamp": when,
            "identities": identities, "attributes": attributes}


def _event(source: str, event_id: str, when: str, kind: str, identities: list[Json],
           properties: Json) -> Json:
    return {"source": source, "eventId": event_id, "timestamp": when, "type": kind,
            "identities": identities, "properties": properties}
