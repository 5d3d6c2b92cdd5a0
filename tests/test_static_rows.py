"""Static analysis on notebooks of any kind (issue #12): the row rules (fit-before-split, overlap,
cv-selection-on-held-out) on plain pandas/sklearn/keras code, plain notebooks judged without the
course's contract, and training on the texts final_evaluation hands to predict, by every route.

Expected findings are (rule, cell, line); severities are checked against the rule table.
"""

import pytest

from grader.static import analyze_cells
from tests.test_static import found

PLAIN = "import pandas as pd\ndf = pd.read_csv('complaints.csv')\n"  # lines 1-2
HUB = "from datasets import load_dataset\nds = load_dataset('determined-ai/consumer_complaints_medium')\n"
COURSE = "from course import final_evaluation, load_course_data\ntrain_ds, val_ds = load_course_data()\n"
SPLIT = "X_train, X_test, y_train, y_test = train_test_split(df['text'], df['Issue'], test_size=0.2)\n"

CASES = {
    # plain notebooks own their split and their test set
    "a file named like the dataset is not the hub": (
        [
            "df = pd.read_csv('data/consumer_complaints.csv')\n" + SPLIT + "vec = TfidfVectorizer()\n"
            "clf = LinearSVC().fit(vec.fit_transform(X_train), y_train)\n"
            "print(accuracy_score(y_test, clf.predict(vec.transform(X_test))))"
        ],
        [],
    ),
    "the hub's own train and test splits": (
        [
            HUB + "train, test = ds['train'], ds['test']\nvec = TfidfVectorizer().fit(train['Consumer Complaint'])\n"
            "clf = LogisticRegression().fit(vec.transform(train['Consumer Complaint']), train['Issue'])\n"
            "print(f1_score(test['Issue'], clf.predict(vec.transform(test['Consumer Complaint'])), average='macro'))"
        ],
        [],
    ),
    "plain: training on the held-out side": (
        [PLAIN + SPLIT + "clf = LogisticRegression().fit(vec.fit_transform(X_test), y_test)"],
        [("train-on-test", 0, 4), ("fit-on-eval", 0, 4)],
    ),
    "plain: early stopping on the held-out side": (
        [PLAIN + SPLIT + "model.fit(X_train, y_train, validation_data=(X_test, y_test), callbacks=[EarlyStopping()])"],
        [("eval-on-test", 0, 4)],
    ),
    "plain: watching the held-out side is fine": (
        [PLAIN + SPLIT + "model.fit(X_train, y_train, validation_data=(X_test, y_test), epochs=3)"],
        [],
    ),
    # fit-before-split
    "TextVectorization adapted on the whole frame": (
        [
            PLAIN + "layer = TextVectorization(max_tokens=20000)\nlayer.adapt(df['text'].values)\n"
            "model = Sequential([layer, Embedding(20000, 64), GlobalAveragePooling1D(), Dense(113)])\n"
            + SPLIT
            + "model.fit(X_train, y_train, epochs=2)"
        ],
        [("fit-before-split", 0, 7)],
    ),
    "keras Tokenizer, then a positional split": (
        [
            PLAIN + "tok = Tokenizer(num_words=5000)\ntok.fit_on_texts(df['text'])\n"
            "seqs = pad_sequences(tok.texts_to_sequences(df['text']), maxlen=100)\n"
            "X_train, X_test = seqs[:8000], seqs[8000:]"
        ],
        [("fit-before-split", 0, 6)],
    ),
    "scaler fitted before KFold": (
        [
            PLAIN + "X = StandardScaler().fit_transform(df[['n_words', 'n_redactions']])\n"
            "for tr, te in KFold(n_splits=5).split(X):\n    pass"
        ],
        [("fit-before-split", 0, 4)],
    ),
    "refitted on the train side after the split": (
        [
            PLAIN
            + "vec = TfidfVectorizer()\nvec.fit(df['text'])\n"
            + SPLIT
            + "vec.fit(X_train)\nclf = LinearSVC().fit(vec.transform(X_train), y_train)\nclf.score(vec.transform(X_test), y_test)"
        ],
        [],
    ),
    # overlap
    "minority rows upsampled before the split": (
        [
            PLAIN + "rare = df[df['Issue'] == 'Other']\nup = resample(rare, replace=True, n_samples=5000)\n"
            "df = pd.concat([df, up])\ntrain_df, test_df = train_test_split(df, test_size=0.2)"
        ],
        [("overlap", 0, 6)],
    ),
    "whole rows pooled with a part of themselves": (
        [
            PLAIN + "df = pd.concat([df, df[df['Issue'] == 'Other']], ignore_index=True)\n"
            "split = Dataset.from_pandas(df).train_test_split(test_size=0.2)"
        ],
        [("overlap", 0, 4)],
    ),
    "columns joined side by side are no copies": (
        [
            PLAIN + "df = pd.concat([df, df['text'].str.len().rename('n')], axis=1)\n"
            "train_df, test_df = train_test_split(df, test_size=0.2)"
        ],
        [],
    ),
    # cv-selection-on-held-out
    "cross_val_score over all rows, then a split": (
        [
            PLAIN
            + "for c in (0.1, 1.0):\n    print(c, cross_val_score(make_pipeline(TfidfVectorizer(), LinearSVC(C=c)),"
            " df['text'], df['Issue'], cv=5).mean())\n" + SPLIT
        ],
        [("cv-selection-on-held-out", 0, 4)],
    ),
    "cross-validation alone holds nothing out": (
        [
            PLAIN
            + "print(cross_val_score(make_pipeline(TfidfVectorizer(), LinearSVC()), df['text'], df['Issue']).mean())"
        ],
        [],
    ),
    # test-time-training, by every route the texts take
    "a closure made by a factory fits on its input": (
        [
            COURSE
            + "def make_predict(model):\n    def predict(texts):\n        model.fit(texts, model.predict(texts))\n"
            "        return model.predict(texts)\n    return predict\n\nfinal_evaluation(make_predict(clf), run='w1')"
        ],
        [("train-on-test", 0, 5), ("test-time-training", 0, 5)],
    ),
    "functools.partial": (
        [
            COURSE + "import functools\ndef run(model, texts):\n    model.partial_fit(vec.transform(texts), pseudo)\n"
            "    return model.predict(vec.transform(texts))\npredict = functools.partial(run, clf)\n"
            "final_evaluation(predict, run='w1')"
        ],
        [("test-time-training", 0, 5)],
    ),
    "a class's __call__ fine-tunes a Trainer": (
        [
            COURSE + "class Adapt:\n    def __call__(self, texts):\n"
            "        ds = Dataset.from_dict({'text': texts, 'label': self.pseudo(texts)})\n"
            "        Trainer(model=model, train_dataset=ds).train()\n        return self.pseudo(texts)\n"
            "final_evaluation(Adapt(), run='w1')"
        ],
        [("train-on-test", 0, 6), ("test-time-training", 0, 6)],
    ),
    "a global list, trained on later, then evaluated again": (
        [
            COURSE
            + "seen = []\ndef predict(texts):\n    seen.extend(texts)\n    return clf.predict(vec.transform(texts))\n"
            "final_evaluation(predict, run='w1')",
            "clf.fit(vec.transform(seen), clf.predict(vec.transform(seen)))\nfinal_evaluation(predict, run='w1_selftrained')",
        ],
        [
            ("test-capture", 0, 5),
            ("train-on-test", 1, 1),
            ("test-time-training", 1, 1),
            ("final-eval-before-training-ends", 1, 1),
            ("final-eval-after-test-training", 1, 2),
        ],
    ),
    "predictions kept and trained on are not the texts": (
        [
            COURSE + "preds = []\ndef predict(texts):\n    p = clf.predict(vec.transform(texts))\n    preds.append(p)\n"
            "    return p\nfinal_evaluation(predict, run='w1')\nprint(len(preds))"
        ],
        [],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_row_and_test_time_cases(case):
    cells, expected = CASES[case]
    assert found(analyze_cells(cells)) == expected
