"""Synthetic people for the data generator: who person i is, the same from every source. Pure.

A person is drawn from a random generator seeded from (seed, index) alone, so any person can be
made without the others (generation streams, and is the same whatever the profile count).
People 2k and 2k+1 form household k, drawn from (seed, k): some households are couples sharing
a surname and an address, and some couples share a tablet (the shared-device trap).
Identity values are built from the index, so two people never share one by chance (unique up to
10,000,000 people; past that, phone numbers repeat).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from dataclasses import dataclass
from random import Random

COUPLE_SHARE = 0.3  # households whose two members live together
SHARED_TABLET_SHARE = 0.2  # couples whose app logins share one tablet

FIRST_NAMES = {
    "female": ("Anna", "Maria", "Sofia", "Emma", "Olivia", "Jane", "Åsa", "Ingrid", "Laura",
               "Chloe", "Hanna", "Julia", "Sarah", "Grace", "Lena", "Nora"),
    "male": ("Erik", "Lars", "Johan", "Oliver", "Lucas", "John", "Jürgen", "Noah", "Liam",
             "Felix", "David", "Henrik", "James", "Oskar", "Max", "Paul"),
}
LAST_NAMES = ("Andersson", "Johansson", "Lindström", "Svensson", "Müller", "Schmidt", "Weber",
              "Smith", "Johnson", "Brown", "Garcia", "Miller", "Hansen", "Olsen", "Berg",
              "Nilsson", "Fischer", "Wagner", "Taylor", "Moore", "Larsen", "Doe")
# country -> (cities with a postal code, phone prefix, digits of the index in the number)
COUNTRIES = {
    "SE": ((("Stockholm", "114 55"), ("Gothenburg", "411 04"), ("Malmö", "211 20"),
            ("Uppsala", "753 10")), "+46 70", 7),
    "DE": ((("Berlin", "10115"), ("Hamburg", "20095"), ("Munich", "80331"),
            ("Cologne", "50667")), "+49 151", 8),
    "NO": ((("Oslo", "0150"), ("Bergen", "5003"), ("Trondheim", "7011")), "+47 9", 7),
    "US": ((("New York", "10001"), ("Chicago", "60601"), ("Seattle", "98101"),
            ("Austin", "73301")), "+1", 0),
}
US_AREA_CODES = (212, 312, 206, 512, 415, 617, 713, 303, 404, 646)
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
LANGUAGES = {"SE": "sv", "DE": "de", "NO": "no", "US": "en"}


@dataclass(frozen=True, slots=True)
class Household:
    couple: bool
    last_name: str
    country: str
    city: str
    postal_code: str
    tablet: str | None  # the device id both members log in on, when they share one


@dataclass(frozen=True, slots=True)
class Person:
    index: int
    first_name: str
    last_name: str
    gender: str
    birth_date: dt.date
    country: str
    city: str
    postal_code: str
    email: str  # primary, as the CRM holds it (lowercase)
    work_email: str | None
    phone: str | None  # international, spaced like a person types it
    login: str
    newsletter: bool
    household: Household

    @property
    def crm_id(self) -> str:
        return f"C-{self.index:08d}"

    @property
    def loyalty_id(self) -> str:
        return f"L{self.index:09d}"

    def age_at(self, day: dt.date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def person_rng(seed: int, index: int) -> Random:
    """The random generator of person `index`: seeded by text, hashed the same on every run."""
    return Random(f"idgraph-demo:{seed}:person:{index}")


def household_of(seed: int, index: int) -> Household:
    rng = Random(f"idgraph-demo:{seed}:household:{index // 2}")
    country = rng.choice(sorted(COUNTRIES))
    city, postal_code = rng.choice(COUNTRIES[country][0])
    couple = rng.random() < COUPLE_SHARE
    tablet = device_id(rng) if couple and rng.random() < SHARED_TABLET_SHARE else None
    return Household(couple, rng.choice(LAST_NAMES), country, city, postal_code, tablet)


def make_person(seed: int, index: int, rng: Random, now: dt.datetime) -> Person:
    home = household_of(seed, index)
    country, city, postal_code = home.country, home.city, home.postal_code
    if not home.couple:
        country = rng.choice(sorted(COUNTRIES))
        city, postal_code = rng.choice(COUNTRIES[country][0])
    gender = rng.choice(("female", "male"))
    first = rng.choice(FIRST_NAMES[gender])
    last = home.last_name if home.couple else rng.choice(LAST_NAMES)
    born = now.date() - dt.timedelta(days=rng.randrange(18 * 365, 85 * 365))
    local = f"{_ascii(first)}.{_ascii(last)}{index}".lower()
    work = f"{local}@work.example.com" if rng.random() < 0.2 else None
    return Person(index, first, last, gender, born, country, city, postal_code,
                  f"{local}@{rng.choice(DOMAINS)}", work,
                  phone_number(country, index) if rng.random() < 0.8 else None,
                  f"{_ascii(first)[0]}{_ascii(last)}{index}".lower(), rng.random() < 0.55,
                  home)


def phone_number(country: str, index: int) -> str:
    """A valid number of `country`, one per index (a test checks them with phonenumbers)."""
    _, prefix, digits = COUNTRIES[country]
    if country == "US":
        area = US_AREA_CODES[(index // 8_000_000) % len(US_AREA_CODES)]
        exchange, line = 200 + (index // 10_000) % 800, index % 10_000
        return f"+1 ({area}) {exchange}-{line:04d}"
    number = f"{index % 10 ** digits:0{digits}d}"
    return f"{prefix} {number[:3]} {number[3:5]} {number[5:]}"


def device_id(rng: Random) -> str:
    """An IDFA-like id, upper case as iOS reports it (the device namespace lowercases)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


def cookie_id(rng: Random) -> str:
    """An ECID-like id: 38 digits."""
    return str(rng.randrange(10 ** 37, 10 ** 38))


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
