import pytest

from scsigmoid.train.synthetic import write_synthetic_corpus


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    from scsigmoid.data.corpus import TokenCorpus

    path = tmp_path_factory.mktemp("corpus") / "c"
    write_synthetic_corpus(path, n_cells=24, vocab_size=60, min_len=5, max_len=40)
    return TokenCorpus(path)
