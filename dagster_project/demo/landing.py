"""The optional source systems: CRM wallet data, the referral program, reviews and feedback.

Each is kept as its current state (arrays, one row per record) plus the *versions* a
period produced (a record changes: a referral is signed up then rewarded, a CRM row is
re-surveyed or soft-deleted, a review edited). Exports write versions, so the same key
re-appears with a later `updated_at` and the latest version wins.
"""

from __future__ import annotations

import numpy as np

from . import catalog
from .arrays import latest, sample, take
from .arrays import empty as empty_records
from .simulate import DAY, EMAIL_LOWER, EMAIL_TITLE, EMAIL_UPPER, GG_P, HOUR

CRM_SHARE = 0.25
CRM_DECLARED_SHARE = 0.40
CRM_THIRD_PARTY_SHARE = 0.45
CRM_UPDATE_SHARE = 0.25
CRM_DELETE_SHARE = 0.04

REFERRER_SHARE = 0.08
REFERRALS_PER_REFERRER = np.array([0.6, 0.3, 0.1])  # 1, 2, 3
REFERRAL_CONVERSION = 0.35
SELF_REFERRAL_EMAIL_SHARE = 0.01
SELF_REFERRAL_DUPLICATE_SHARE = 0.10  # of persons holding a second account

REVIEWER_SHARE = 0.10
REVIEWS_PER_REVIEWER = np.array([0.75, 0.20, 0.05])
REVIEW_EDIT_SHARE = 0.05
FEEDBACK_SHARE = 0.15
FEEDBACK_PER_CUSTOMER = np.array([0.70, 0.22, 0.08])
FEEDBACK_FOLLOW_UP_SHARE = 0.08
CSAT_WEIGHTS = (
    np.array([0.35, 0.30, 0.20, 0.10, 0.05]),  # complaint
    np.array([0.02, 0.03, 0.10, 0.35, 0.50]),  # compliment
    np.array([0.05, 0.10, 0.35, 0.35, 0.15]),  # suggestion
)
NPS_MEAN = np.array([3.0, 9.0, 7.0])

CRM_FIELDS = {"acct": np.int64, "life": np.int8, "declared": np.float64, "third": np.float64,
              "updated": np.int64, "deleted": bool}
REFERRAL_FIELDS = {"id_num": np.int64, "referrer": np.int64, "referee": np.int64, "e_first": np.int16,
                   "e_last": np.int16, "e_num": np.int64, "e_domain": np.int8, "e_variant": np.int8,
                   "status": np.int8, "reward": np.float64, "referred": np.int64, "updated": np.int64,
                   "self_ref": bool}
REVIEW_FIELDS = {"id_num": np.int64, "acct": np.int64, "rating": np.int8, "posted": np.int64,
                 "platform": np.int8, "updated": np.int64}
FEEDBACK_FIELDS = {"id_num": np.int64, "acct": np.int64, "submitted": np.int64, "kind": np.int8,
                   "csat": np.int8, "nps": np.int8, "updated": np.int64}
FIELDS = {"crm": CRM_FIELDS, "referrals": REFERRAL_FIELDS, "reviews": REVIEW_FIELDS, "feedback": FEEDBACK_FIELDS}


def empty(kind: str) -> dict[str, np.ndarray]:
    return empty_records(FIELDS[kind])


def concat(kind: str, a: dict, b: dict) -> dict:
    return {k: np.concatenate([a[k], np.asarray(b[k]).astype(t)]) for k, t in FIELDS[kind].items()}


def versions_of(state: dict, rows: np.ndarray, changes: dict | None = None) -> dict:
    """Versions of `rows` (indices into state): their current values with `changes` applied,
    plus `row` (the record index). `updated` must be among the changes for a new version."""
    v = take(state, rows)
    v.update(changes or {})
    v["row"] = np.asarray(rows, dtype=np.int64)
    return v


def concat_versions(kind: str, parts: list[dict]) -> dict:
    fields = dict(FIELDS[kind], row=np.int64)
    parts = [p for p in parts if p["row"].size]
    if not parts:
        return empty_records(fields)
    return {k: np.concatenate([np.asarray(p[k]).astype(t) for p in parts]) for k, t in fields.items()}


def apply_versions(state: dict, versions: dict) -> dict:
    """The state after `versions` (the latest version of each record wins)."""
    if versions["row"].size == 0:
        return state
    pick = latest(versions["row"], versions["updated"])
    state = {k: v.copy() for k, v in state.items()}
    for k in state:
        state[k][versions["row"][pick]] = versions[k][pick]
    return state


# --------------------------------------------------------------------------- CRM


def _wallet(rng, accounts, acct):
    """Annual category spend across all suppliers (USD): what we'd expect them to spend with us,
    divided by a share of wallet ~ Beta(2, 3), with noise."""
    expected = accounts["lam"][acct] * 365 * GG_P / accounts["nu"][acct]
    share = rng.beta(2.0, 3.0, acct.size)
    return np.maximum(expected / share * rng.lognormal(0, 0.25, acct.size), 200.0)


def _lifestage(rng, ctype):
    n = ctype.size
    consumer = rng.choice(len(catalog.CONSUMER_LIFESTAGES), n, p=catalog.CONSUMER_LIFESTAGE_WEIGHTS)
    business = len(catalog.CONSUMER_LIFESTAGES) + rng.choice(len(catalog.BUSINESS_LIFESTAGES), n,
                                                         p=catalog.BUSINESS_LIFESTAGE_WEIGHTS)
    return np.where(ctype == 1, business, consumer).astype(np.int8)


def crm_records(rng, accounts, acct, t_lo, t_hi, enrol_at=None) -> dict:
    """New CRM records (first versions) of accounts `acct`."""
    n = acct.size
    wallet = _wallet(rng, accounts, acct)
    declared = np.where(rng.random(n) < CRM_DECLARED_SHARE, np.round(wallet * rng.lognormal(0, 0.2, n) / 50) * 50,
                        np.nan)
    third = np.where(rng.random(n) < CRM_THIRD_PARTY_SHARE, np.round(wallet * rng.lognormal(0, 0.3, n), 2), np.nan)
    if enrol_at is None:
        start = np.maximum(accounts["created"][acct], t_lo)
        enrol_at = start + (rng.random(n) * np.minimum(120 * DAY, np.maximum(t_hi - start, 1))).astype(np.int64)
    return {"acct": acct, "life": _lifestage(rng, accounts["ctype"][acct]), "declared": declared, "third": third,
            "updated": enrol_at, "deleted": np.zeros(n, dtype=bool)}


def crm_changes(rng, accounts, state, rows, when, delete_share) -> dict:
    """New versions of CRM rows: re-surveyed wallet, sometimes a new lifestage, or a soft delete."""
    n = rows.size
    acct = state["acct"][rows]
    declared = state["declared"][rows]
    declared = np.where(np.isnan(declared) & (rng.random(n) < 0.3),
                        np.round(_wallet(rng, accounts, acct) / 50) * 50,
                        np.round(declared * rng.lognormal(0, 0.15, n) / 50) * 50)
    third = state["third"][rows]
    third = np.where(np.isnan(third) & (rng.random(n) < 0.3), np.round(_wallet(rng, accounts, acct), 2),
                     np.round(third * rng.lognormal(0, 0.2, n), 2))
    life = np.where(rng.random(n) < 0.15, _lifestage(rng, accounts["ctype"][acct]), state["life"][rows])
    deleted = rng.random(n) < delete_share
    return versions_of(state, rows, {"life": life, "declared": declared, "third": third,
                                     "updated": np.asarray(when, dtype=np.int64), "deleted": deleted})


def crm_initial(rng, accounts, t0, t_end) -> tuple[dict, dict]:
    n = accounts["created"].size
    chosen = np.flatnonzero(rng.random(n) < CRM_SHARE)
    records = crm_records(rng, accounts, chosen, t0, t_end)
    keep = records["updated"] < t_end
    records = take(records, np.flatnonzero(keep))
    state = concat("crm", empty("crm"), records)
    versions = [versions_of(state, np.arange(state["acct"].size))]
    rows = np.flatnonzero(rng.random(state["acct"].size) < CRM_UPDATE_SHARE)
    when = state["updated"][rows] + rng.uniform(30 * DAY, 500 * DAY, rows.size).astype(np.int64)
    rows, when = rows[when < t_end], when[when < t_end]
    versions.append(crm_changes(rng, accounts, state, rows, when, 0.0))
    state = apply_versions(state, concat_versions("crm", versions))
    rows = np.flatnonzero(rng.random(state["acct"].size) < CRM_DELETE_SHARE)
    when = state["updated"][rows] + rng.uniform(10 * DAY, 300 * DAY, rows.size).astype(np.int64)
    rows, when = rows[when < t_end], when[when < t_end]
    deleted = versions_of(state, rows, {"updated": when, "deleted": np.ones(rows.size, dtype=bool)})
    versions.append(deleted)
    all_versions = concat_versions("crm", versions)
    return apply_versions(state, deleted), all_versions


# --------------------------------------------------------------------------- referrals


def reward_amounts(rng, ctype):
    """Referral rewards (USD): a voucher for consumers, more for business referrers."""
    consumer = np.array([10.0, 15.0, 20.0])[rng.integers(0, 3, ctype.size)]
    business = np.array([50.0, 100.0])[rng.integers(0, 2, ctype.size)]
    return np.where(ctype == 1, business, consumer)


def referral_versions(rng, accounts, state, rows, t_end) -> list[dict]:
    """Versions of referral records from their state: invited, then signed_up (referee's account
    created), then rewarded (referee's first completed order, a few days later), up to t_end."""
    out = [versions_of(state, rows, {"status": np.zeros(rows.size, dtype=np.int8),
                                     "referee": np.full(rows.size, -1), "reward": np.full(rows.size, np.nan),
                                     "updated": state["referred"][rows]})]
    converted = rows[state["referee"][rows] >= 0]
    referee = state["referee"][converted]
    out.append(versions_of(state, converted, {"status": np.ones(converted.size, dtype=np.int8),
                                              "reward": np.full(converted.size, np.nan),
                                              "updated": accounts["created"][referee]}))
    first = accounts["first_completed"][referee]
    reward_at = first + rng.uniform(1 * DAY, 7 * DAY, converted.size).astype(np.int64)
    ok = (first >= 0) & (reward_at < t_end)
    rewarded = converted[ok]
    out.append(versions_of(state, rewarded, {
        "status": np.full(rewarded.size, 2, dtype=np.int8),
        "reward": reward_amounts(rng, accounts["ctype"][state["referrer"][rewarded]]),
        "updated": np.maximum(reward_at[ok], accounts["created"][referee[ok]] + HOUR),
    }))
    return out


def referrals_initial(rng, accounts, first_purchase, t_end, next_person) -> tuple[dict, dict, int]:
    """Referral records of the initial history; returns (state, versions, next person number)."""
    invitations, referrers, next_person = _invitations(rng, accounts, first_purchase, t_end, next_person)
    by_email = _self_referrals_by_email(rng, accounts, referrers, first_purchase, t_end,
                                        invitations["referrer"].size)
    by_duplicate = _self_referrals_by_duplicate(rng, accounts, first_purchase, t_end)
    state = empty("referrals")
    for part in (invitations, by_email, by_duplicate):
        state = concat("referrals", state, part)
    # ids in order of referral time
    order = np.lexsort((state["referrer"], state["referred"]))
    state = take(state, order)
    versions = concat_versions("referrals", referral_versions(rng, accounts, state, np.arange(order.size), t_end))
    return apply_versions(state, versions), versions, next_person


def _invitations(rng, accounts, first_purchase, t_end, next_person) -> tuple[dict, np.ndarray, int]:
    """Invites some buyers send after their first purchase, a share of them taken up by an account
    created later. Returns the records, the referrers and the next person number."""
    primary = np.flatnonzero(~accounts["is_dup"] & (first_purchase < t_end - DAY))
    referrers = primary[rng.random(primary.size) < REFERRER_SHARE]
    per_referrer = rng.choice(3, referrers.size, p=REFERRALS_PER_REFERRER) + 1
    referrer = np.repeat(referrers, per_referrer)
    n_invites = referrer.size
    since = first_purchase[referrer]
    # conversions: an account created after the referrer's first purchase
    pool = np.flatnonzero(~accounts["is_dup"])
    pool = pool[np.argsort(accounts["created"][pool], kind="stable")]
    first_candidate = np.searchsorted(accounts["created"][pool], since + DAY, side="right")
    converts = (rng.random(n_invites) < REFERRAL_CONVERSION) & (first_candidate < pool.size)
    pick = first_candidate + (rng.random(n_invites) * np.maximum(pool.size - first_candidate, 1)).astype(np.int64)
    referee = np.where(converts, pool[np.minimum(pick, pool.size - 1)], -1)
    referee = np.where(referee == referrer, -1, referee)
    # an account is referred at most once
    referred_once = np.flatnonzero(referee >= 0)
    _, first_of_referee = np.unique(referee[referred_once], return_index=True)
    keep = np.zeros(n_invites, dtype=bool)
    keep[referred_once[first_of_referee]] = True
    referee = np.where(keep, referee, -1)
    signed_up = referee >= 0
    referee_account = np.maximum(referee, 0)  # any account where there is none: masked below
    created = accounts["created"][referee_account]
    referred = np.where(
        signed_up,
        np.maximum(created - rng.uniform(HOUR, 30 * DAY, n_invites).astype(np.int64), since + HOUR),
        since + (rng.random(n_invites) * np.maximum(t_end - since - HOUR, 1)).astype(np.int64),
    )
    # invitees who never opened an account get a new person's email
    invitee = ~signed_up
    e_num = np.where(invitee, next_person + np.cumsum(invitee) - 1, accounts["person"][referee_account])
    next_person += int(invitee.sum())
    e_first = np.where(invitee, rng.integers(0, len(catalog.FIRST_NAMES), n_invites),
                       accounts["first"][referee_account])
    e_last = np.where(invitee, rng.integers(0, len(catalog.LAST_NAMES), n_invites),
                      accounts["last"][referee_account])
    e_domain = np.where(invitee, rng.integers(0, len(catalog.EMAIL_DOMAINS), n_invites),
                        accounts["domain"][referee_account])
    records = {
        "id_num": np.full(n_invites, -1), "referrer": referrer, "referee": referee, "e_first": e_first,
        "e_last": e_last, "e_num": e_num, "e_domain": e_domain, "e_variant": np.full(n_invites, EMAIL_LOWER),
        "status": np.zeros(n_invites), "reward": np.full(n_invites, np.nan), "referred": referred,
        "updated": referred, "self_ref": np.zeros(n_invites, dtype=bool),
    }
    return records, referrers, next_person


def _self_referrals_by_email(rng, accounts, referrers, first_purchase, t_end, n_invites) -> dict:
    """A few referrers invite their own address, written differently."""
    with_email = referrers[accounts["variant"][referrers] >= EMAIL_LOWER]
    own = sample(rng, with_email, min(with_email.size, max(1, round(SELF_REFERRAL_EMAIL_SHARE * n_invites))))
    n_self = own.size
    since = first_purchase[own]
    records = {
        "id_num": np.full(n_self, -1), "referrer": own, "referee": np.full(n_self, -1),
        "e_first": accounts["first"][own], "e_last": accounts["last"][own], "e_num": accounts["person"][own],
        "e_domain": accounts["domain"][own],
        "e_variant": rng.choice(np.array([EMAIL_TITLE, EMAIL_UPPER]), n_self), "status": np.zeros(n_self),
        "reward": np.full(n_self, np.nan),
        "referred": since + (rng.random(n_self) * np.maximum(t_end - since - HOUR, 1)).astype(np.int64),
        "self_ref": np.ones(n_self, dtype=bool),
    }
    records["updated"] = records["referred"]
    return records


def _self_referrals_by_duplicate(rng, accounts, first_purchase, t_end) -> dict:
    """A few persons refer their own second account, shortly before opening it."""
    duplicates = np.flatnonzero(accounts["is_dup"] & (accounts["created"] < t_end))
    primary = _primary_of_person(accounts)[accounts["person"][duplicates]]
    ok = (primary >= 0) & (first_purchase[np.maximum(primary, 0)] < accounts["created"][duplicates] - 2 * HOUR)
    duplicates, primary = duplicates[ok], primary[ok]
    n_chosen = (min(duplicates.size, max(1, round(SELF_REFERRAL_DUPLICATE_SHARE * duplicates.size)))
                if duplicates.size else 0)
    pick = np.sort(rng.choice(duplicates.size, n_chosen, replace=False)) if n_chosen else np.zeros(0, dtype=np.int64)
    duplicate, referrer = duplicates[pick], primary[pick]
    gap = np.minimum(rng.uniform(HOUR, 5 * DAY, duplicate.size).astype(np.int64),
                     accounts["created"][duplicate] - first_purchase[referrer] - HOUR)
    records = {
        "id_num": np.full(duplicate.size, -1), "referrer": referrer, "referee": duplicate,
        "e_first": accounts["first"][duplicate], "e_last": accounts["last"][duplicate],
        "e_num": accounts["person"][duplicate], "e_domain": accounts["domain"][duplicate],
        "e_variant": accounts["variant"][duplicate], "status": np.zeros(duplicate.size),
        "reward": np.full(duplicate.size, np.nan), "referred": accounts["created"][duplicate] - gap,
        "self_ref": np.ones(duplicate.size, dtype=bool),
    }
    records["updated"] = records["referred"]
    return records


def _primary_of_person(accounts) -> np.ndarray:
    person = accounts["person"]
    out = np.full(int(person.max()) + 1 if person.size else 1, -1, dtype=np.int64)
    primary = np.flatnonzero(~accounts["is_dup"])
    out[person[primary]] = primary
    return out


# --------------------------------------------------------------------------- voice of the customer


def _pick_orders(rng, completed_acct, acct):
    """For each account in `acct`, a random one of its completed orders (index into completed_*).
    completed_acct must be sorted."""
    lo = np.searchsorted(completed_acct, acct, side="left")
    hi = np.searchsorted(completed_acct, acct, side="right")
    return lo + (rng.random(acct.size) * (hi - lo)).astype(np.int64)


def reviews_initial(rng, completed_acct, completed_time, t_end) -> tuple[dict, dict]:
    """Reviews of the initial history: some buyers review an order they completed; a few edit it."""
    return _voice_initial(rng, "reviews", completed_acct, completed_time, t_end, share=REVIEWER_SHARE,
                          per_customer=REVIEWS_PER_REVIEWER, delay=(0.2 * DAY, 14 * DAY), new=new_reviews,
                          revision_share=REVIEW_EDIT_SHARE, revision_delay=(DAY, 60 * DAY), revise=review_edits)


def review_edits(rng, state, rows, when) -> dict:
    rating = np.clip(state["rating"][rows] + rng.choice(np.array([-1, 1]), rows.size), 1, 5)
    return versions_of(state, rows, {"rating": rating, "updated": np.asarray(when, dtype=np.int64)})


def new_reviews(rng, acct, posted) -> dict:
    n = acct.size
    return {"id_num": np.full(n, -1), "acct": acct, "rating": rng.choice(5, n, p=catalog.REVIEW_RATING_WEIGHTS) + 1,
            "posted": posted,
            "platform": rng.choice(len(catalog.REVIEW_PLATFORMS), n, p=catalog.REVIEW_PLATFORM_WEIGHTS),
            "updated": posted}


def _csat(rng, kind):
    out = np.empty(kind.size, dtype=np.int8)
    for k, weights in enumerate(CSAT_WEIGHTS):
        where = np.flatnonzero(kind == k)
        out[where] = rng.choice(5, where.size, p=weights) + 1
    return out


def _nps(rng, kind):
    return np.clip(np.rint(rng.normal(NPS_MEAN[kind], 2.0)), 0, 10).astype(np.int8)


def new_feedback(rng, acct, submitted) -> dict:
    n = acct.size
    kind = rng.choice(len(catalog.FEEDBACK_KINDS), n, p=catalog.FEEDBACK_KIND_WEIGHTS).astype(np.int8)
    csat = np.where(rng.random(n) < 0.30, -1, _csat(rng, kind))
    nps = np.where(rng.random(n) < 0.45, -1, _nps(rng, kind))
    return {"id_num": np.full(n, -1), "acct": acct, "submitted": submitted, "kind": kind, "csat": csat,
            "nps": nps, "updated": submitted}


def feedback_follow_ups(rng, state, rows, when) -> dict:
    kind = state["kind"][rows]
    csat = state["csat"][rows]
    csat = np.where(csat < 0, _csat(rng, kind), np.clip(csat + rng.choice(np.array([-1, 1]), rows.size), 1, 5))
    nps = state["nps"][rows]
    nps = np.where((nps < 0) & (rng.random(rows.size) < 0.5), _nps(rng, kind), nps)
    return versions_of(state, rows, {"csat": csat, "nps": nps, "updated": np.asarray(when, dtype=np.int64)})


def feedback_initial(rng, completed_acct, completed_time, t_end) -> tuple[dict, dict]:
    """Feedback of the initial history: some buyers answer after a completed order; some follow up."""
    return _voice_initial(rng, "feedback", completed_acct, completed_time, t_end, share=FEEDBACK_SHARE,
                          per_customer=FEEDBACK_PER_CUSTOMER, delay=(0.1 * DAY, 30 * DAY), new=new_feedback,
                          revision_share=FEEDBACK_FOLLOW_UP_SHARE, revision_delay=(DAY, 14 * DAY),
                          revise=feedback_follow_ups)


def _voice_initial(rng, kind, completed_acct, completed_time, t_end, *, share, per_customer, delay, new,
                   revision_share, revision_delay, revise) -> tuple[dict, dict]:
    """Records written `delay` after a random completed order of a `share` of buyers (1-3 each),
    and revisions of a `revision_share` of them `revision_delay` later; up to t_end."""
    buyers = np.unique(completed_acct)
    chosen = buyers[rng.random(buyers.size) < share]
    acct = np.repeat(chosen, rng.choice(3, chosen.size, p=per_customer) + 1)
    at = _pick_orders(rng, completed_acct, acct)
    written = completed_time[at] + rng.uniform(*delay, acct.size).astype(np.int64)
    keep = written < t_end
    acct, written = acct[keep], written[keep]
    order = np.lexsort((acct, written))
    state = concat(kind, empty(kind), new(rng, acct[order], written[order]))
    n = state["acct"].size
    versions = [versions_of(state, np.arange(n))]
    rows = np.flatnonzero(rng.random(n) < revision_share)
    when = state["updated"][rows] + rng.uniform(*revision_delay, rows.size).astype(np.int64)
    rows, when = rows[when < t_end], when[when < t_end]
    versions.append(revise(rng, state, rows, when))
    versions = concat_versions(kind, versions)
    return apply_versions(state, versions), versions
