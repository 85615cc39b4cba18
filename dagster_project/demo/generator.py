"""Generate the demo source systems from scratch (`generate`) or append days (`append_days`).

Determinism: the initial history draws from numpy Generators spawned from
SeedSequence(seed), one per concern; an appended day d from SeedSequence([seed, d]).
So the same arguments give byte-identical files and identical database contents, and
appending 2 days equals appending 1 day twice.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from ..defs.ingest import contract as C
from . import catalog as cat
from . import landing as L
from . import simulate as S
from . import tables as T
from .arrays import latest, sample, take
from .columns import Table, cat_col, date_col, iso_date, money_col, ordinal_of, yyyymmdd
from .faults import corrupt, fx_bad_rows, planned_counts
from .state import (
    MANIFEST_FILE, STATE_FILE, GeneratorError, load_manifest, load_state, new_manifest, record_file, record_table,
    save_manifest, save_state,
)
from .writers import SQLITE_FILE, close_database, insert_rows, insert_table, open_database, update_rows, write_drop

DAY = S.DAY
STREAMS = ("accounts", "process", "orders", "lines", "refunds", "products", "fx", "crm", "referrals", "reviews",
           "feedback", "faults", "offsets", "updates")
START_RATES = np.array([c[1] for c in cat.CURRENCIES])
DAILY_CURRENCY = np.array([c[2] for c in cat.CURRENCIES])
FILE_ENTITIES = {"crm": C.CRM_ACCOUNTS, "referrals": C.REFERRALS, "reviews": C.REVIEWS, "feedback": C.FEEDBACK}
FILE_KEYS = {"referrals": "referrals", "reviews": "reviews", "feedback": "feedback"}  # kind -> id entity
REDELIVER_SHARE = 0.02  # rows re-sent unchanged in the last initial export
LANDING_PATTERNS = ("crm_accounts_*.csv", "referrals_*.jsonl", "reviews_*.jsonl", "feedback_*.jsonl")


class Summary(dict):
    """The run's summary (a dict); prints as a short report."""

    def __str__(self) -> str:
        lines = [f"{self['action']}: {self['first_date']} .. {self['last_date']} "
                 f"({self['days']} day(s)) in {self['out_dir']} [{self['seconds']:.1f}s]"]
        tables = ", ".join(f"{k} {v:,}" for k, v in self["tables"].items())
        lines.append(f"  commerce.sqlite rows added: {tables}")
        if self.get("rows_updated"):
            lines.append("  rows updated: " + ", ".join(f"{k} {v:,}" for k, v in self["rows_updated"].items()))
        files = self["files"]
        lines.append(f"  landing files written: {len(files)} ({sum(files.values()):,} rows)")
        bad = {e: sum(r.values()) for e, r in self["bad_rows"].items()}
        lines.append(f"  deliberately bad rows: {sum(bad.values())} ("
                     + ", ".join(f"{e} {n}" for e, n in bad.items() if n) + ")")
        lines.append(f"  manifest: {Path(self['out_dir']) / MANIFEST_FILE}")
        return "\n".join(lines)


def _rngs(*entropy: int) -> dict[str, np.random.Generator]:
    seq = np.random.SeedSequence([int(e) for e in entropy])
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, seq.spawn(len(STREAMS)))}


def _end_day(end_date) -> int:
    if end_date is None:
        end_date = datetime.now(timezone.utc).date() - timedelta(days=1)
    if isinstance(end_date, str):
        try:
            end_date = date.fromisoformat(end_date)
        except ValueError as error:
            raise GeneratorError(f"--end-date must be YYYY-MM-DD, not {end_date!r}") from error
    return ordinal_of(end_date.isoformat())


def _existing_outputs(out: Path) -> list[Path]:
    found = [out / name for name in (SQLITE_FILE, STATE_FILE, MANIFEST_FILE, "_generator_state.npz")
             if (out / name).exists()]
    landing = out / "landing"
    if landing.is_dir():
        for pattern in LANDING_PATTERNS:
            found.extend(sorted(landing.glob(pattern)))
    return found


def _prepare_out(out: Path, force: bool) -> None:
    existing = _existing_outputs(out)
    if existing and not force:
        raise GeneratorError(
            f"{out} already holds generated sources ({len(existing)} file(s), e.g. {existing[0].name}). "
            "Use --force to regenerate from scratch, or --days N to append days to them."
        )
    for path in existing:
        path.unlink()
    for extra in (out / (SQLITE_FILE + "-journal"), out / (SQLITE_FILE + "-wal")):
        if extra.exists():
            extra.unlink()
    (out / "landing").mkdir(parents=True, exist_ok=True)


def _weekend(day) -> np.ndarray:
    return (np.asarray(day) + 3) % 7 >= 5


# --------------------------------------------------------------------------- fx


def _fx_table(currency, day, rate) -> Table:
    return Table("fx_rates", {
        "currency": cat_col(currency, cat.CURRENCY_CODES),
        "rate_date": date_col(day),
        "rate_to_base": money_col(rate, decimals=6),
    })


def _fx_history(rng, first_day: int, last_day: int):
    """Daily random walks of log rates; weekday-only currencies skip weekends. Returns rows
    (currency, day, rate), the log level per (currency, day) and the last levels."""
    days = np.arange(first_day, last_day + 1)
    n = days.size
    levels = np.zeros((len(cat.CURRENCIES), n))
    for c in range(1, len(cat.CURRENCIES)):
        steps = rng.normal(0.0, cat.FX_DAILY_VOLATILITY, n)
        steps[0] = 0.0
        levels[c] = np.log(START_RATES[c]) + np.cumsum(steps)
    cur, idx = np.meshgrid(np.arange(len(cat.CURRENCIES)), np.arange(n), indexing="ij")
    published = DAILY_CURRENCY[cur] | ~_weekend(days[idx])
    order = np.lexsort((cur[published], days[idx][published]))
    rows = (cur[published][order], days[idx][published][order], np.exp(levels[cur[published], idx[published]])[order])
    return rows, levels, days


# --------------------------------------------------------------------------- helpers


def _tables_summary() -> dict:
    return {e.name: 0 for e in C.COMMERCE_ENTITIES}


def _interleave(rng, valid: Table, bad: Table) -> Table:
    """Bad rows at random places among the valid ones (order of valid rows kept)."""
    if len(bad) == 0:
        return valid
    table, _ = T.interleave(valid, np.arange(len(valid)), bad, rng.uniform(0, len(valid), len(bad)))
    return table


def _file_bad_rows(rng, kind: str, host: Table, counts: dict, next_ids: dict) -> tuple[Table, list, np.ndarray]:
    entity = FILE_ENTITIES[kind]
    bad, faults, picks = corrupt(rng, entity.raw_table, host, counts, file_nulls=True)
    if kind in FILE_KEYS and len(bad):
        key = entity.key[0]
        entity_name = FILE_KEYS[kind]
        first = next_ids[entity_name]
        bad.columns[key] = T.ids(entity_name, np.arange(first, first + len(bad)))
        next_ids[entity_name] = first + len(bad)
    return bad, faults, picks


def _export_slices(rng, versions: dict, export_days: list[int]) -> list[np.ndarray]:
    """Version indices of each initial export: the latest version (as of the export day) of
    every record changed since the previous export; the last export also re-sends a few
    unchanged records (a row delivered twice must be stored once)."""
    upd, row = versions["updated"], versions["row"]
    out = []
    lo = np.iinfo(np.int64).min
    for k, day in enumerate(export_days):
        hi = (day + 1) * DAY
        sel = np.flatnonzero((upd >= lo) & (upd < hi))
        pick = _latest_per_row(sel, row, upd)
        if k == len(export_days) - 1 and k > 0:
            before = _latest_per_row(np.flatnonzero(upd < lo), row, upd)
            unchanged = before[~np.isin(row[before], row[pick])]
            again = unchanged[rng.random(unchanged.size) < REDELIVER_SHARE]
            pick = np.concatenate([pick, again])
        out.append(pick[np.lexsort((row[pick], upd[pick]))])
        lo = hi
    return out


def _latest_per_row(sel: np.ndarray, row: np.ndarray, upd: np.ndarray) -> np.ndarray:
    return sel[latest(row[sel], upd[sel])]


def _completed_index(orders: S.Orders, done: np.ndarray):
    """(account, completion time) of completed orders, sorted by account: for reviews and feedback."""
    comp = np.flatnonzero(done & (orders.final_status == S.STATUS_COMPLETED))
    o = np.lexsort((orders.transition[comp], orders.acct[comp]))
    return orders.acct[comp][o], orders.transition[comp][o]


def _mark_completed(accounts: dict, acct: np.ndarray, completed_at: np.ndarray, ordered_at: np.ndarray) -> None:
    if acct.size == 0:
        return
    first = accounts["first_completed"]
    current = np.where(first >= 0, first, S.NEVER)
    np.minimum.at(current, acct, completed_at)
    accounts["first_completed"] = np.where(current < S.NEVER, current, -1)
    np.maximum.at(accounts["last_completed_order"], acct, ordered_at)


# --------------------------------------------------------------------------- generate


def generate(out_dir, customers: int = 20_000, years: float = 3, seed: int = 42, end_date=None, *,
             force: bool = False) -> Summary:
    """Generate the demo sources in `out_dir` from scratch (see the package docstring)."""
    started = time.perf_counter()
    out = Path(out_dir)
    customers, years, seed = int(customers), float(years), int(seed)
    if customers < 50:
        raise GeneratorError("--customers must be at least 50")
    if years <= 0:
        raise GeneratorError("--years must be positive")
    end_day = _end_day(end_date)
    n_days = max(28, int(round(years * 365)))
    start_day = end_day - n_days + 1
    _prepare_out(out, force)
    t0, t_end = start_day * DAY, (end_day + 1) * DAY
    r = _rngs(seed)
    off, fr = r["offsets"], r["faults"]
    parameters = {"customers": customers, "years": years, "seed": seed, "end_date": iso_date(end_day)}
    manifest = new_manifest(parameters)
    added = _tables_summary()

    # ---- accounts and their purchase process
    n_dup = max(1, round(customers * S.DUPLICATE_SHARE))
    n_persons = customers - n_dup
    n_prospects = max(1, round(n_persons * S.PROSPECT_SHARE))
    n_buyers = n_persons - n_prospects
    acc = S.new_persons(r["accounts"], n_buyers, n_prospects, t0, t_end, first_person=1)
    next_person = 1 + n_persons
    acc = S.concat_accounts(acc, S.new_duplicates(r["accounts"], acc, n_dup, t0, t_end))
    acc = take(acc, np.lexsort((acc["is_dup"], acc["person"], acc["created"])))
    n_acc = acc["created"].size
    who, when = S.run_process(r["process"], acc, t_end)
    first_purchase = np.full(n_acc, S.NEVER, dtype=np.int64)
    np.minimum.at(first_purchase, who, when)
    products = S.make_products(r["products"], t0, t_end)
    orders = S.make_orders(r["orders"], acc, who, when)
    lines = S.make_lines(r["lines"], acc, orders, products, t0, START_RATES)
    refunds = S.plan_refunds(r["refunds"], orders, lines)
    del who, when

    con = open_database(out / SQLITE_FILE, bulk=True)
    try:
        # ---- customers (bad rows: fresh persons, so that no valid email is copied)
        profile = r["updates"].random(n_acc) < S.PROFILE_UPDATE_SHARE
        updated = np.where(profile, acc["created"] + (r["updates"].random(n_acc) * (t_end - acc["created"])).astype(
            np.int64), acc["created"])
        valid = T.customers_table(off, acc, updated)
        counts = planned_counts(C.CUSTOMERS.raw_table, n_acc)
        strangers = S.new_persons(fr, sum(counts.values()), 0, t0, t_end, first_person=next_person)
        next_person += strangers["created"].size
        bad, faults, picks = corrupt(fr, C.CUSTOMERS.raw_table, T.customers_table(off, strangers, strangers["created"]),
                                     counts)
        table, acc["id_num"], next_customer = T.number(valid, acc["created"], bad, strangers["created"][picks],
                                                       "customers", 1)
        added["customers"] = insert_table(con, C.CUSTOMERS, table)
        record_table(manifest, "customers", C.CUSTOMERS.raw_table, len(table), faults)
        del table, valid

        # ---- products
        valid = T.products_table(off, products)
        n_products = len(valid)
        bad, faults, picks = corrupt(fr, C.PRODUCTS.raw_table, valid, planned_counts(C.PRODUCTS.raw_table, n_products))
        table, product_ids, _ = T.number(valid, np.arange(n_products), bad, picks + 0.5, "products", 1)
        added["products"] = insert_table(con, C.PRODUCTS, table)
        record_table(manifest, "products", C.PRODUCTS.raw_table, len(table), faults)

        # ---- orders: status as of the end of the last day; later transitions stay pending
        done = orders.transition < t_end
        status = np.where(done, orders.final_status, S.STATUS_PENDING)
        updated = np.where(done, orders.transition, orders.ordered_at)
        valid = T.orders_table(off, orders, acc["id_num"], status, updated)
        bad, faults, picks = corrupt(fr, C.ORDERS.raw_table, valid,
                                     planned_counts(C.ORDERS.raw_table, len(valid)))
        table, order_ids, next_order = T.number(valid, orders.ordered_at, bad, orders.ordered_at[picks], "orders", 1)
        added["orders"] = insert_table(con, C.ORDERS, table)
        record_table(manifest, "orders", C.ORDERS.raw_table, len(table), faults)
        del table, valid, status, updated
        later = np.flatnonzero(~done & (orders.final_status != S.STATUS_PENDING))
        pending_orders = {"id_num": order_ids[later], "acct": orders.acct[later], "final": orders.final_status[later],
                          "transition": orders.transition[later], "ordered": orders.ordered_at[later]}
        comp = np.flatnonzero(done & (orders.final_status == S.STATUS_COMPLETED))
        _mark_completed(acc, orders.acct[comp], orders.transition[comp], orders.ordered_at[comp])

        # ---- order lines
        valid = T.lines_table(off, lines, order_ids, product_ids, orders.ordered_at)
        n_lines = len(valid)
        bad, faults, picks = corrupt(fr, C.ORDER_LINES.raw_table, valid, planned_counts(C.ORDER_LINES.raw_table,
                                                                                         n_lines))
        table, line_ids, next_line = T.number(valid, np.arange(n_lines), bad, picks, "order_lines", 1)
        added["order_lines"] = insert_table(con, C.ORDER_LINES, table)
        record_table(manifest, "order_lines", C.ORDER_LINES.raw_table, len(table), faults)
        del table, valid

        # ---- refunds up to the last day; later ones are pending
        now = np.flatnonzero(refunds.time < t_end)
        now = now[np.argsort(refunds.time[now], kind="stable")]
        valid = T.refunds_table(off, line_ids[refunds.line[now]], refunds.time[now], refunds.quantity[now],
                                refunds.amount[now])
        bad, faults, picks = corrupt(fr, C.REFUNDS.raw_table, valid, planned_counts(C.REFUNDS.raw_table, len(valid)))
        table, _, next_refund = T.number(valid, refunds.time[now], bad, refunds.time[now][picks], "refunds", 1)
        added["refunds"] = insert_table(con, C.REFUNDS, table)
        record_table(manifest, "refunds", C.REFUNDS.raw_table, len(table), faults)
        future = np.flatnonzero(refunds.time >= t_end)
        pending_refunds = {"line_id": line_ids[refunds.line[future]], "time": refunds.time[future],
                           "quantity": refunds.quantity[future], "amount": refunds.amount[future]}

        # ---- fx rates, from before the first order; bad rows on weekend gaps
        fx_first = start_day - cat.FX_HISTORY_LEAD_DAYS
        (fx_cur, fx_day, fx_rate), levels, fx_days = _fx_history(r["fx"], fx_first, end_day)
        fx_table = _fx_table(fx_cur, fx_day, fx_rate)
        added["fx_rates"] = insert_table(con, C.FX_RATES, fx_table)
        gaps = {c: fx_days[_weekend(fx_days)] for c in range(len(cat.CURRENCIES)) if not DAILY_CURRENCY[c]}
        bad_rows, faults = fx_bad_rows(fr, planned_counts(C.FX_RATES.raw_table, len(fx_table)), gaps,
                                       lambda c, d: np.exp(levels[c, d - fx_first]))
        added["fx_rates"] += insert_rows(con, C.FX_RATES, bad_rows)
        record_table(manifest, "fx_rates", C.FX_RATES.raw_table, added["fx_rates"], faults)
    finally:
        close_database(con)

    # ---- landing files
    next_ids = {"customers": next_customer, "orders": next_order, "order_lines": next_line, "refunds": next_refund}
    crm_state, crm_versions = L.crm_initial(r["crm"], acc, t0, t_end)
    ref_state, ref_versions, next_person = L.referrals_initial(r["referrals"], acc, first_purchase, t_end, next_person)
    ref_state["id_num"] = np.arange(1, ref_state["referrer"].size + 1)
    ref_versions["id_num"] = ref_state["id_num"][ref_versions["row"]]
    comp_acct, comp_time = _completed_index(orders, done)
    rev_state, rev_versions = L.reviews_initial(r["reviews"], acc, comp_acct, comp_time, t_end)
    rev_state["id_num"] = np.arange(1, rev_state["acct"].size + 1)
    rev_versions["id_num"] = rev_state["id_num"][rev_versions["row"]]
    fb_state, fb_versions = L.feedback_initial(r["feedback"], acc, comp_acct, comp_time, t_end)
    fb_state["id_num"] = np.arange(1, fb_state["acct"].size + 1)
    fb_versions["id_num"] = fb_state["id_num"][fb_versions["row"]]
    next_ids.update(referrals=ref_state["id_num"].size + 1, reviews=rev_state["id_num"].size + 1,
                    feedback=fb_state["id_num"].size + 1)
    export_days = sorted({start_day + n_days // 3, start_day + (2 * n_days) // 3, end_day})
    files: dict[str, int] = {}
    states = {"crm": crm_state, "referrals": ref_state, "reviews": rev_state, "feedback": fb_state}
    all_versions = {"crm": crm_versions, "referrals": ref_versions, "reviews": rev_versions, "feedback": fb_versions}
    for kind, entity in FILE_ENTITIES.items():
        rng = r[kind]
        versions = all_versions[kind]
        slices = _export_slices(rng, versions, export_days)
        make = T.FILE_TABLES[kind]
        host = make(off, versions, acc["id_num"])
        counts = planned_counts(entity.raw_table, states[kind]["updated"].size)
        bad, faults, picks = _file_bad_rows(fr, kind, host, counts, next_ids)
        # a bad row goes to the export whose period holds the version it was copied from
        ends = (np.array(export_days, dtype=np.int64) + 1) * DAY
        home = np.minimum(np.searchsorted(ends, versions["updated"][picks], side="right"), len(slices) - 1)
        for k, (day, pick) in enumerate(zip(export_days, slices)):
            mine = np.flatnonzero(home == k)
            table = _interleave(fr, make(off, take(versions, pick), acc["id_num"]), bad.take(mine))
            if len(table) == 0:
                continue
            name = f"{entity.file_prefix}_{yyyymmdd(day)}.{entity.file_format}"
            write_drop(out / "landing" / name, entity, table)
            record_file(manifest, name, entity.raw_table, len(table), [faults[i] for i in mine])
            files[name] = len(table)

    # ---- state for --days
    rates = {
        "buyers": n_buyers / n_days, "prospects": n_prospects / n_days, "duplicates": n_dup / n_days,
        "profile_updates": float(profile.sum()) / n_days,
        "conversion": float((ref_state["referee"] >= 0).sum()) / max(n_acc, 1),
        "invites": float(((ref_state["referee"] < 0) & ~ref_state["self_ref"]).sum()) / n_days,
        "crm_updates": float(crm_versions["row"].size - crm_state["acct"].size) / n_days,
        "reviews": rev_state["acct"].size / n_days,
        "review_edits": float(rev_versions["row"].size - rev_state["acct"].size) / n_days,
        "feedback": fb_state["acct"].size / n_days,
        "feedback_follow_ups": float(fb_versions["row"].size - fb_state["acct"].size) / n_days,
    }
    scalars = {
        "seed": seed, "customers": customers, "years": years, "start_date": iso_date(start_day),
        "end_date": iso_date(end_day), "last_date": iso_date(end_day), "t0": int(t0), "next_ids": next_ids,
        "next_person": int(next_person), "fx_levels": levels[:, -1].tolist(), "rates": rates,
    }
    product_state = {"id_num": product_ids, "base_price": products.base_price, "by_price": products.by_price,
                     "category": products.category}
    save_state(out, scalars, {"acct": acc, "prod": product_state, "pend_order": pending_orders,
                              "pend_refund": pending_refunds, "crm": crm_state, "ref": ref_state, "rev": rev_state,
                              "fb": fb_state})
    manifest["first_date"] = iso_date(start_day)
    manifest["last_date"] = iso_date(end_day)
    run_bad = {k: dict(v) for k, v in manifest["bad_rows"].items()}
    manifest["runs"].append({"action": "generate", "first_date": iso_date(start_day), "last_date": iso_date(end_day)})
    save_manifest(out, manifest)
    return Summary(action="generate", out_dir=str(out), first_date=iso_date(start_day), last_date=iso_date(end_day),
                   days=n_days, tables=added, rows_updated={}, files=files, bad_rows=run_bad,
                   seconds=time.perf_counter() - started)


# --------------------------------------------------------------------------- append


def append_days(out_dir, days: int) -> Summary:
    """Append `days` more days of activity after the last generated day (see the package docstring)."""
    started = time.perf_counter()
    out = Path(out_dir)
    days = int(days)
    if days < 1:
        raise GeneratorError("--days must be at least 1")
    scalars, groups = load_state(out)
    manifest = load_manifest(out)
    before = {k: dict(v) for k, v in manifest["bad_rows"].items()}
    first_day = ordinal_of(scalars["last_date"]) + 1
    added, updated_rows, files = _tables_summary(), {}, {}
    con = open_database(out / SQLITE_FILE, bulk=False)
    try:
        for day in range(first_day, first_day + days):
            _append_day(out, con, scalars, groups, manifest, day, added, updated_rows, files)
            scalars["last_date"] = iso_date(day)
    finally:
        close_database(con)
    save_state(out, scalars, groups)
    manifest["last_date"] = scalars["last_date"]
    manifest["runs"].append({"action": "append", "first_date": iso_date(first_day), "last_date": scalars["last_date"]})
    save_manifest(out, manifest)
    run_bad = {}
    for entity, reasons in manifest["bad_rows"].items():
        diff = {r: n - before.get(entity, {}).get(r, 0) for r, n in reasons.items()}
        diff = {r: n for r, n in diff.items() if n}
        if diff:
            run_bad[entity] = diff
    return Summary(action="append", out_dir=str(out), first_date=iso_date(first_day), last_date=scalars["last_date"],
                   days=days, tables=added, rows_updated=updated_rows, files=files, bad_rows=run_bad,
                   seconds=time.perf_counter() - started)


def _append_day(out: Path, con, scalars: dict, groups: dict, manifest: dict, day: int, added: dict,
                updated_rows: dict, files: dict) -> None:
    r = _rngs(scalars["seed"], day)
    off, fr = r["offsets"], r["faults"]
    lo, hi = day * DAY, (day + 1) * DAY
    rates, next_ids = scalars["rates"], scalars["next_ids"]
    acc, ref = groups["acct"], groups["ref"]
    t0 = scalars["t0"]

    def uniform_times(rng, n):
        return rng.integers(lo, hi, n, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)

    def bump(name, n, table=None):
        added[name] = added.get(name, 0) + n
        if table:
            updated_rows[table] = updated_rows.get(table, 0) + n

    # ---- new accounts: new persons (some taking up an open referral invite) and second accounts
    ra = r["accounts"]
    nb, npr, nd = (int(ra.poisson(rates[k])) for k in ("buyers", "prospects", "duplicates"))
    new = S.new_persons(ra, nb, npr, lo, hi, scalars["next_person"])
    scalars["next_person"] += nb + npr
    open_invites = np.flatnonzero((ref["status"] == 0) & ~ref["self_ref"] & (ref["referee"] < 0)
                                  & (ref["referred"] < lo))
    takers = np.flatnonzero(new["buyer"] & (ra.random(nb + npr) < rates["conversion"]))
    k = min(takers.size, open_invites.size)
    takers = takers[:k]
    invites = ra.choice(open_invites, k, replace=False) if k else np.zeros(0, dtype=np.int64)
    new["first"][takers] = ref["e_first"][invites]
    new["last"][takers] = ref["e_last"][invites]
    new["domain"][takers] = ref["e_domain"][invites]
    new["person"][takers] = ref["e_num"][invites]
    new["variant"][takers] = S.EMAIL_LOWER
    invite_of = np.full(nb + npr, -1, dtype=np.int64)
    invite_of[takers] = invites
    dups = S.new_duplicates(ra, acc, nd, lo, hi)
    batch = S.concat_accounts(new, dups)
    invite_of = np.concatenate([invite_of, np.full(dups["created"].size, -1, dtype=np.int64)])
    order = np.lexsort((batch["is_dup"], batch["person"], batch["created"]))
    batch, invite_of = take(batch, order), invite_of[order]
    base = acc["created"].size
    acc = S.concat_accounts(acc, batch)
    groups["acct"] = acc
    new_idx = np.arange(base, acc["created"].size)

    # ---- customers: inserts, then profile updates of older accounts
    valid = T.customers_table(off, take(acc, new_idx), acc["created"][new_idx])
    counts = planned_counts(C.CUSTOMERS.raw_table, len(valid) + 1, fr)
    strangers = S.new_persons(fr, sum(counts.values()), 0, lo, hi, scalars["next_person"])
    scalars["next_person"] += strangers["created"].size
    bad, faults, picks = corrupt(fr, C.CUSTOMERS.raw_table, T.customers_table(off, strangers, strangers["created"]),
                                 counts)
    table, ids, next_ids["customers"] = T.number(valid, acc["created"][new_idx], bad, strangers["created"][picks],
                                                 "customers", next_ids["customers"])
    acc["id_num"][new_idx] = ids
    bump("customers", insert_table(con, C.CUSTOMERS, table))
    record_table(manifest, "customers", C.CUSTOMERS.raw_table, len(table), faults)
    ru = r["updates"]
    older = np.flatnonzero(acc["created"] < lo)
    who = sample(ru, older, ru.poisson(rates["profile_updates"]))
    phone = S.phone_numbers(ru, who.size)
    when = T.ts(off, uniform_times(ru, who.size)).render(0, who.size)
    rows = list(zip(T.phone_texts(phone, acc["region"][who]), when,
                    T.ids("customers", acc["id_num"][who]).render(0, who.size)))
    n = update_rows(con, C.CUSTOMERS, ["phone", "updated_at"], rows)
    updated_rows["customers"] = updated_rows.get("customers", 0) + n
    manifest["tables"]["customers"]["rows_updated"] += n

    # ---- purchases of the day
    who, when = S.run_process(r["process"], acc, hi)
    orders = S.make_orders(r["orders"], acc, who, when)
    prod = groups["prod"]
    products = S.Products(prod["category"], np.zeros(0, dtype=object), prod["base_price"], np.zeros(0),
                          np.zeros(0), prod["by_price"])
    lines = S.make_lines(r["lines"], acc, orders, products, t0, START_RATES)
    refunds = S.plan_refunds(r["refunds"], orders, lines)
    done = orders.transition < hi
    valid = T.orders_table(off, orders, acc["id_num"], np.where(done, orders.final_status, S.STATUS_PENDING),
                           np.where(done, orders.transition, orders.ordered_at))
    bad, faults, picks = corrupt(fr, C.ORDERS.raw_table, valid, planned_counts(C.ORDERS.raw_table, len(valid), fr))
    table, order_ids, next_ids["orders"] = T.number(valid, orders.ordered_at, bad, orders.ordered_at[picks], "orders",
                                                    next_ids["orders"])
    bump("orders", insert_table(con, C.ORDERS, table))
    record_table(manifest, "orders", C.ORDERS.raw_table, len(table), faults)
    comp = np.flatnonzero(done & (orders.final_status == S.STATUS_COMPLETED))
    _mark_completed(acc, orders.acct[comp], orders.transition[comp], orders.ordered_at[comp])

    valid = T.lines_table(off, lines, order_ids, prod["id_num"], orders.ordered_at)
    bad, faults, picks = corrupt(fr, C.ORDER_LINES.raw_table, valid,
                                 planned_counts(C.ORDER_LINES.raw_table, len(valid), fr))
    table, line_ids, next_ids["order_lines"] = T.number(valid, np.arange(len(valid)), bad, picks, "order_lines",
                                                        next_ids["order_lines"])
    bump("order_lines", insert_table(con, C.ORDER_LINES, table))
    record_table(manifest, "order_lines", C.ORDER_LINES.raw_table, len(table), faults)

    # ---- earlier orders reaching their final status today
    po = groups["pend_order"]
    due = np.flatnonzero(po["transition"] < hi)
    due = due[np.lexsort((po["id_num"][due], po["transition"][due]))]
    status = cat_col(po["final"][due], cat.ORDER_STATUSES).render(0, due.size)
    when = T.ts(off, po["transition"][due]).render(0, due.size)
    key = T.ids("orders", po["id_num"][due]).render(0, due.size)
    n = update_rows(con, C.ORDERS, ["status", "updated_at"], list(zip(status, when, key)))
    updated_rows["orders"] = updated_rows.get("orders", 0) + n
    manifest["tables"]["orders"]["rows_updated"] += n
    comp = due[po["final"][due] == S.STATUS_COMPLETED]
    _mark_completed(acc, po["acct"][comp], po["transition"][comp], po["ordered"][comp])
    later = np.flatnonzero(~done & (orders.final_status != S.STATUS_PENDING))
    keep = np.setdiff1d(np.arange(po["id_num"].size), due)
    groups["pend_order"] = {
        "id_num": np.concatenate([po["id_num"][keep], order_ids[later]]),
        "acct": np.concatenate([po["acct"][keep], orders.acct[later]]),
        "final": np.concatenate([po["final"][keep], orders.final_status[later]]).astype(np.int8),
        "transition": np.concatenate([po["transition"][keep], orders.transition[later]]),
        "ordered": np.concatenate([po["ordered"][keep], orders.ordered_at[later]]),
    }

    # ---- refunds due today (planned earlier or today)
    pr = groups["pend_refund"]
    all_refunds = {
        "line_id": np.concatenate([pr["line_id"], line_ids[refunds.line]]),
        "time": np.concatenate([pr["time"], refunds.time]),
        "quantity": np.concatenate([pr["quantity"], refunds.quantity]),
        "amount": np.concatenate([pr["amount"], refunds.amount]),
    }
    now = all_refunds["time"] < hi
    groups["pend_refund"] = {k: v[~now] for k, v in all_refunds.items()}
    now = np.flatnonzero(now)
    now = now[np.lexsort((all_refunds["line_id"][now], all_refunds["time"][now]))]
    valid = T.refunds_table(off, all_refunds["line_id"][now], all_refunds["time"][now], all_refunds["quantity"][now],
                            all_refunds["amount"][now])
    bad, faults, picks = corrupt(fr, C.REFUNDS.raw_table, valid, planned_counts(C.REFUNDS.raw_table, len(valid), fr))
    table, _, next_ids["refunds"] = T.number(valid, all_refunds["time"][now], bad, all_refunds["time"][now][picks],
                                             "refunds", next_ids["refunds"])
    bump("refunds", insert_table(con, C.REFUNDS, table))
    record_table(manifest, "refunds", C.REFUNDS.raw_table, len(table), faults)

    # ---- fx rates of the day
    levels = np.array(scalars["fx_levels"])
    steps = r["fx"].normal(0.0, cat.FX_DAILY_VOLATILITY, len(cat.CURRENCIES))
    steps[0] = 0.0
    levels = levels + steps
    scalars["fx_levels"] = levels.tolist()
    publish = np.flatnonzero(DAILY_CURRENCY | (not _weekend(day)))
    fx = _fx_table(publish, np.full(publish.size, day), np.exp(levels[publish]))
    bump("fx_rates", insert_table(con, C.FX_RATES, fx))
    record_table(manifest, "fx_rates", C.FX_RATES.raw_table, len(fx), [])

    # ---- landing files of the day
    _append_files(out, r, scalars, groups, manifest, day, new_idx, invite_of, files)


def _append_files(out: Path, r: dict, scalars: dict, groups: dict, manifest: dict, day: int, new_idx: np.ndarray,
                  invite_of: np.ndarray, files: dict) -> None:
    off, fr = r["offsets"], r["faults"]
    lo, hi = day * DAY, (day + 1) * DAY
    rates, next_ids = scalars["rates"], scalars["next_ids"]
    acc = groups["acct"]

    def uniform_times(rng, n):
        return rng.integers(lo, hi, n, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)

    produced: dict[str, dict] = {}

    # CRM: some of today's accounts enrol; some records are re-surveyed or soft-deleted
    rng, crm = r["crm"], groups["crm"]
    enrol = new_idx[rng.random(new_idx.size) < L.CRM_SHARE]
    enrol_at = acc["created"][enrol] + (rng.random(enrol.size) * (hi - acc["created"][enrol])).astype(np.int64)
    records = L.crm_records(rng, acc, enrol, lo, hi, enrol_at=enrol_at)
    first_new = crm["acct"].size
    crm = L.concat("crm", crm, records)
    changed = sample(rng, np.flatnonzero(~crm["deleted"][:first_new] & (crm["updated"][:first_new] < lo)),
                     rng.poisson(rates["crm_updates"]))
    versions = L.concat_versions("crm", [
        L.versions_of(crm, np.arange(first_new, crm["acct"].size)),
        L.crm_changes(rng, acc, crm, changed, uniform_times(rng, changed.size), 0.15),
    ])
    groups["crm"] = crm = L.apply_versions(crm, versions)
    produced["crm"] = versions

    # referrals: sign-ups of today's accounts, rewards after a first completed order, new invites
    rng, ref = r["referrals"], groups["ref"]
    signed = np.flatnonzero(invite_of >= 0)
    rows = invite_of[signed]
    ref["referee"][rows] = new_idx[signed]
    parts = [L.versions_of(ref, rows, {"status": np.ones(rows.size, dtype=np.int8),
                                       "updated": acc["created"][new_idx[signed]]})]
    referee = np.maximum(ref["referee"], 0)
    first = acc["first_completed"][referee]
    due = np.flatnonzero((ref["status"] == 1) & (ref["referee"] >= 0) & (first >= 0) & (first < lo))
    parts.append(L.versions_of(ref, due, {
        "status": np.full(due.size, 2, dtype=np.int8),
        "reward": L.reward_amounts(rng, acc["ctype"][ref["referrer"][due]]),
        "updated": uniform_times(rng, due.size),
    }))
    senders = np.flatnonzero(~acc["is_dup"] & (acc["first_completed"] >= 0) & (acc["first_completed"] < lo))
    n_inv = min(int(rng.poisson(rates["invites"])), senders.size)
    sender = rng.choice(senders, n_inv) if n_inv else np.zeros(0, dtype=np.int64)
    referred = np.sort(uniform_times(rng, n_inv))
    first_row = ref["id_num"].size
    invites = {
        "id_num": np.arange(next_ids["referrals"], next_ids["referrals"] + n_inv), "referrer": sender,
        "referee": np.full(n_inv, -1), "e_first": rng.integers(0, len(cat.FIRST_NAMES), n_inv),
        "e_last": rng.integers(0, len(cat.LAST_NAMES), n_inv),
        "e_num": np.arange(scalars["next_person"], scalars["next_person"] + n_inv),
        "e_domain": rng.integers(0, len(cat.EMAIL_DOMAINS), n_inv), "e_variant": np.full(n_inv, S.EMAIL_LOWER),
        "status": np.zeros(n_inv), "reward": np.full(n_inv, np.nan), "referred": referred, "updated": referred,
        "self_ref": np.zeros(n_inv, dtype=bool),
    }
    next_ids["referrals"] += n_inv
    scalars["next_person"] += n_inv
    ref = L.concat("referrals", ref, invites)
    parts.append(L.versions_of(ref, np.arange(first_row, ref["id_num"].size)))
    versions = L.concat_versions("referrals", parts)
    groups["ref"] = L.apply_versions(ref, versions)
    produced["referrals"] = versions

    # reviews: recent buyers post; a few old reviews are edited
    rng, rev = r["reviews"], groups["rev"]
    last = acc["last_completed_order"]
    recent = np.flatnonzero((last >= lo - 14 * DAY) & (last < lo))
    authors = sample(rng, recent, rng.poisson(rates["reviews"]))
    first_row = rev["acct"].size
    posted = np.sort(uniform_times(rng, authors.size))
    fresh = L.new_reviews(rng, authors, posted)
    fresh["id_num"] = np.arange(next_ids["reviews"], next_ids["reviews"] + authors.size)
    next_ids["reviews"] += authors.size
    edited = sample(rng, np.flatnonzero(rev["updated"] < lo), rng.poisson(rates["review_edits"]))
    rev = L.concat("reviews", rev, fresh)
    versions = L.concat_versions("reviews", [
        L.versions_of(rev, np.arange(first_row, rev["acct"].size)),
        L.review_edits(rng, rev, edited, uniform_times(rng, edited.size)),
    ])
    groups["rev"] = L.apply_versions(rev, versions)
    produced["reviews"] = versions

    # feedback: recent buyers answer; some earlier feedback gets a follow-up
    rng, fb = r["feedback"], groups["fb"]
    recent = np.flatnonzero((last >= lo - 30 * DAY) & (last < lo))
    authors = sample(rng, recent, rng.poisson(rates["feedback"]))
    first_row = fb["acct"].size
    fresh = L.new_feedback(rng, authors, np.sort(uniform_times(rng, authors.size)))
    fresh["id_num"] = np.arange(next_ids["feedback"], next_ids["feedback"] + authors.size)
    next_ids["feedback"] += authors.size
    followed = sample(rng, np.flatnonzero(fb["updated"] < lo), rng.poisson(rates["feedback_follow_ups"]))
    fb = L.concat("feedback", fb, fresh)
    versions = L.concat_versions("feedback", [
        L.versions_of(fb, np.arange(first_row, fb["acct"].size)),
        L.feedback_follow_ups(rng, fb, followed, uniform_times(rng, followed.size)),
    ])
    groups["fb"] = L.apply_versions(fb, versions)
    produced["feedback"] = versions

    state_key = {"crm": "crm", "referrals": "ref", "reviews": "rev", "feedback": "fb"}
    for kind, entity in FILE_ENTITIES.items():
        versions = produced[kind]
        current = groups[state_key[kind]]
        if versions["row"].size == 0:
            # nothing changed: the export re-sends one record as it is (an empty file is not an export)
            if current["updated"].size == 0:
                continue
            row = np.array([int(r[kind].integers(0, current["updated"].size))])
            versions = L.versions_of(current, row)
        versions = take(versions, np.lexsort((versions["row"], versions["updated"])))
        make = T.FILE_TABLES[kind]
        valid = make(off, versions, acc["id_num"])
        counts = planned_counts(entity.raw_table, len(valid), fr)
        bad, faults, _ = _file_bad_rows(fr, kind, valid, counts, next_ids)
        table = _interleave(fr, valid, bad)
        name = f"{entity.file_prefix}_{yyyymmdd(day)}.{entity.file_format}"
        write_drop(out / "landing" / name, entity, table)
        record_file(manifest, name, entity.raw_table, len(table), faults)
        files[name] = len(table)

