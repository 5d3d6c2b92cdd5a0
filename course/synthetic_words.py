"""The words and labels the synthetic course is written from: the embedded course's label families,
old-form wordings and dropped labels, and the vocabulary its complaint texts are drawn from.

Data only, kept apart from the generator in `course.synthetic` so that module reads as the recipe.
Both files are hashed into a cached course's name (`catalog.generator_version`): editing a word
list rebuilds the course.
"""

# ----------------------------------------------------------------------------- labels

# The embedded course's canonical labels, grouped by product family (113 in all).
FAMILIES: dict[str, list[str]] = {
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
OLD_FORMS: dict[str, str] = {
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
DROPPED = [
    "Problem with a store layaway plan",
    "Lost savings bond certificate",
    "Problem with a gift card balance",
    "Issue with a rent-to-own agreement",
    "Problem with a pawn loan",
    "Trouble with a tax refund advance",
    "Problem with a cryptocurrency transfer",
]

# For labels outside the embedded course (e.g. the real ones): first keyword found picks the family.
FAMILY_KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("prepaid card", ("prepaid", "adding money", "gift card")),
    ("student loan", ("student",)),
    ("payday loan", ("payday", "title loan", "pawn")),
    ("vehicle loan", ("vehicle", "auto", "lease")),
    (
        "mortgage",
        (
            "mortgage",
            "escrow",
            "foreclos",
            "modification",
            "settlement process",
            "originator",
            "closing on",
            "forbearance",
            "workout",
            "home",
        ),
    ),
    (
        "credit reporting",
        (
            "report",
            "credit score",
            "bureau",
            "monitoring",
            "investigation",
            "identity theft",
            "inquir",
            "fraud alert",
            "security freeze",
        ),
    ),
    (
        "debt collection",
        (
            "collect",
            "debt",
            "communication tactics",
            "notification",
            "threat",
            "false statements",
            "contact someone",
            "contact or sharing",
            "illegal action",
        ),
    ),
    ("bank account", ("overdraft", "debit", "atm", "deposit", "withdraw", "check", "bank", "funds")),
    (
        "credit card",
        (
            "card",
            "apr",
            "cash advance",
            "balance transfer",
            "rewards",
            "credit limit",
            "credit line",
            "billing",
            "fee",
            "interest",
            "purchase",
            "credit decision",
            "credit determination",
            "underwriting",
            "acct not credited",
        ),
    ),
    ("personal loan", ("loan", "lender", "line of credit", "repay", "payoff")),
    ("money transfer", ("money", "transfer", "wallet", "wire", "scam", "sending", "wrong amount")),
    ("bank account", ("account", "transaction", "bankruptcy", "payment")),
]

# ----------------------------------------------------------------------------- vocabulary

# Shared by every class, roughly in decreasing frequency (sampled with Zipf weights).
GENERIC = """
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
FAMILY_WORDS: dict[str, list[str]] = {
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
SPECIFIC = """
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

STOPWORDS = set(
    """
a an the your you my i or and of on to with for in by was is it its at from after when new not
problem problems issue issues trouble about without that into still than as be being can't
didn't don't won't what this their his her other
""".split()
)

# Redacted spans as the CFPB publishes them: names and dates become XXXX, amounts {$XXX.XX}.
REDACTIONS = ["XXXX", "XXXX XXXX", "XX/XX/XXXX", "XXXX XXXX, XXXX", "XXXX, XXXX"]
DOLLAR_REDACTIONS = ["{$XXX.XX}", "{$XXX}"]
