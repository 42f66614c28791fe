"""Input checks shared by the Python classes.

Messages follow the library's form "<where>: <what was wrong>, expected <what>", and every bad input
raises ValueError (fcnet.Error, raised by the compiled part, is a ValueError too). Arrays that are
already C-contiguous in the wanted type pass through without a copy.
"""

import numbers

import numpy as np

_NUMERIC_KINDS = "biuf"


def _fail(where, what, expected):
    raise ValueError(f"{where}: {what}, expected {expected}")


def as_array(X, where):
    """X as a NumPy array of a real numeric type (no copy when it already is one)."""
    if X is None:
        _fail(where, "is None", "an array")
    if hasattr(X, "toarray") and hasattr(X, "nnz"):  # scipy.sparse
        _fail(where, "is a sparse matrix (sparse input is not supported)", "a dense array: use X.toarray()")
    try:
        A = np.asarray(X)
    except (ValueError, TypeError) as e:  # ragged nested lists and the like
        raise ValueError(f"{where}: is not an array ({e}), expected a rectangular numeric array") from e
    if A.dtype.kind == "O":  # numbers held as Python objects are fine; anything else is not
        # As scikit-learn's check_array: text that is not a number is a ValueError, an entry of
        # another type (a dict, a list) a TypeError.
        try:
            A = A.astype(np.float64)
        except ValueError as e:
            raise ValueError(f"{where}: has dtype object with a non-numeric entry ({e}), "
                             "expected a real numeric array") from e
        except TypeError as e:
            raise TypeError(f"{where}: has dtype object with an entry that is not a number ({e}), "
                            "expected a real numeric array") from e
    if A.dtype.kind == "c":
        _fail(where, f"has dtype {A.dtype} (Complex data not supported)", "a real numeric array")
    if A.dtype.kind not in _NUMERIC_KINDS:
        _fail(where, f"has dtype {A.dtype}", "a real numeric array (float32, float64, integers or booleans)")
    return A


def as_matrix(X, where="X", dtype=None, keep=("float32", "float64"), flatten=False):
    """X as a C-contiguous 2-D array (examples × features).

    dtype forces the element type; otherwise a dtype named in `keep` is kept as it is and anything
    else becomes float64. flatten=True reshapes (N, d1, ..., dk) to (N, d1*...*dk), as CS231n's
    layers do. Non-finite values are checked by the compiled part (with the GIL released).
    """
    A = as_array(X, where)
    if flatten and A.ndim > 2:
        A = A.reshape(A.shape[0], -1)
    if A.ndim != 2:
        hint = (" (Reshape your data: X.reshape(-1, 1) for one feature, X.reshape(1, -1) for one example)"
                if A.ndim == 1 else "")
        _fail(where, f"has shape {A.shape}", f"a 2-D array (examples × features){hint}")
    if A.shape[0] == 0:
        _fail(where, f"has 0 sample(s) (shape={A.shape}) while a minimum of 1 is required", "at least one row")
    if A.shape[1] == 0:
        _fail(where, f"has 0 feature(s) (shape={A.shape}) while a minimum of 1 is required",
              "at least one column")
    if dtype is None:
        dtype = A.dtype if A.dtype.name in keep else np.float64
    return np.ascontiguousarray(A, dtype=dtype)


def as_class_indices(y, n, num_classes, where="y"):
    """Integer class labels 0..num_classes-1 as a C-contiguous int32 vector of length n."""
    Y = as_array(y, where)
    if Y.ndim == 2 and Y.shape[1] == 1:
        Y = Y[:, 0]
    if Y.ndim != 1 or Y.shape[0] != n:
        _fail(where, f"has shape {Y.shape}", f"({n},), one label per example")
    if Y.dtype.kind == "f":
        if not np.all(np.isfinite(Y)) or not np.all(Y == np.round(Y)):
            _fail(where, "holds values that are not whole numbers", "integer class indices")
    elif Y.dtype.kind == "b":
        _fail(where, "has dtype bool", "integer class indices")
    bad = np.flatnonzero((Y < 0) | (Y >= num_classes))
    if bad.size:
        i = int(bad[0])
        _fail(where, f"label {Y[i]!r} at example {i} is out of range", f"class indices in 0..{num_classes - 1}")
    return np.ascontiguousarray(Y, dtype=np.int32)


def check_positive_int(v, where, minimum=1):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or v < minimum:
        _fail(where, f"is {v!r}", f"an integer >= {minimum}")
    return int(v)


def check_real(v, where, lo=None, hi=None, lo_open=False, hi_open=False):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not np.isfinite(v):
        _fail(where, f"is {v!r}", "a finite number")
    v = float(v)
    if lo is not None and (v < lo or (lo_open and v == lo)):
        _fail(where, f"is {v!r}", f"a number {'>' if lo_open else '>='} {lo}")
    if hi is not None and (v > hi or (hi_open and v == hi)):
        _fail(where, f"is {v!r}", f"a number {'<' if hi_open else '<='} {hi}")
    return v


# Multiply-adds in one forward pass of a batch below which one thread beats several: thread
# hand-offs cost more than they save on small networks and batches, and far more when the cores
# are shared with other work.
SMALL_WORK = 4_000_000


def threads_for(rows, num_weights, n_jobs=None):
    """Thread count to hand the library for one call (0 = fcnet's current setting).

    n_jobs None picks one thread for small problems (rows × weights < SMALL_WORK) and fcnet's
    setting otherwise; a positive n_jobs is used as is; -1 means every core, -2 all but one, ..."""
    if n_jobs is None:
        return 1 if rows * num_weights < SMALL_WORK else 0
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        _fail("n_jobs", f"is {n_jobs!r}", "None, a positive thread count, or -1 for every core")
    if n_jobs < 0:
        import os
        return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    return int(n_jobs)
