"""Demo source systems for the customer-value warehouse.

Generates, deterministically from a seed, what a business would deliver under the source
contract (docs/source-contract.md):

- `commerce.sqlite`: customers, products, orders, order_lines, refunds, fx_rates (current
  state, one row per key, the contract's columns in the contract's order);
- `landing/`: `crm_accounts_YYYYMMDD.csv`, `referrals_YYYYMMDD.jsonl`,
  `reviews_YYYYMMDD.jsonl`, `feedback_YYYYMMDD.jsonl` exports;
- `_generator_state.json` (+ `_generator_state.npz`): what `append_days` needs to continue;
- `_generator_manifest.json`: rows per table and file, and the exact number of deliberately
  bad rows per entity and reason.

    python -m dagster_project.demo --out DIR [--customers N] [--years Y] [--seed S] [--end-date D] [--force]
    python -m dagster_project.demo --out DIR --days N

Customers follow a BG/NBD-like purchase process with Gamma-Gamma-like spend (see
`simulate.py`); ~0.2% of the rows of every source are broken on purpose (see `faults.py`).
"""

from .faults import FAULTS, REASONS
from .generator import Summary, append_days, generate
from .state import MANIFEST_FILE, STATE_FILE, GeneratorError

__all__ = ["generate", "append_days", "GeneratorError", "Summary", "FAULTS", "REASONS", "MANIFEST_FILE",
           "STATE_FILE"]
