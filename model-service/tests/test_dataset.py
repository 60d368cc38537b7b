"""Reading the training TSV exactly as the public file is written."""

import pytest
from model_service.integrity import sha256_bytes
from model_service.training.dataset import DatasetError, format_tsv, load_dataset, parse_tsv

PUBLIC_STYLE = (
    b"Review\tLiked\n"
    b"Wow... Loved this place.\t1\n"
    b'"The ""mains"" were uninspired, and	cold."\t0\n'
    b"Crust is not good.\t0\n"
)


def test_csv_quoted_lines_keep_their_quotes_and_tabs():
    reviews, labels = parse_tsv(PUBLIC_STYLE)

    assert reviews[1] == 'The "mains" were uninspired, and\tcold.'
    assert labels == [1, 0, 0]


def test_format_tsv_writes_what_parse_tsv_reads():
    reviews, labels = parse_tsv(PUBLIC_STYLE)

    assert format_tsv(reviews, labels).encode() == PUBLIC_STYLE


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Text\tLabel\nGood\t1\n", "header must be 'Review<TAB>Liked'"),
        (b"Review\tLiked\nGood\t1\nBad\tno\n", ":3: expected 'review<TAB>0|1'"),
        (b"Review\tLiked\nGood\t1\nFine\t1\n", "needs both positive and negative"),
        (b"Review\tLiked\n\xff\xfe\t1\n", "not UTF-8"),
    ],
)
def test_malformed_data_is_refused_with_the_reason(data, message):
    with pytest.raises(DatasetError, match=message):
        parse_tsv(data, "reviews.tsv")


def test_a_local_file_with_a_wrong_pin_is_refused(tmp_path):
    path = tmp_path / "reviews.tsv"
    path.write_bytes(PUBLIC_STYLE)

    with pytest.raises(DatasetError, match=f"sha256 is {sha256_bytes(PUBLIC_STYLE)}, expected 0000"):
        load_dataset(str(path), "0" * 64)


def test_a_url_without_a_pin_is_refused_before_any_download():
    with pytest.raises(DatasetError, match="needs --data-sha256"):
        load_dataset("https://example.invalid/reviews.tsv")
