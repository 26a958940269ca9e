"""Makes Tests/Fixtures/nn/deepfakes_w8.safetensors: Keras' forward output of the DeepFakes autoencoder
(the architecture of ../shared/bench/peer_train_keras.py, every filter and dense size divided by 8) for
weights NN can rebuild, plus the result of one Adam training step of side A.

Kernels are not stored: they are drawn exactly as NN's DeepFakesAutoencoder draws them (one SplitMix64
stream seeded with SEED; per layer, in the order encoder, decoder A, decoder B; Glorot uniform as
(2u - 1) * sqrt(6 / (fan_in + fan_out)) in float32 with u = (next >> 40) * 2^-24), so the file stays small.
Two kernels are stored to prove the streams agree. Biases are random (Keras would start them at zero) so
the bias path is tested too; they are stored.

Usage (tensorflow-cpu in a throwaway virtualenv, outside the repository):
  python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu
  /tmp/tfvenv/bin/python Tests/Fixtures/nn/make_deepfakes_fixture.py Tests/Fixtures/nn/deepfakes_w8.safetensors
"""
import json, os, struct, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np
import keras
from keras import layers
import tensorflow as tf

D, SIZE, SEED, BATCH = 8, 64, 7, 2
STEP_LR = 1e-3
MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def glorot(rng, shape, fan_in, fan_out):
    limit = np.sqrt(np.float32(6) / np.float32(fan_in + fan_out)).astype(np.float32)
    n = int(np.prod(shape))
    u = np.array([rng.next() >> 40 for _ in range(n)], dtype=np.float64).astype(np.float32) * np.float32(2.0 ** -24)
    return ((np.float32(2) * u - np.float32(1)) * limit).astype(np.float32).reshape(shape)


# The architecture, written like the peer's, keeping each weighted layer under NN's name.
named = []  # (name, layer) in NN's initialisation order


def conv(name, f, k, strides, activation=None):
    layer = layers.Conv2D(f, k, strides=strides, padding="same", activation=activation)
    named.append((name, layer))
    return layer


def upscale(name, f):
    def g(x):
        x = layers.LeakyReLU(0.1)(conv(name + ".conv", f * 4, 3, 1)(x))
        return layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2))(x)
    return g


def encoder():
    i = keras.Input((SIZE, SIZE, 3))
    x = i
    for n, f in enumerate([128, 256, 512, 1024]):
        x = layers.LeakyReLU(0.1)(conv(f"encoder.conv{n + 1}", f // D, 5, 2)(x))
    d1 = layers.Dense(1024 // D); named.append(("encoder.dense1", d1))
    d2 = layers.Dense(4 * 4 * 1024 // D); named.append(("encoder.dense2", d2))
    x = layers.Reshape((4, 4, 1024 // D))(d2(d1(layers.Flatten()(x))))
    return keras.Model(i, upscale("encoder.upscale", 512 // D)(x))


def decoder(name):
    i = keras.Input((8, 8, 512 // D))
    x = i
    for n, f in enumerate([256, 128, 64]):
        x = upscale(f"{name}.upscale{n + 1}", f // D)(x)
    return keras.Model(i, conv(f"{name}.output", 3, 5, 1, activation="sigmoid")(x))


enc, dA, dB = encoder(), decoder("decoderA"), decoder("decoderB")
x_in = keras.Input((SIZE, SIZE, 3))
aeA, aeB = keras.Model(x_in, dA(enc(x_in))), keras.Model(x_in, dB(enc(x_in)))

rng, data_rng = SplitMix64(SEED), np.random.default_rng(SEED)
tensors = {}
for name, layer in named:
    kernel_shape, bias_shape = [tuple(w.shape) for w in layer.get_weights()]
    if len(kernel_shape) == 4:
        k, _, cin, cout = kernel_shape
        kernel = glorot(rng, kernel_shape, k * k * cin, k * k * cout)
    else:
        kernel = glorot(rng, kernel_shape, kernel_shape[0], kernel_shape[1])
    bias = data_rng.uniform(-0.1, 0.1, bias_shape).astype(np.float32)
    layer.set_weights([kernel, bias])
    tensors[name + ".bias"] = bias
    if name in ("encoder.conv1", "decoderB.output"):
        tensors[name + ".kernel"] = kernel

x = data_rng.random((BATCH, SIZE, SIZE, 3), dtype=np.float32)
target = data_rng.random((BATCH, SIZE, SIZE, 3), dtype=np.float32)
tensors["input"] = x
tensors["target"] = target
tensors["outputA"] = aeA.predict(x, verbose=0)
tensors["outputB"] = aeB.predict(x, verbose=0)
aeA.compile(optimizer=keras.optimizers.Adam(STEP_LR, beta_1=0.5, beta_2=0.999), loss="mean_absolute_error")
loss = aeA.train_on_batch(x, target)
tensors["stepLossA"] = np.array([loss], dtype=np.float32)
tensors["afterStepA"] = aeA.predict(x, verbose=0)
tensors["afterStepB"] = aeB.predict(x, verbose=0)  # the encoder moved too

# safetensors: 8-byte little-endian header length, JSON header, raw little-endian data.
header, blobs, offset = {}, [], 0
for name in sorted(tensors):
    a = np.ascontiguousarray(tensors[name], dtype="<f4")
    header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
    blobs.append(a.tobytes()); offset += a.nbytes
header["__metadata__"] = {"generator": "make_deepfakes_fixture.py", "keras": keras.__version__,
                          "tensorflow": tf.__version__, "width_divisor": str(D), "input_size": str(SIZE),
                          "seed": str(SEED), "step_learning_rate": str(STEP_LR)}
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text))); f.write(text); f.write(b"".join(blobs))
print("loss", loss, "max change after step", float(np.abs(tensors["afterStepA"] - tensors["outputA"]).max()))
