"""Reference data of the demo business: regions, currencies, names, product categories.

Everything here is fixed (no randomness): the generator draws from these lists with
its seeded numpy Generator, so the same seed always gives the same sources.
"""

from __future__ import annotations

import numpy as np

# region, usual currency, phone country code, share of persons
REGIONS: tuple[tuple[str, str, str, float], ...] = (
    ("us_east", "USD", "1", 0.30),
    ("us_west", "USD", "1", 0.24),
    ("canada", "CAD", "1", 0.10),
    ("uk", "GBP", "44", 0.12),
    ("eu", "EUR", "49", 0.16),
    ("australia", "AUD", "61", 0.08),
)
REGION_NAMES = tuple(r[0] for r in REGIONS)
REGION_WEIGHTS = np.array([r[3] for r in REGIONS]) / sum(r[3] for r in REGIONS)

# currency, rate_to_base at the start of the fx history, publishes on weekends?
CURRENCIES: tuple[tuple[str, float, bool], ...] = (
    ("USD", 1.0, True),
    ("EUR", 1.08, False),  # weekday-only publication: weekend gaps
    ("GBP", 1.27, False),
    ("CAD", 0.74, True),
    ("AUD", 0.66, True),
)
CURRENCY_CODES = tuple(c[0] for c in CURRENCIES)
REGION_CURRENCY = np.array([CURRENCY_CODES.index(r[1]) for r in REGIONS], dtype=np.int8)
REGION_PHONE_CODE = tuple(r[2] for r in REGIONS)
FX_DAILY_VOLATILITY = 0.0045  # sd of the daily log change of a rate
FX_HISTORY_LEAD_DAYS = 10  # rates start this many days before the first order

CUSTOMER_TYPES = ("consumer", "business")
BUSINESS_SHARE = 0.15
CHANNELS = ("store", "web", "phone")
CHANNEL_WEIGHTS = np.array([0.45, 0.45, 0.10])
ORDER_STATUSES = ("completed", "cancelled", "pending")

CONSUMER_LIFESTAGES = ("single", "couple", "family", "retired")
CONSUMER_LIFESTAGE_WEIGHTS = np.array([0.30, 0.28, 0.30, 0.12])
BUSINESS_LIFESTAGES = ("startup", "growth", "enterprise")
BUSINESS_LIFESTAGE_WEIGHTS = np.array([0.40, 0.40, 0.20])
LIFESTAGES = CONSUMER_LIFESTAGES + BUSINESS_LIFESTAGES

REFERRAL_STATUSES = ("invited", "signed_up", "rewarded")
REVIEW_PLATFORMS = ("website", "google", "trustpilot", "app_store", "yelp")
REVIEW_PLATFORM_WEIGHTS = np.array([0.35, 0.30, 0.18, 0.10, 0.07])
REVIEW_RATING_WEIGHTS = np.array([0.05, 0.06, 0.12, 0.30, 0.47])  # ratings 1..5
FEEDBACK_KINDS = ("complaint", "compliment", "suggestion")
FEEDBACK_KIND_WEIGHTS = np.array([0.30, 0.40, 0.30])

FIRST_NAMES = (
    "Ava", "Liam", "Emma", "Noah", "Olivia", "Mateo", "Sophia", "Lucas", "Mia", "Ethan",
    "Amelia", "James", "Isla", "Oliver", "Chloe", "Leo", "Grace", "Henry", "Zoe", "Jack",
    "Lena", "Felix", "Clara", "Hugo", "Nora", "Elias", "Ines", "Oscar", "Maya", "Arjun",
    "Priya", "Kenji", "Yuki", "Omar", "Layla", "Diego", "Lucia", "Tariq", "Freya", "Sven",
    "Anna", "Paul", "Marie", "Jonas", "Hannah", "Louis", "Alice", "Theo", "Ruby", "Sam",
)
LAST_NAMES = (
    "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Martin", "Anderson", "Thomas", "Moore", "Clark",
    "Lewis", "Walker", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson",
    "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins",
    "Muller", "Schmidt", "Fischer", "Weber", "Dubois", "Laurent", "Rossi", "Bianchi", "Garcia", "Lopez",
    "Tremblay", "Roy", "Gagnon", "Singh", "Patel", "Nguyen", "Chen", "Kim", "Tanaka", "Murphy",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "inbox.example.org")

# category, median base price (USD), nouns for product names
CATEGORIES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("coffee", 16.0, ("Espresso Blend", "House Roast", "Single Origin", "Decaf Roast", "Cold Brew Pack")),
    ("tea", 12.0, ("Green Tea", "Earl Grey", "Chai Mix", "Herbal Infusion", "Matcha Tin")),
    ("brewing_gear", 45.0, ("Pour-Over Set", "French Press", "Moka Pot", "Kettle", "Scale")),
    ("machines", 320.0, ("Espresso Machine", "Grinder", "Drip Brewer", "Milk Frother", "Roaster")),
    ("tableware", 22.0, ("Mug Set", "Cup Pair", "Carafe", "Tray", "Saucer Set")),
    ("pantry", 9.0, ("Syrup", "Biscotti", "Chocolate Bar", "Sugar Cubes", "Oat Drink")),
    ("accessories", 14.0, ("Filters", "Tamper", "Cleaning Kit", "Storage Jar", "Knock Box")),
    ("gifts", 55.0, ("Gift Box", "Tasting Set", "Gift Card Pack", "Advent Box", "Hamper")),
)
PRODUCT_ADJECTIVES = (
    "Classic", "Premium", "Everyday", "Signature", "Organic", "Compact", "Deluxe", "Artisan",
    "Nordic", "Alpine", "Urban", "Heritage",
)
N_PRODUCTS = 300

# Timestamp offsets written on ~1% of timestamp values (the instant stays the same).
TS_OFFSET_SHARE = 0.01
TS_OFFSETS: tuple[tuple[str, int], ...] = (
    ("+01:00", 3600), ("+02:00", 7200), ("+00:00", 0), ("-05:00", -18000),
    ("-04:00", -14400), ("+05:30", 19800), ("+10:00", 36000),
)
