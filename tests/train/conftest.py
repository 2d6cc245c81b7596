import pytest

from scsigmoid.train.synthetic import write_synthetic_corpus


@pytest.fixture(scope="session")
def corpus_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "c"
    write_synthetic_corpus(path, n_cells=96, vocab_size=80, min_len=6, max_len=48)
    return path
