"""MLPClassifier(data_parallel=True) under mpiexec: two processes, each fitting its own rows,
train the model that one process fits on all the rows in the same order (to float rounding), and
an uncaught error on one rank ends the job instead of leaving the others waiting."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

MPIEXEC = shutil.which("mpiexec") or shutil.which("mpirun")
# Open MPI in a container, as root, on one machine (as tests/test_mpi.cpp runs it).
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_btl="self,vader", OMPI_MCA_btl_vader_single_copy_mechanism="none",
           OMPI_MCA_plm_rsh_agent="false", OMPI_MCA_rmaps_base_oversubscribe="1",
           OMPI_MCA_hwloc_base_binding_policy="none")

SCRIPT = textwrap.dedent("""
    import sys, warnings
    import numpy as np
    import fcnet
    from fcnet import _fcnet

    mode, out = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 5))
    y = np.array(["ant", "bee", "cat"])[np.argmax(X[:, :3] + 0.3 * rng.normal(size=(240, 3)), 1)]
    order = np.argsort(y, kind="stable")  # sorted by label: the ranks' shares hold other classes
    X, y = X[order], y[order]
    rank, size = _fcnet.mpi_rank()
    if mode == "before" and rank == 1:
        raise RuntimeError("this rank fails before its fit")
    hidden = (8,) if mode == "mismatch" and rank == 1 else (16,)
    if mode == "bad" and rank == 1:
        y = y.astype(object)
        y[-1] = None  # an unsortable label in its rows: this rank alone raises
    share = np.array_split(np.arange(len(y)), size)[rank]
    clf = fcnet.MLPClassifier(hidden_layer_sizes=hidden, max_iter=6, batch_size=32,
                              random_state=0, early_stopping=True, n_iter_no_change=100,
                              class_weight="balanced", n_jobs=1, data_parallel=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X[share], y[share])
    if rank == 0:
        np.savez(out, proba=clf.predict_proba(X), classes=clf.classes_.astype(str),
                 loss=np.array(clf.loss_curve_), val=np.array(clf.validation_scores_))
""")


def run(args, tmp_path, np_=0):
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    cmd = [sys.executable, str(script), *args]
    if np_:
        cmd = [MPIEXEC, "-np", str(np_), *cmd]
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def mpi_build(tmp_path_factory):
    if MPIEXEC is None:
        pytest.skip("no mpiexec on this machine")
    probe = subprocess.run([MPIEXEC, "-np", "1", sys.executable, "-c",
                            "from fcnet import _fcnet; print(_fcnet.mpi_rank())"],
                           env=ENV, capture_output=True, text=True, timeout=60)
    if probe.stdout.strip() == "None":
        pytest.skip("fcnet was built without MPI (FCNET_MPI=OFF)")
    assert probe.stdout.strip() == "(0, 1)", probe.stdout + probe.stderr


def test_two_ranks_fit_the_model_one_process_fits(mpi_build, tmp_path):
    # One rank holding every row: the rows in the order two ranks hold them, one share after
    # the other (data_parallel keeps the order given).
    one = run(["one", str(tmp_path / "one.npz")], tmp_path, np_=1)
    assert one.returncode == 0, one.stderr
    two = run(["ranks", str(tmp_path / "two.npz")], tmp_path, np_=2)
    assert two.returncode == 0, two.stderr
    a, b = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert a["classes"].tolist() == b["classes"].tolist() == ["ant", "bee", "cat"]
    assert len(a["loss"]) == len(b["loss"]) == 6
    np.testing.assert_allclose(b["loss"], a["loss"], rtol=1e-5)
    np.testing.assert_allclose(b["val"], a["val"], atol=1e-12)
    np.testing.assert_allclose(b["proba"], a["proba"], atol=1e-5)
    # Not a trivial agreement: the model learnt something.
    assert a["loss"][-1] < a["loss"][0]


def test_an_error_on_one_rank_ends_every_rank(mpi_build, tmp_path):
    bad = run(["bad", str(tmp_path / "bad.npz")], tmp_path, np_=2)
    assert bad.returncode != 0
    assert "rank 1 of 2: ValueError: y: has a missing label (None) at row" in bad.stderr, bad.stderr
    assert not (tmp_path / "bad.npz").exists()


@pytest.mark.parametrize("mode,message", [
    ("mismatch", "data_parallel: rank 1 fits with hidden=[8] and rank 0 with hidden=[16]"),
    ("before", "rank 1 of 2: RuntimeError: this rank fails before its fit"),
])
def test_ranks_that_disagree_or_fail_early_end_the_job(mpi_build, tmp_path, mode, message):
    run_ = run([mode, str(tmp_path / "x.npz")], tmp_path, np_=2)
    assert run_.returncode != 0
    assert message in run_.stderr, run_.stderr
    assert not (tmp_path / "x.npz").exists()


def test_data_parallel_outside_mpi_is_refused():
    import fcnet
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="data_parallel: is True in a process that no MPI launcher"):
        fcnet.MLPClassifier(data_parallel=True, max_iter=1).fit(X, X[:, 0] > 0)
