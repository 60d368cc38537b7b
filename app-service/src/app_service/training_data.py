"""The training TSV the model-service's `train --data` reads: header `Review<TAB>Liked`, 1 = positive.

The format is the contract between this export and the training CLI: the csv
module quotes reviews holding quotes, tabs or newlines, exactly as the public
data file and the model-service's own `format_tsv` do.
"""

import csv
import io
from collections.abc import Iterable

from app_service.store import LabelledReview

COLUMNS = ("Review", "Liked")
MEDIA_TYPE = "text/tab-separated-values; charset=utf-8"


def format_training_tsv(reviews: Iterable[LabelledReview]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((item.review, 1 if item.label == "positive" else 0) for item in reviews)
    return buffer.getvalue()
