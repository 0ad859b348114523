// The layers of the course's MNIST networks in plain JavaScript, for inference in the page:
// convolution, ReLU, max-pooling, flatten, linear and softmax, each a few loops over a float32
// tensor of one image laid out as PyTorch's (C, H, W), plus a reader for the float16 weights
// the widget ships. `runModel` chains them as the graph exported by
// stn_course.widgets.invariance.export_graph says, with the spatial transformer's grid and
// bilinear sampler taken from warp.js (align_corners=False, zero padding, as PyTorch's).
import { affineSource, warpGray } from "./warp.js";

/** Little-endian IEEE 754 half-precision values (2 bytes each) as a Float32Array. */
export function halfToFloat(bytes) {
  const out = new Float32Array(bytes.length >> 1);
  for (let k = 0; k < out.length; k++) {
    const h = bytes[2 * k] | (bytes[2 * k + 1] << 8);
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) out[k] = sign * mantissa * 2 ** -24; // subnormal
    else if (exponent === 31) out[k] = mantissa ? NaN : sign * Infinity;
    else out[k] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return out;
}

/** The graph's tensors as {data, shape} views into one decoded Float32Array. */
export function loadTensors(graph, weightBytes) {
  const all = halfToFloat(weightBytes);
  return graph.tensors.map(({ shape, offset }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    if (offset + size > all.length) throw new Error(`weights: a tensor ends at ${offset + size} of ${all.length} values`);
    return { data: all.subarray(offset, offset + size), shape };
  });
}

/**
 * Convolution with stride 1 and `pad` zeros on every side ("same" for an odd kernel).
 * x: {data, c, h, w}; weight (O, C, K, K); bias (O,) -> {data, c: O, h: H_out, w: W_out}.
 *
 * Loop order: for each kernel tap (c, ky, kx), add the tap's weight times the input plane,
 * shifted by (ky − pad, kx − pad), to the output plane, one contiguous row at a time. Four output
 * channels share each pass over the shifted rows (each input value read once, used four times),
 * which about halves the time in plain JS; the sums run in the same order as one channel at a time.
 */
export function conv2d(x, weight, bias, pad) {
  const [outC, inC, k] = weight.shape;
  if (inC !== x.c) throw new Error(`conv2d: weight takes ${inC} channels, the input has ${x.c}`);
  const h = x.h + 2 * pad - k + 1;
  const w = x.w + 2 * pad - k + 1;
  const plane = h * w;
  const out = new Float32Array(outC * plane);
  for (let o = 0; o < outC; o++) out.fill(bias.data[o], o * plane, (o + 1) * plane);
  const wt = weight.data;
  const src = x.data;
  const perOutput = inC * k * k; // weights of one output channel
  for (let o = 0; o < outC; o += 4) {
    const group = Math.min(4, outC - o); // output channels o … o + group − 1
    const [d0, d1, d2, d3] = [0, 1, 2, 3].map((q) => (o + Math.min(q, group - 1)) * plane);
    for (let c = 0; c < inC; c++) {
      const s = c * x.h * x.w;
      for (let ky = 0; ky < k; ky++) {
        const dy = ky - pad; // output row y reads input row y + dy
        const y0 = Math.max(0, -dy);
        const y1 = Math.min(h, x.h - dy);
        for (let kx = 0; kx < k; kx++) {
          const t = (o * inC + c) * k * k + ky * k + kx;
          // a group smaller than four repeats its last channel with weight 0
          const [a0, a1, a2, a3] = [0, 1, 2, 3].map((q) => (q < group ? wt[t + q * perOutput] : 0));
          const dx = kx - pad;
          const x0 = Math.max(0, -dx);
          const x1 = Math.min(w, x.w - dx);
          for (let y = y0; y < y1; y++) {
            const row = y * w;
            const from = s + (y + dy) * x.w + dx;
            for (let j = x0; j < x1; j++) {
              const v = src[from + j];
              out[d0 + row + j] += a0 * v;
              out[d1 + row + j] += a1 * v;
              out[d2 + row + j] += a2 * v;
              out[d3 + row + j] += a3 * v;
            }
          }
        }
      }
    }
  }
  return { data: out, c: outC, h, w };
}

/** max(0, x), in place. */
export function relu(x) {
  const d = x.data;
  for (let k = 0; k < d.length; k++) if (d[k] < 0) d[k] = 0;
  return x;
}

/** Non-overlapping size × size max-pooling (floor: a last partial window is dropped, as PyTorch's). */
export function maxPool(x, size) {
  const h = Math.floor(x.h / size);
  const w = Math.floor(x.w / size);
  const out = new Float32Array(x.c * h * w);
  for (let c = 0; c < x.c; c++) {
    const src = c * x.h * x.w;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let best = -Infinity;
        for (let u = 0; u < size; u++) {
          const row = src + (i * size + u) * x.w + j * size;
          for (let v = 0; v < size; v++) if (x.data[row + v] > best) best = x.data[row + v];
        }
        out[(c * h + i) * w + j] = best;
      }
    }
  }
  return { data: out, c: x.c, h, w };
}

/** (C, H, W) -> a vector of C·H·W, in PyTorch's order (a view: the data stay where they are). */
export function flatten(x) {
  return { data: x.data, c: x.data.length, h: 1, w: 1 };
}

/** y = W x + b for weight (O, I), bias (O,): a vector of O. */
export function linear(x, weight, bias) {
  const [outF, inF] = weight.shape;
  if (inF !== x.data.length) throw new Error(`linear: weight takes ${inF} inputs, got ${x.data.length}`);
  const out = new Float32Array(outF);
  for (let o = 0; o < outF; o++) {
    let sum = 0;
    const row = o * inF;
    for (let i = 0; i < inF; i++) sum += weight.data[row + i] * x.data[i];
    out[o] = bias.data[o] + sum;
  }
  return { data: out, c: outF, h: 1, w: 1 };
}

/** exp(z_i) / Σ_j exp(z_j), computed with the largest logit subtracted first. */
export function softmax(logits) {
  const top = Math.max(...logits);
  const e = Array.from(logits, (z) => Math.exp(z - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** Run a list of ops (see export_graph) on x = {data, c, h, w}. */
export function runOps(ops, x, tensors) {
  for (const op of ops) {
    if (op.op === "conv") x = conv2d(x, tensors[op.weight], tensors[op.bias], op.pad);
    else if (op.op === "relu") x = relu(x);
    else if (op.op === "maxpool") x = maxPool(x, op.size);
    else if (op.op === "flatten") x = flatten(x);
    else if (op.op === "linear") x = linear(x, tensors[op.weight], tensors[op.bias]);
    else throw new Error(`no kernel for op ${JSON.stringify(op.op)}`);
  }
  return x;
}

/**
 * One model of the graph on a one-channel image (Float32Array of h·w, values in [0, 1]).
 * Returns {probabilities: 10 numbers, theta: 2x3 or null, rectified: {data, h, w} or null}:
 * for an ST model, θ = the localisation net's output, the image sampled at T_θ(G) (eqs. 1, 5)
 * is what its classifier sees.
 */
export function runModel(spec, image, h, w, tensors) {
  let x;
  let theta = null;
  let rectified = null;
  if (spec.localization) {
    const params = runOps(spec.localization, { data: image.slice(), c: 1, h, w }, tensors).data;
    theta = [[params[0], params[1], params[2]], [params[3], params[4], params[5]]];
    const [outH, outW] = spec.out_size || [h, w];
    rectified = { data: warpGray(image, w, h, outW, outH, affineSource(theta)), h: outH, w: outW };
    x = { data: rectified.data.slice(), c: 1, h: outH, w: outW };
  } else {
    x = { data: image.slice(), c: 1, h, w };
  }
  const logits = runOps(spec.classifier, x, tensors).data;
  return { probabilities: softmax(logits), theta, rectified };
}
