"""A synthetic stand-in for the CFPB consumer-complaints course, so the harness runs offline.

The real course trains on `determined-ai/consumer_complaints_medium` (columns `Issue`, `Consumer
Complaint`) and ships five contract files. This module writes a raw dataset shaped like the real one
(113 kept classes with a long-tailed prior, old-form label wordings merged into canonical ones, a few
rare dropped labels, redacted complaint texts) and the matching contract, so every module can be
tested end to end without the network.

Texts are bags of words with sentence punctuation, mixing three sources: a generic complaint pool
shared by all classes, words shared by every issue of a product family (so related issues get
confused with each other, as in the real data), and a few class-specific words drawn at a low rate
(so TF-IDF + logistic regression learns the head classes while the rare tail stays hard).
"""

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

# ----------------------------------------------------------------------------- labels

# The embedded course's canonical labels, grouped by product family (113 in all).
_FAMILIES: dict[str, list[str]] = {
    "credit reporting": [
        "Incorrect information on your credit file",
        "Problem with a bureau's investigation of your dispute",
        "Improper use of your credit file",
        "Unable to get your credit score or report",
        "Problem with credit monitoring or identity protection",
        "Problem placing a fraud alert or security freeze",
        "Account status reported incorrectly",
        "Inquiry on your report you didn't authorize",
        "Your personal information is wrong",
        "Outdated account still on your report",
        "Public record reported in error",
        "Your file is mixed with another person's",
        "Discharged debt still shown as owed",
        "Trouble disputing your report online",
    ],
    "debt collection": [
        "Collecting a debt you don't owe",
        "Didn't receive written notice about the debt",
        "False claims about the debt or its amount",
        "Collector's communication tactics",
        "Threatened legal action or arrest",
        "Collector contacted your employer or family",
        "Collecting a debt that was already paid",
        "Debt came from identity theft",
        "Repeated calls at unreasonable hours",
        "Collector won't verify the debt",
        "Collecting a debt past the time limit",
        "Abusive or harassing language",
    ],
    "mortgage": [
        "Problem with a payment on your mortgage",
        "Trouble during the loan modification process",
        "Struggling to make your mortgage payments",
        "Foreclosure started without notice",
        "Problem with your escrow account",
        "Applying for a mortgage or a refinance",
        "Closing costs higher than quoted",
        "Problem when your loan moved to a new servicer",
        "Error in your mortgage statement",
        "Trouble getting a payoff quote",
        "Problem with private mortgage insurance",
        "Home equity line of credit problem",
        "Reverse mortgage problem",
    ],
    "credit card": [
        "Trouble using your card",
        "Problem with a purchase on your statement",
        "Fees or interest you didn't expect",
        "Problem with your rewards or benefits",
        "Credit limit changed without notice",
        "Problem getting a new card",
        "Closing your card account",
        "Balance transfer problem",
        "Cash advance charged as a purchase",
        "APR increase you didn't expect",
        "Late fee after paying on time",
        "Card opened without your consent",
        "Problem with a promotional offer",
        "Billing dispute not resolved",
        "Payment not credited to your card",
    ],
    "bank account": [
        "Opening a checking or savings account",
        "Closing your bank account",
        "Problem with a deposit or withdrawal",
        "Overdraft fees you didn't expect",
        "Problem caused by your funds being low",
        "Bank put a hold on your funds",
        "Unauthorized transactions on your account",
        "Problem with a check you wrote or received",
        "Problem using your debit or ATM card",
        "Account frozen without explanation",
        "Problem with online or mobile banking",
        "Interest or bonus not paid on savings",
    ],
    "student loan": [
        "Dealing with your student loan servicer",
        "Can't repay your student loan",
        "Problem with income-driven repayment",
        "Problem with loan forgiveness or discharge",
        "Getting a private student loan",
        "Problem with deferment or forbearance",
        "Student loan payments misapplied",
    ],
    "personal loan": [
        "Getting a personal loan",
        "Problem with the terms of your installment loan",
        "Received a personal loan you didn't apply for",
        "Charged fees you didn't expect on your loan",
        "Struggling to pay your installment loan",
        "Loan approved but the money never arrived",
        "Problem with a line of credit",
        "Problem with a loan payoff",
    ],
    "payday loan": [
        "Payday lender kept withdrawing from your account",
        "Can't contact your payday lender",
        "Payday loan rolled over without consent",
        "Charged more than the payday loan agreement said",
        "Problem with a title loan",
        "Problem with an online payday lender",
    ],
    "vehicle loan": [
        "Problem with your auto loan payment",
        "Your vehicle was repossessed",
        "Problem with auto loan terms at the dealership",
        "Problem with gap insurance or add-on products",
        "Problem with a vehicle lease",
        "Trouble getting your title after payoff",
        "Auto loan reported late in error",
    ],
    "money transfer": [
        "Money was not sent or received",
        "Wrong amount sent or received",
        "Fraud or scam using a money transfer",
        "Problem with a wire transfer",
        "Managing your mobile wallet account",
        "Unauthorized payment from your mobile wallet",
        "Problem with exchange rate or transfer fees",
        "Problem with a peer-to-peer payment app",
        "Transfer delayed or on hold",
    ],
    "prepaid card": [
        "Problem adding money to your prepaid card",
        "Unexpected fees on your prepaid card",
        "Trouble using your prepaid card",
        "Problem getting a refund of your prepaid balance",
        "Prepaid card lost or stolen",
        "Problem registering your prepaid card",
    ],
    "other service": [
        "Problem with a credit repair company",
        "Problem with a debt settlement company",
        "Problem with a check cashing service",
        "Advertising or marketing you found misleading",
    ],
}

# Old-form wordings (before a relabelling) -> canonical label: same issue, different words.
# Three targets take two sources each, as in the real course.
_OLD_FORMS: dict[str, str] = {
    "Incorrect information on credit file": "Incorrect information on your credit file",
    "Incorrect info on credit report": "Incorrect information on your credit file",
    "Issues with bureau's investigation of my dispute": "Problem with a bureau's investigation of your dispute",
    "Improper use of my credit file": "Improper use of your credit file",
    "Unable to get credit score/report": "Unable to get your credit score or report",
    "Credit monitoring/identity protection issues": "Problem with credit monitoring or identity protection",
    "Fraud alert or security freeze issues": "Problem placing a fraud alert or security freeze",
    "Inquiry on my report I didn't authorize": "Inquiry on your report you didn't authorize",
    "Cont'd collecting debt not owed": "Collecting a debt you don't owe",
    "Collecting debt not owed": "Collecting a debt you don't owe",
    "Communication tactics of collector": "Collector's communication tactics",
    "Threatened legal action/arrest": "Threatened legal action or arrest",
    "Debt resulted from identity theft": "Debt came from identity theft",
    "Issues with a payment on my mortgage": "Problem with a payment on your mortgage",
    "Loan modification, collection, foreclosure": "Trouble during the loan modification process",
    "Struggling to make mortgage payments": "Struggling to make your mortgage payments",
    "Escrow account issues": "Problem with your escrow account",
    "Mortgage application or refinance": "Applying for a mortgage or a refinance",
    "Trouble using the card": "Trouble using your card",
    "Fees or interest I didn't expect": "Fees or interest you didn't expect",
    "Rewards/benefits issues": "Problem with your rewards or benefits",
    "Closing/cancelling card account": "Closing your card account",
    "Closing a card account": "Closing your card account",
    "Balance transfer": "Balance transfer problem",
    "APR increase I didn't expect": "APR increase you didn't expect",
    "Opening an account": "Opening a checking or savings account",
    "Closing my bank account": "Closing your bank account",
    "Deposits and withdrawals": "Problem with a deposit or withdrawal",
    "Problems caused by my funds being low": "Problem caused by your funds being low",
    "Dealing with my student loan servicer": "Dealing with your student loan servicer",
    "Can't repay my student loan": "Can't repay your student loan",
    "Received a loan I didn't apply for": "Received a personal loan you didn't apply for",
    "Money was not available when promised": "Money was not sent or received",
}

# Rare raw labels that the course drops (too few examples to learn).
_DROPPED = [
    "Problem with a store layaway plan",
    "Lost savings bond certificate",
    "Problem with a gift card balance",
    "Issue with a rent-to-own agreement",
    "Problem with a pawn loan",
    "Trouble with a tax refund advance",
    "Problem with a cryptocurrency transfer",
]

# For labels outside the embedded course (e.g. the real ones): first keyword found picks the family.
_FAMILY_KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("prepaid card", ("prepaid", "adding money", "gift card")),
    ("student loan", ("student",)),
    ("payday loan", ("payday", "title loan", "pawn")),
    ("vehicle loan", ("vehicle", "auto", "lease")),
    ("mortgage", ("mortgage", "escrow", "foreclos", "modification", "settlement process", "originator",
                  "closing on", "forbearance", "workout", "home")),
    ("credit reporting", ("report", "credit score", "bureau", "monitoring", "investigation",
                          "identity theft", "inquir", "fraud alert", "security freeze")),
    ("debt collection", ("collect", "debt", "communication tactics", "notification", "threat",
                         "false statements", "contact someone", "contact or sharing", "illegal action")),
    ("bank account", ("overdraft", "debit", "atm", "deposit", "withdraw", "check", "bank", "funds")),
    ("credit card", ("card", "apr", "cash advance", "balance transfer", "rewards", "credit limit",
                     "credit line", "billing", "fee", "interest", "purchase", "credit decision",
                     "credit determination", "underwriting", "acct not credited")),
    ("personal loan", ("loan", "lender", "line of credit", "repay", "payoff")),
    ("money transfer", ("money", "transfer", "wallet", "wire", "scam", "sending", "wrong amount")),
    ("bank account", ("account", "transaction", "bankruptcy", "payment")),
]

# ----------------------------------------------------------------------------- vocabulary

# Shared by every class, roughly in decreasing frequency (sampled with Zipf weights).
_GENERIC = """
the I to and my a of was that they in it for on is me have this not with account be
them would had as no at from but an all told by so are been their did or after
were we which when there could any also about called letter payment company because
time again now still even said asked being will never received only then more
has what other back over due information request out phone than up should into
get these can who since made month months days call calls paid pay sent
number provided date able while without first help customer service representative
several today until before both each those our same him her someone spoke yet
another however every during email online website mail business office records copy
issue situation process policy amount balance notice response contact manager
supervisor department agent complaint documentation proof statement statements
following reason already multiple twice weeks years week year previous
current recently finally immediately attached enclosed regarding concerning per
unable refused refuse explain explained understand understanding confirmed
confirm stated states claim claimed informed advised promised assured requested
requesting waiting waited hold transferred transferring answer answered nobody
continue continued keep kept nothing something anything everything ever always
resolve resolved resolution fix fixed error mistake wrong correct correctly
incorrect frustrated frustrating unacceptable unfair ridiculous stress
financial money family home work job husband wife son daughter mother father
name address signature social security identity personal private
legal lawyer attorney rights law federal state consumer protection bureau
file filed filing review reviewed investigate investigation report reported
reporting written writing letters faxed fax certified receipt responded
hours minutes later morning afternoon evening weekend day
please thank sincerely hereby demand seeking asking want wanted need needed
""".split()

# Shared by all issues of one product family: what separates products, not issues.
_FAMILY_WORDS: dict[str, list[str]] = {
    "credit reporting": """credit report bureau bureaus credit file dispute disputed disputes tradeline
        score scores reporting agency inaccurate accuracy furnisher verify verified deleted
        deletion removed removal negative item items FCRA accurate history""".split(),
    "debt collection": """collector collectors collection collections agency debt debts owe owed
        validation validate original creditor FDCPA harass harassment calling voicemail
        judgment lawsuit sued garnish settle settlement""".split(),
    "mortgage": """mortgage home house property servicer loan escrow foreclosure modification
        principal refinance lender closing appraisal taxes insurance monthly payments
        underwriting lien deed homeowner""".split(),
    "credit card": """card credit cardholder charge charges purchase purchases merchant limit
        statement billing interest APR annual fee rewards points cash back minimum
        chargeback issuer""".split(),
    "bank account": """bank checking savings branch teller deposit deposits withdrawal debit ATM
        overdraft funds transaction transactions check checks direct routing cleared
        pending posted fraud""".split(),
    "student loan": """student loans servicer federal repayment forbearance deferment forgiveness
        school college university tuition borrower FAFSA income driven consolidation
        cosigner graduation""".split(),
    "personal loan": """loan installment lender borrowed borrow principal term terms origination
        funds approved application apply lending agreement payoff repayment financing
        rate installments""".split(),
    "payday loan": """payday lender loan cash advance storefront rollover renew title short
        term paycheck borrowed fees finance charge ACH online lender license""".split(),
    "vehicle loan": """car vehicle auto dealer dealership lease financing repossession
        repossessed title tow towed payment lender warranty miles truck keys
        insurance""".split(),
    "money transfer": """transfer transferred wire sent recipient sender app wallet Zelle
        PayPal Venmo exchange international remittance funds pickup agent location
        refund""".split(),
    "prepaid card": """prepaid card reload reloaded balance activation activate PIN retailer
        store gift funds load loaded refund registered register network""".split(),
    "other service": """company program enrolled enrollment service services contract
        sales salesman advertised advertisement promise promised refund fee
        upfront""".split(),
}

# Class-specific words beyond each label's own words: each is handed to about three classes.
_SPECIFIC = """
affidavit amortization appraiser arbitration audit authorization backdated balloon
beneficiary bankruptcy bereavement biweekly blocked bounced breach bypass
cancellation capitalized certificate chapter claimant clerical coborrower
collateral compliance confiscated consent contested counteroffer courtesy
cutoff dealer deceased declined deferred delinquent denial deposit disclosure
discrepancy divorce doubled downgrade duplicate electronic eligibility embezzled
emergency endorsement estate eviction excessive expedite expired extension
fabricated forged forwarded freeze garnishment grace hardship hijacked
impersonated inflated inheritance inspection insufficient intercepted
invalid itemized jointly kiosk lapse leftover lockout loophole mailed
maturity medical merger misapplied misprinted misrouted mislabeled missing
notarized obsolete offset outstanding overcharged overpayment paperwork
partial penalty petition phishing pledge postdated prepayment prorated
quote quoted reactivated rebate recall reconciliation recurring redeemed
reimbursement reinstatement rejected relocation renewal reopened
replacement repossess rescinded reserve retroactive reversal revoked
scheduled seized shortfall skimmed spouse stolen subpoena surcharge
suspended tampered terminated threshold trustee unclaimed unemployment
unlisted unverified upgrade usury veteran voided waiver widow withheld
zero adjustment appeal apology arrears assignment attachment autopay
backlog bonus buyout calculation chargeoff checkbook compensation
conversion countersigned custody daycare disability dormant drafted
duress earnings enrollment escalated exemption falsified flagged
furlough guarantor hospital incarcerated interception jobless kickback
landlord layoff ledger litigation lockbox military misplaced mortgagor
negligence nonpayment notary ombudsman oversight packet pandemic
""".split()

_STOPWORDS = set("""
a an the your you my i or and of on to with for in by was is it its at from after when new not
problem problems issue issues trouble about without that into still than as be being can't
didn't don't won't what this their his her other
""".split())

# Redacted spans as the CFPB publishes them: names and dates become XXXX, amounts {$XXX.XX}.
_REDACTIONS = ["XXXX", "XXXX XXXX", "XX/XX/XXXX", "XXXX XXXX, XXXX", "XXXX, XXXX"]
_DOLLAR_REDACTIONS = ["{$XXX.XX}", "{$XXX}"]

# ----------------------------------------------------------------------------- knobs

_PRIOR_EXPONENT, _PRIOR_CUTOFF = 0.9, 35.0  # p(rank r) ~ r^-0.9 exp(-r/35): head ~23%, long tail
_OLD_FORM_SHARE = 0.30  # of a merge target's rows, how many carry an old-form label
_MEDIAN_WORDS, _LENGTH_SIGMA = 47.0, 0.9  # lognormal length; a few texts pass 300 words
_CLASS_RATE, _FAMILY_RATE = 0.08, 0.12  # mean share of class-specific and family words per text
_SIGNAL_SHAPE = 0.3  # Beta shape of the per-text class rate: small = many texts with no signal
_HEAD_FAMILY_BOOST = 0.5  # how strongly the head family's issues crowd the top of the prior
_SIBLING_SHARE = 0.3  # texts written as another issue of the same family (consumers pick loosely)
_REDACTED_SHARE, _DOLLAR_SHARE = 0.63, 0.25  # texts with XXXX; of those, texts with {$XXX}
_REDACT_RATE = 0.03  # extra redaction tokens per word in redacted texts
_NUMERIC_SHARE = 0.18  # texts with an unredacted amount, year or account number
_SENTENCE_END, _COMMA = 1 / 12, 1 / 15
_DEFAULT_UNCOVERED = 16  # raw train rows with a dropped label in the real course


@dataclass(frozen=True)
class LabelPlan:
    """Which raw labels exist and what the course does with each: keep, merge into a kept one, drop."""

    kept: list[str]
    merges: dict[str, str]
    dropped: list[str]

    @property
    def raw_labels(self) -> list[str]:
        """Every distinct raw label that can appear in the `Issue` column."""
        return sorted(set(self.kept) | set(self.merges) | set(self.dropped))


def make_plan(seed: int = 0) -> LabelPlan:
    """The embedded synthetic course: 113 kept, 33 old-form merges plus one no-op, 7 dropped.

    The real mapping carries one entry that maps a label to itself; the seed picks which kept label
    (among those without old forms) gets that no-op entry. Names never depend on the seed.
    """
    kept = sorted(label for labels in _FAMILIES.values() for label in labels)
    targets = set(_OLD_FORMS.values())
    candidates = [label for label in kept if label not in targets]
    noop = candidates[np.random.default_rng(seed).integers(len(candidates))]
    return LabelPlan(kept=kept, merges={**_OLD_FORMS, noop: noop}, dropped=list(_DROPPED))


def plan_from_contract(labels: list[str], merge_map: dict[str, str], n_dropped: int = 7) -> LabelPlan:
    """The real course's shape: its labels and merges, plus invented rare labels to drop."""
    merges = {k: v for k, v in merge_map.items() if not k.startswith("_")}
    taken = set(labels) | set(merges)
    dropped = [label for label in _DROPPED if label not in taken][:n_dropped]
    if len(dropped) < n_dropped:
        raise ValueError(f"at most {len(dropped)} dropped labels available, asked for {n_dropped}")
    return LabelPlan(kept=list(labels), merges=merges, dropped=dropped)


# ----------------------------------------------------------------------------- generation


def _family_of(label: str) -> str:
    for family, labels in _FAMILIES.items():
        if label in labels:
            return family
    lowered = label.lower()
    for family, keywords in _FAMILY_KEYWORDS:
        if any(k in lowered for k in keywords):
            return family
    return "other service"


def _label_words(label: str) -> list[str]:
    words = re.sub(r"[^a-z0-9'\-]+", " ", label.lower()).split()
    return [w for w in words if w not in _STOPWORDS and len(w) > 1]


def _padded(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged index lists as a padded matrix plus lengths, for vectorised sampling."""
    lengths = np.array([len(r) for r in rows])
    matrix = np.zeros((len(rows), lengths.max()), dtype=np.int64)
    for i, r in enumerate(rows):
        matrix[i, : len(r)] = r
    return matrix, lengths


@dataclass
class _Vocabulary:
    forms: np.ndarray  # object array: 6 written forms per word (plain/comma/period x lower/Capital)
    generic_p: np.ndarray  # sampling weights over generic word ids (ids 0..len-1)
    family: np.ndarray  # family id of each class
    family_words: tuple[np.ndarray, np.ndarray]  # padded word ids per family, lengths
    class_words: tuple[np.ndarray, np.ndarray]  # padded word ids per class, lengths
    redactions: np.ndarray  # word ids of XXXX spans
    dollars: np.ndarray  # word ids of {$XXX} spans


def _vocabulary(classes: list[str], rng: np.random.Generator) -> _Vocabulary:
    """Word ids for every pool; each class gets its label's words plus a few seed-chosen extras."""
    words: list[str] = []
    index: dict[str, int] = {}

    def ids(pool: list[str]) -> list[int]:
        for w in pool:
            if w not in index:
                index[w] = len(words)
                words.append(w)
        return [index[w] for w in pool]

    generic = ids(_GENERIC)
    generic_p = 1.0 / np.arange(1, len(generic) + 1) ** 0.8
    families = list(_FAMILY_WORDS)
    family_rows = [ids(_FAMILY_WORDS[f]) for f in families]
    family = np.array([families.index(_family_of(c)) for c in classes])

    n_extra = 5  # cycling through a shuffled pool hands each specific word to about three classes
    extras = np.resize(rng.permutation(len(_SPECIFIC)), (len(classes), n_extra))
    class_rows = [ids(list(dict.fromkeys(_label_words(c) + [_SPECIFIC[i] for i in e])))
                  for c, e in zip(classes, extras)]
    redactions, dollars = ids(_REDACTIONS), ids(_DOLLAR_REDACTIONS)

    capital = [w[0].upper() + w[1:] for w in words]
    forms = np.array([[w, w + ",", w + ".", c, c + ",", c + "."] for w, c in zip(words, capital)],
                     dtype=object).ravel()
    return _Vocabulary(forms, generic_p / generic_p.sum(), family, _padded(family_rows),
                       _padded(class_rows), np.array(redactions), np.array(dollars))


def _pick(padded: tuple[np.ndarray, np.ndarray], rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    matrix, lengths = padded
    return matrix[rows, (rng.random(len(rows)) * lengths[rows]).astype(np.int64)]


def _numeric_token(rng: np.random.Generator) -> str:
    """An unredacted figure that matches the course's numeric-slice regex."""
    kind = rng.integers(3)
    if kind == 0:
        return f"${rng.integers(5, 5000)}" + (".00" if rng.random() < 0.5 else "")
    if kind == 1:
        return str(rng.integers(2008, 2020))
    return str(rng.integers(1000, 99999999))


def _texts(y: np.ndarray, vocab: _Vocabulary, rng: np.random.Generator) -> list[str]:
    """Complaint texts for class ids `y`, built as word-id arrays and joined once per row."""
    n = len(y)
    lengths = np.clip(np.exp(rng.normal(np.log(_MEDIAN_WORDS), _LENGTH_SIGMA, n)), 3, 1500).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    row = np.repeat(np.arange(n), lengths)
    n_words = len(row)

    # Each text has its own signal rate: some are vivid, some say nothing specific.
    class_rate = rng.beta(_SIGNAL_SHAPE, _SIGNAL_SHAPE * (1 / _CLASS_RATE - 1), n)[row]
    u = rng.random(n_words)
    is_class = u < class_rate
    is_family = ~is_class & (u < class_rate + _FAMILY_RATE)
    word = rng.choice(len(vocab.generic_p), size=n_words, p=vocab.generic_p)
    word[is_family] = _pick(vocab.family_words, vocab.family[y[row[is_family]]], rng)
    word[is_class] = _pick(vocab.class_words, y[row[is_class]], rng)

    # Redactions: a redacted text gets XXXX spans (one at least, placed last so nothing hides it)
    # and sometimes a {$XXX} amount.
    redacted = rng.random(n) < _REDACTED_SHARE
    extra = redacted[row] & (rng.random(n_words) < _REDACT_RATE)
    word[extra] = rng.choice(vocab.redactions, extra.sum())
    dollar_rows = np.flatnonzero(redacted & (rng.random(n) < _DOLLAR_SHARE))
    dollar_at = starts[dollar_rows] + (rng.random(len(dollar_rows)) * lengths[dollar_rows]).astype(np.int64)
    word[dollar_at] = rng.choice(vocab.dollars, len(dollar_at))
    first = starts[:-1][redacted] + (rng.random(redacted.sum()) * lengths[redacted]).astype(np.int64)
    word[first] = rng.choice(vocab.redactions, len(first))

    # Punctuation: sentences end at random and at the end of each text; the next word is capitalised.
    is_last = np.zeros(n_words, dtype=bool)
    is_last[starts[1:] - 1] = True
    period = is_last | (rng.random(n_words) < _SENTENCE_END)
    comma = ~period & (rng.random(n_words) < _COMMA)
    capital = np.zeros(n_words, dtype=bool)
    capital[0] = True
    capital[1:] = period[:-1]
    tokens = vocab.forms[word * 6 + capital * 3 + np.where(period, 2, comma.astype(np.int64))].tolist()

    for r in np.flatnonzero(rng.random(n) < _NUMERIC_SHARE):  # a few thousand rows: a loop is fine
        at = starts[r] + rng.integers(lengths[r])
        if word[at] in vocab.redactions:
            continue
        tail = tokens[at][-1] if tokens[at][-1] in ".," else ""
        tokens[at] = _numeric_token(rng) + tail
    return [" ".join(tokens[a:b]) for a, b in zip(starts[:-1], starts[1:])]


def _raw_labels(y: np.ndarray, plan: LabelPlan, rng: np.random.Generator) -> np.ndarray:
    """Class ids (kept, then dropped) -> raw label strings, a share of kept ones in old-form wording."""
    labels = np.array(plan.kept + plan.dropped, dtype=object)[y]
    sources: dict[str, list[str]] = {}
    for old, new in plan.merges.items():
        if old != new:
            sources.setdefault(new, []).append(old)
    old_form = rng.random(len(y)) < _OLD_FORM_SHARE
    for target, olds in sources.items():
        rows = np.flatnonzero(old_form & (labels == target))
        labels[rows] = np.array(olds, dtype=object)[rng.integers(len(olds), size=len(rows))]
    return labels


def _prior(family: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Long-tailed class prior; a seed-chosen head family holds several of the top ranks, as credit
    reporting does in the real data, so the commonest classes are also the most confusable."""
    n = len(family)
    ranks = np.arange(1, n + 1)
    by_rank = ranks ** -_PRIOR_EXPONENT * np.exp(-ranks / _PRIOR_CUTOFF)
    head = family[rng.integers(n)]  # the family of a random issue: big families lead more often
    order = np.argsort(-(rng.random(n) + _HEAD_FAMILY_BOOST * (family == head)))
    prior = np.empty(n)
    prior[order] = by_rank / by_rank.sum()
    return prior


def _siblings(y: np.ndarray, prior: np.ndarray, family: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The class each text is written as: its own, or for some rows a same-family issue drawn by prior.

    Real complainants pick among overlapping issues, so related labels share texts; this caps
    accuracy and makes the rare issues of a family hard to tell from its common ones.
    """
    n_kept = len(prior)
    written = y.copy()
    swap = (rng.random(len(y)) < _SIBLING_SHARE) & (y < n_kept)
    for f in np.unique(family[:n_kept]):
        members = np.flatnonzero(family[:n_kept] == f)
        rows = np.flatnonzero(swap & (family[y] == f))
        written[rows] = rng.choice(members, size=len(rows), p=prior[members] / prior[members].sum())
    return written


def generate_raw(plan: LabelPlan, n_train: int, n_test: int, seed: int = 0, *,
                 uncovered_train: Sequence[int] | None = None, n_test_dropped: int = 7
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw (train, test) frames with columns `Issue` and `Consumer Complaint`, like the hub dataset.

    Train and test are independent draws from one long-tailed class prior whose head class is chosen
    by the seed. Rows at `uncovered_train` (default: 16 random rows) and `n_test_dropped` random test
    rows carry dropped labels, spread over all of them; no other row does.
    """
    if n_test_dropped > n_test:
        raise ValueError(f"n_test_dropped={n_test_dropped} exceeds n_test={n_test}")
    rng = np.random.default_rng(seed)
    n_kept, n_dropped = len(plan.kept), len(plan.dropped)
    vocab = _vocabulary(plan.kept + plan.dropped, rng)
    prior = _prior(vocab.family[:n_kept], rng)
    if uncovered_train is None:
        uncovered_train = rng.choice(n_train, size=min(_DEFAULT_UNCOVERED, n_train), replace=False)

    frames = []
    for n, dropped_rows in [(n_train, np.asarray(uncovered_train, dtype=np.int64)),
                            (n_test, rng.choice(n_test, size=n_test_dropped, replace=False))]:
        y = rng.choice(n_kept, size=n, p=prior)
        y[dropped_rows] = n_kept + rng.permutation(len(dropped_rows)) % n_dropped
        frames.append(pd.DataFrame({"Issue": _raw_labels(y, plan, rng),
                                    "Consumer Complaint": _texts(_siblings(y, prior, vocab.family, rng),
                                                                 vocab, rng)}))
    return frames[0], frames[1]


# ----------------------------------------------------------------------------- contract


def make_contract(plan: LabelPlan, raw_train: pd.DataFrame, seed: int = 0,
                  val_fraction: float = 0.1) -> dict[str, object]:
    """The course's five contract files as Python objects, keyed by file name. Writes nothing.

    Rows whose merged label is kept are split into train/val at random; rows with dropped labels are
    in neither list, exactly as the real course leaves its 16 rare-class rows uncovered.
    """
    merged = raw_train["Issue"].map(lambda label: plan.merges.get(label, label))
    covered = np.flatnonzero(merged.isin(plan.kept).to_numpy())
    rng = np.random.default_rng(seed)
    val = np.sort(rng.choice(covered, size=int(round(val_fraction * len(covered))), replace=False))
    train = np.setdiff1d(covered, val)
    majority = merged.iloc[train].value_counts().index[0]
    return {
        "label_list.json": list(plan.kept),
        "label_merge_mapping.json": {
            "_comment": "Maps old-form label wordings to their canonical forms in label_list.json. "
                        "Apply this before any training or evaluation.",
            **plan.merges,
        },
        "train_indices.json": train.tolist(),
        "val_indices.json": val.tolist(),
        "baseline_results.json": {
            "majority_class": {"label": majority,
                               "val_accuracy": round(float((merged.iloc[val] == majority).mean()), 4)},
            "num_classes": len(plan.kept),
        },
    }
