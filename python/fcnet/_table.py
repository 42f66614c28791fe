"""Data frames (pandas) as tables: their columns handed to the library's table encoder, which is the
one the command line uses for CSV files, so a frame and a CSV with the same cells encode alike."""

import numpy as np

from . import _fcnet


def is_frame(X):
    """Whether X is a pandas DataFrame (checked without importing pandas)."""
    return type(X).__name__ == "DataFrame" and hasattr(X, "columns") and hasattr(X, "dtypes")


def column_names(X):
    return [str(c) for c in X.columns]


def is_missing(v):
    """Whether a cell or label is a gap: None, NaN, pandas' NA or NaT."""
    return v is None or (isinstance(v, float) and v != v) or type(v).__name__ in ("NAType", "NaTType")


def _text_cells(values):
    return [None if is_missing(v) else str(v) for v in values]


def frame_columns(X):
    """[(name, column)] for _fcnet.encode_table, and the names of category-typed columns. Numbers
    (int, float, nullable ints) go as float64 with NaN for gaps; bool, object, string and category
    columns go as text, read cell by cell as a CSV's cells are."""
    cols, categorical = [], []
    for j, name in enumerate(column_names(X)):
        s = X.iloc[:, j]
        dt = s.dtype
        if type(dt).__name__ == "CategoricalDtype":
            categorical.append(name)
            cols.append((name, _text_cells(s.astype(object).tolist())))
        elif getattr(dt, "kind", "O") in "iuf":
            cols.append((name, s.to_numpy(dtype="float64", na_value=np.nan)))
        else:
            cols.append((name, _text_cells(s.astype(object).tolist())))
    return cols, categorical


def encode_frame(X, schema_json="", source="X"):
    """(N×D float64 features, schema JSON, unseen [(column, count)]) for a DataFrame: by the given
    schema (columns found by name), or by one fitted on X."""
    cols, categorical = frame_columns(X)
    return _fcnet.encode_table(cols, schema_json=schema_json,
                               categorical=[] if schema_json else categorical, source=source)


def encode_matrix(X, names, schema_json, source="X"):
    """A plain 2-D array read by position as the columns `names` of the model's table."""
    A = np.asarray(X)
    if A.ndim != 2 or A.shape[1] != len(names):
        raise ValueError(f"{source}: has shape {A.shape}, expected (n, {len(names)}): the columns "
                         f"{names} the model was trained on")
    if A.dtype.kind in "biuf" and A.dtype.kind != "b":
        cols = [(n, np.ascontiguousarray(A[:, j], dtype=np.float64)) for j, n in enumerate(names)]
    else:
        cols = [(n, _text_cells(A[:, j].tolist())) for j, n in enumerate(names)]
    return _fcnet.encode_table(cols, schema_json=schema_json, source=source)
