"""fcnet from Python in one page: a scikit-learn style classifier, a model file shared with the CLI,
and CS231n's two-layer net.

Run after `make build`:
    PYTHONPATH=build/python /usr/bin/python3 examples/python/quickstart.py
"""

import os
import tempfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score, train_test_split

import fcnet

# 1. A classifier for tabular data. Inputs are standardized inside the model; labels may be of any type.
X, y = load_digits(return_X_y=True)
names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[y]
X_train, X_test, y_train, y_test = train_test_split(X, names, test_size=0.25, random_state=0)

clf = fcnet.MLPClassifier(hidden_layer_sizes=(128,), random_state=0)
clf.fit(X_train, y_train)
print(f"MLPClassifier: {clf.n_iter_} epochs, test accuracy {clf.score(X_test, y_test):.4f}")
print("  first predictions:", clf.predict(X_test[:4]), "truth:", y_test[:4])
print("  5-fold cross-validation:", np.round(cross_val_score(clf, X, names, cv=5), 3))

# 2. The model file is the one `fcnet predict --model ...` reads.
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "digits.safetensors")
    clf.save(path)
    model = fcnet.load(path)
    print(f"Reloaded {model}: accuracy {model.evaluate(X_test, y_test)['accuracy']:.4f}")

# 3. CS231n assignment 1: parameters are NumPy arrays, loss and gradients come from fcnet's C++ core.
np.random.seed(0)
net = fcnet.TwoLayerNet(input_size=4, hidden_size=10, output_size=3, std=1e-1)
np.random.seed(1)
Xt = 10 * np.random.randn(5, 4)
yt = np.array([0, 1, 2, 2, 1])
loss, grads = net.loss(Xt, yt, reg=0.05)
print(f"TwoLayerNet toy loss {loss:.11f} (the course's value: 1.30378789133)")
stats = net.train(Xt, yt, Xt, yt, learning_rate=1e-1, reg=5e-6, num_iters=100)
print(f"  after 100 SGD steps the training loss is {stats['loss_history'][-1]:.4f}")
