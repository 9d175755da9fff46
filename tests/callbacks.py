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
