"""Keras callbacks the training tests share."""
import keras


class Interrupt(keras.callbacks.Callback):
    """Stops a fit the hard way after ``after`` epochs, as a crash or a Ctrl-C would."""

    def __init__(self, after):
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            raise KeyboardInterrupt


class Steps(keras.callbacks.Callback):
    """Records in ``steps[key]`` the optimizer's step count when a fit ends, to compare an
    interrupted and resumed fit with a whole one."""

    def __init__(self, steps, key):
        super().__init__()
        self.steps, self.key = steps, key

    def on_train_end(self, logs=None):
        self.steps[self.key] = int(self.model.optimizer.iterations.numpy())
