"""Train a small neural network on scikit-learn's bundled digits data (no download).

Run it as is with ``python train.py``, or track it with ``runyard run train.py``.
The top-level assignments below are the run's flags.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

#| description: Units in the hidden layer.
#| min: 4
#| max: 2048
units = 64

#| description: Adam learning rate.
#| min: 0.00001
#| max: 1.0
learning_rate = 0.001

#| description: Passes over the training data.
#| min: 1
epochs = 10

#| description: Examples per gradient step.
batch_size = 32

#| description: Seed of the initial weights and of the order of examples (runyard run train.py --seeds 5).
seed = 0

digits = load_digits()
x_train, x_test, y_train, y_test = train_test_split(
    digits.data, digits.target, test_size=0.25, random_state=0
)
scaler = StandardScaler().fit(x_train)
x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)

model = MLPClassifier(
    hidden_layer_sizes=(units,),
    learning_rate_init=learning_rate,
    batch_size=batch_size,
    random_state=seed,
)
classes = np.unique(digits.target)
for epoch in range(1, epochs + 1):
    model.partial_fit(x_train, y_train, classes=classes)
    print(f"step: {epoch}")
    print(f"loss: {model.loss_:.6f}")
    print(f"accuracy: {accuracy_score(y_train, model.predict(x_train)):.6f}")

proba = model.predict_proba(x_test)
print(f"test_loss: {log_loss(y_test, proba, labels=classes):.6f}")
print(f"test_accuracy: {accuracy_score(y_test, proba.argmax(axis=1)):.6f}")
