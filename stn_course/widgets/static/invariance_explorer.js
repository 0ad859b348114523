// The invariance explorer: a test digit (or one drawn with a mouse or a finger) distorted by
// sliders as one of Table 1's recipes does (R, RTS: rotated, scaled, shifted; P: the frame's
// corners moved; TC: shifted among seeded clutter), and what a trained ST-CNN and a CNN make of
// it, computed here in the page with the kernels of nn.js: the ST-CNN's θ drawn as its sampling
// window on the input, the rectified digit its transformer passes on, and both models' class
// probabilities.
import { drawGridOverlay, frameOutline, affineSource, putGray, samplingGrid, toUint8, warpGray } from "./warp.js";
import { loadTensors, runModel } from "./nn.js";
import { DIGIT, clutterCanvas, clutterLayout, cornerPositions, isConvex, projectiveCanvas } from "./recipes.js";
import { element, figure, fixed, saveChanges, sliderRow } from "./ui.js";

const BOX = 20; // MNIST's digits fit a 20 x 20 box, centred by their centre of mass
const MODELS = [
  { name: "st-cnn-aff", label: "ST-CNN" },
  { name: "cnn", label: "CNN" },
];

/**
 * θ that places a DIGIT x DIGIT image on a size x size canvas, turned by `angle` degrees
 * (counter-clockwise on screen), scaled by `scale` and shifted by (tx, ty) pixels from the
 * centre: stn_course.distortions.placement_theta, for a square input and canvas.
 */
export function placementTheta(angle, scale, tx, ty, size) {
  const a = (angle * Math.PI) / 180;
  const k = size / DIGIT / scale;
  const m = [
    [k * Math.cos(a), -k * Math.sin(a)],
    [k * Math.sin(a), k * Math.cos(a)],
  ];
  const [u, v] = [(2 * tx) / size, (2 * ty) / size];
  return [
    [m[0][0], m[0][1], -(m[0][0] * u + m[0][1] * v)],
    [m[1][0], m[1][1], -(m[1][0] * u + m[1][1] * v)],
  ];
}

/** The distorted canvas both networks see: the digit (uint8) sampled at the placement, in [0, 1]. */
export function distortDigit(digit, angle, scale, tx, ty, size) {
  const source = new Float32Array(DIGIT * DIGIT);
  for (let k = 0; k < source.length; k++) source[k] = digit[k] / 255;
  const out = warpGray(source, DIGIT, DIGIT, size, size, affineSource(placementTheta(angle, scale, tx, ty, size)));
  for (let k = 0; k < out.length; k++) out[k] = Math.min(1, Math.max(0, out[k]));
  return out;
}

/**
 * Ink drawn on the pad (Float32Array of DIGIT², values in [0, 1]) made to look like an MNIST
 * digit: scaled so that its bounding box fits BOX x BOX, its centre of mass at the centre.
 * Returns uint8 values, or null when nothing is drawn.
 */
export function mnistLike(ink) {
  let x0 = DIGIT, x1 = -1, y0 = DIGIT, y1 = -1, mass = 0, mx = 0, my = 0;
  for (let i = 0; i < DIGIT; i++) {
    for (let j = 0; j < DIGIT; j++) {
      const v = ink[i * DIGIT + j];
      if (v <= 0.05) continue;
      x0 = Math.min(x0, j); x1 = Math.max(x1, j); y0 = Math.min(y0, i); y1 = Math.max(y1, i);
      mass += v; mx += v * j; my += v * i;
    }
  }
  if (mass === 0) return null;
  const s = BOX / Math.max(x1 - x0 + 1, y1 - y0 + 1); // output pixels per pad pixel
  const [cx, cy] = [mx / mass, my / mass];
  const out = new Uint8Array(DIGIT * DIGIT);
  const c = (DIGIT - 1) / 2;
  for (let i = 0; i < DIGIT; i++) {
    for (let j = 0; j < DIGIT; j++) {
      const [px, py] = [cx + (j - c) / s, cy + (i - c) / s];
      const [jx, iy] = [Math.floor(px), Math.floor(py)];
      let v = 0;
      for (let di = 0; di <= 1; di++) {
        for (let dj = 0; dj <= 1; dj++) {
          const [ii, jj] = [iy + di, jx + dj];
          if (ii < 0 || jj < 0 || ii >= DIGIT || jj >= DIGIT) continue;
          v += ink[ii * DIGIT + jj] * (di ? py - iy : 1 - (py - iy)) * (dj ? px - jx : 1 - (px - jx));
        }
      }
      out[i * DIGIT + j] = Math.round(255 * Math.min(1, v));
    }
  }
  return out;
}

/** Add a round brush stroke from (xa, ya) to (xb, yb) (pad pixels) to `ink`, anti-aliased. */
function stroke(ink, xa, ya, xb, yb, radius = 1.3) {
  const steps = Math.max(1, Math.ceil(Math.hypot(xb - xa, yb - ya) * 4));
  for (let s = 0; s <= steps; s++) {
    const [x, y] = [xa + ((xb - xa) * s) / steps, ya + ((yb - ya) * s) / steps];
    for (let i = Math.floor(y - radius - 1); i <= Math.ceil(y + radius + 1); i++) {
      for (let j = Math.floor(x - radius - 1); j <= Math.ceil(x + radius + 1); j++) {
        if (i < 0 || j < 0 || i >= DIGIT || j >= DIGIT) continue;
        const cover = Math.min(1, Math.max(0, radius + 0.5 - Math.hypot(j + 0.5 - x, i + 0.5 - y)));
        ink[i * DIGIT + j] = Math.max(ink[i * DIGIT + j], cover);
      }
    }
  }
}

const CORNER_NAMES = ["top-left", "top-right", "bottom-right", "bottom-left"];
const px = (digits) => (v) => `${fixed(v, digits)} px`;

/**
 * The sliders of each recipe (what stn_course.widgets.invariance.CONTROLS names): R and RTS turn,
 * scale and shift the digit; P scales it and moves the frame's corners (`corner<k>x/y`, pixels);
 * TC shifts it by whole pixels and sets how many pieces of clutter. `half` is half the canvas.
 */
export function sliderSpecs(distortion, half) {
  if (distortion === "P") {
    const corners = CORNER_NAMES.flatMap((name, k) => ["x", "y"].map((axis) => ({
      name: `corner${k}${axis}`, label: `${name} ${axis}`, min: -10, max: 10, step: 0.5, format: px(1),
    })));
    return [{ name: "scale", label: "scale", min: 0.6, max: 1.2, step: 0.01 }, ...corners];
  }
  if (distortion === "TC") {
    return [
      { name: "tx", label: "shift x", min: -16, max: 16, step: 1, format: px(0) },
      { name: "ty", label: "shift y", min: -16, max: 16, step: 1, format: px(0) },
      { name: "clutter", label: "clutter pieces", min: 0, max: 12, step: 1, format: (v) => fixed(v, 0) },
    ];
  }
  return [
    { name: "angle", label: "rotation", min: -180, max: 180, step: 1, format: (v) => `${fixed(v, 0)}°` },
    { name: "scale", label: "scale", min: 0.4, max: 2, step: 0.01 },
    { name: "tx", label: "shift x", min: -half, max: half, step: 0.5, format: px(1) },
    { name: "ty", label: "shift y", min: -half, max: half, step: 0.5, format: px(1) },
  ];
}

/** The slider values of a model's traits (corners split into corner<k>x/y). */
function valuesFrom(model) {
  const corners = model.get("corners") || [[0, 0], [0, 0], [0, 0], [0, 0]];
  const values = Object.fromEntries(["angle", "scale", "tx", "ty", "clutter"].map((k) => [k, model.get(k)]));
  corners.forEach(([x, y], k) => Object.assign(values, { [`corner${k}x`]: x, [`corner${k}y`]: y }));
  return values;
}

/** P's corner shifts [[x, y] × 4] from the slider values. */
const cornerShifts = (values) => [0, 1, 2, 3].map((k) => [values[`corner${k}x`], values[`corner${k}y`]]);

/**
 * The canvas both networks see for `distortion` (Float32Array, size x size, in [0, 1]):
 * `values` are the sliders', `pool` the picker's digits (TC's clutter), `own` the digit's index
 * among them (-1: drawn) and `seed` TC's clutter seed.
 */
export function distortedCanvas(distortion, image, values, size, { pool = null, own = -1, seed = 0 } = {}) {
  if (distortion === "P") return projectiveCanvas(image, values.scale, cornerShifts(values));
  if (distortion === "TC") {
    const layout = clutterLayout(seed, values.clutter, pool.length / (DIGIT * DIGIT), own, { out: size });
    return clutterCanvas(image, values.tx, values.ty, pool, layout, { out: size });
  }
  return distortDigit(image, values.angle, values.scale, values.tx, values.ty, size);
}

function probabilityTable() {
  const table = element("div", "stn-inv-probs");
  const head = element("div", "stn-inv-row stn-inv-head");
  head.append(element("span", "stn-inv-class", ""), ...MODELS.map((m) => element("span", "stn-inv-model", m.label)));
  table.append(head);
  const bars = [];
  for (let c = 0; c < 10; c++) {
    const row = element("div", "stn-inv-row");
    row.dataset.cls = String(c);
    const cells = MODELS.map((m) => {
      const cell = element("span", `stn-inv-cell stn-inv-${m.name}`);
      const bar = element("span", "stn-inv-bar");
      const value = element("span", "stn-inv-value");
      cell.append(bar, value);
      return { cell, bar, value };
    });
    row.append(element("span", "stn-inv-class", String(c)), ...cells.map((x) => x.cell));
    table.append(row);
    bars.push({ row, cells });
  }
  const verdict = element("div", "stn-inv-verdict");
  table.append(verdict);
  return { table, bars, verdict };
}

function render({ model, el }) {
  const root = element("div", "stn-widget stn-invariance-explorer");
  const size = () => model.get("size");
  let tensors = null;
  let graph = null;
  const loadWeights = () => {
    graph = model.get("graph");
    tensors = loadTensors(graph, toUint8(model.get("weights")));
  };
  loadWeights();

  // -- the pictures and the probabilities -----------------------------------------------
  const input = element("canvas", "stn-input stn-inv-input");
  const output = element("canvas", "stn-output stn-inv-output");
  const { table, bars, verdict } = probabilityTable();
  const figures = element("div", "stn-figures stn-inv-figures");
  figures.append(figure("input, and the ST-CNN's window θ", input), figure("what its transformer passes on", output));

  // -- the controls ---------------------------------------------------------------------
  const digitsBox = element("fieldset", "stn-sliders stn-inv-digits");
  digitsBox.append(element("legend", "", "a test digit, or draw one"));
  const picker = element("div", "stn-inv-picker");
  const pickButtons = [];
  const digitCount = () => toUint8(model.get("digits")).length / (DIGIT * DIGIT);
  const digitAt = (k) => toUint8(model.get("digits")).subarray(k * DIGIT * DIGIT, (k + 1) * DIGIT * DIGIT);
  for (let k = 0; k < digitCount(); k++) {
    const button = element("button", "stn-inv-pick");
    button.type = "button";
    button.dataset.digit = String(k);
    button.title = `test digit ${model.get("labels")[k]}`;
    const thumb = element("canvas");
    putGray(thumb, Array.from(digitAt(k)), DIGIT, DIGIT);
    button.append(thumb);
    button.addEventListener("click", () => pick(k));
    picker.append(button);
    pickButtons.push(button);
  }
  const pad = element("canvas", "stn-inv-pad");
  pad.width = DIGIT;
  pad.height = DIGIT;
  const padHint = element("span", "stn-inv-hint", "draw here (mouse or finger)");
  const clear = element("button", "stn-reset stn-inv-clear", "clear");
  clear.type = "button";
  const padBox = element("div", "stn-inv-padbox");
  const padSide = element("div", "stn-inv-padside");
  padSide.append(padHint, clear);
  padBox.append(pad, padSide);
  digitsBox.append(picker, padBox);

  const distortion = model.get("distortion") || "RTS";
  root.classList.add(`stn-inv-${distortion.toLowerCase()}`);
  const specs = sliderSpecs(distortion, size() / 2);
  const values = valuesFrom(model);
  let seed = model.get("clutter_seed") || 0;
  const sliders = specs.map((spec) => sliderRow({
    ...spec, value: values[spec.name],
    onInput: (v) => {
      const before = values[spec.name];
      values[spec.name] = v;
      if (distortion === "P" && !isConvex(cornerPositions(values.scale, cornerShifts(values)))) {
        values[spec.name] = before; // P never folds its frame: the slider stops where it would
        sliders.find((s) => s.input.dataset.param === spec.name).set(before);
        return;
      }
      schedule();
    },
  }));
  const distortBox = element("fieldset", "stn-sliders stn-inv-distort");
  const legends = { P: "move the frame's corners (P)", TC: "shift it among clutter (TC)" };
  distortBox.append(element("legend", "", legends[distortion] || "distort it"), ...sliders.map((s) => s.row));
  const buttons = element("div", "stn-inv-buttons");
  const reset = element("button", "stn-reset", "undo the distortion");
  reset.type = "button";
  reset.addEventListener("click", () => {
    Object.assign(values, { angle: 0, scale: 1, tx: 0, ty: 0, clutter: 0 });
    for (let k = 0; k < 4; k++) Object.assign(values, { [`corner${k}x`]: 0, [`corner${k}y`]: 0 });
    sliders.forEach((s, k) => s.set(values[specs[k].name]));
    schedule();
  });
  buttons.append(reset);
  if (distortion === "TC") {
    const again = element("button", "stn-reset stn-inv-new-clutter", "new clutter");
    again.type = "button";
    again.addEventListener("click", () => {
      seed = (seed + 1) % 4294967296;
      schedule();
    });
    buttons.append(again);
  }
  distortBox.append(buttons);
  root.append(figures, table, distortBox, digitsBox);
  el.append(root);

  // -- drawing ----------------------------------------------------------------------------
  let ink = new Float32Array(DIGIT * DIGIT);
  let image = Uint8Array.from(toUint8(model.get("image")));
  let current = model.get("digit");
  const drawPad = () => {
    const shown = Float32Array.from(ink, (v) => 255 * v);
    putGray(pad, shown, DIGIT, DIGIT);
  };
  drawPad();
  let last = null;
  const padPoint = (event) => {
    const r = pad.getBoundingClientRect();
    return [((event.clientX - r.left) / r.width) * DIGIT, ((event.clientY - r.top) / r.height) * DIGIT];
  };
  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    if (current !== -1) ink = new Float32Array(DIGIT * DIGIT); // a new drawing
    try {
      pad.setPointerCapture(event.pointerId);
    } catch (err) {
      /* synthetic events have no capturable pointer */
    }
    last = padPoint(event);
    stroke(ink, ...last, ...last);
    useInk();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!last) return;
    event.preventDefault();
    const point = padPoint(event);
    stroke(ink, ...last, ...point);
    last = point;
    useInk();
  });
  const lift = () => {
    last = null;
  };
  pad.addEventListener("pointerup", lift);
  pad.addEventListener("pointercancel", lift);
  clear.addEventListener("click", () => {
    ink = new Float32Array(DIGIT * DIGIT);
    drawPad();
  });
  function useInk() {
    drawPad();
    const digit = mnistLike(ink);
    if (!digit) return;
    image = digit;
    current = -1;
    schedule();
  }
  function pick(k) {
    current = k;
    image = Uint8Array.from(digitAt(k));
    schedule();
  }

  // -- computing and drawing ---------------------------------------------------------------
  let pendingSince = null; // performance.now() of the first change not yet computed
  let updates = 0;
  const stn = { updates, pending: false };
  root.stn = stn;
  function schedule() {
    if (pendingSince !== null) return;
    pendingSince = performance.now();
    stn.pending = true;
    const run = () => update();
    if (typeof requestAnimationFrame === "function" && !document.hidden) requestAnimationFrame(run);
    else setTimeout(run, 0);
  }

  function update() {
    const since = pendingSince ?? performance.now();
    pendingSince = null;
    stn.pending = false;
    const S = size();
    const canvas = distortedCanvas(distortion, image, values, S, { pool: toUint8(model.get("digits")), own: current, seed });
    const results = Object.fromEntries(MODELS.map((m) => [m.name, runModel(graph.models[m.name], canvas, S, S, tensors)]));
    const st = results["st-cnn-aff"];
    const theta = st.theta;
    const probabilities = Object.fromEntries(MODELS.map((m) => [m.name, results[m.name].probabilities]));
    draw(canvas, S, st, probabilities);
    updates += 1;
    Object.assign(stn, {
      theta, probabilities, canvas: Array.from(canvas), rectified: Array.from(st.rectified.data),
      window: frameOutline(affineSource(theta), 1).slice(0, 4), updates, latency: performance.now() - since,
      distortion, seed,
    });
    root.dataset.theta = JSON.stringify(theta);
    publish(theta, probabilities);
  }

  function draw(canvas, S, st, probabilities) {
    const zoom = model.get("zoom");
    const shown = Float32Array.from(canvas, (v) => 255 * v);
    const { h, w } = st.rectified;
    const sourceOf = affineSource(st.theta);
    drawGridOverlay(input, shown, { width: S, height: S, zoom, margin: 0.2 },
      samplingGrid(w, h, sourceOf, Math.max(1, Math.ceil(w / 7))), { frame: frameOutline(sourceOf) });
    putGray(output, Float32Array.from(st.rectified.data, (v) => 255 * v), w, h);
    output.style.width = `${S * zoom}px`; // the same size as the canvas in the input picture
    const label = current >= 0 ? model.get("labels")[current] : null;
    bars.forEach(({ row, cells }, c) => {
      row.classList.toggle("stn-inv-true", c === label);
      MODELS.forEach((m, k) => {
        const p = probabilities[m.name][c];
        cells[k].bar.style.width = `${(100 * p).toFixed(1)}%`;
        cells[k].value.textContent = p >= 0.05 ? `${Math.round(100 * p)}%` : "";
      });
    });
    verdict.textContent = MODELS.map((m) => {
      const p = probabilities[m.name];
      const best = p.indexOf(Math.max(...p));
      return `${m.label} reads ${best}`;
    }).join(" · ") + (label === null ? " (your drawing)" : ` (it is a ${label})`);
    pickButtons.forEach((b, k) => b.classList.toggle("stn-inv-picked", k === current));
  }

  // -- the model: what changed here goes to the kernel; what the kernel changed comes here --
  let writing = false;
  function publish(theta, probabilities) {
    writing = true;
    try {
      for (const spec of specs) if (!spec.name.startsWith("corner")) model.set(spec.name, values[spec.name]);
      if (distortion === "P") model.set("corners", cornerShifts(values));
      if (distortion === "TC") model.set("clutter_seed", seed);
      model.set("digit", current);
      if (current === -1) model.set("image", new DataView(image.buffer, image.byteOffset, image.byteLength));
      model.set("theta", theta);
      model.set("probabilities", probabilities);
    } finally {
      writing = false;
    }
    saveChanges(model);
  }
  const fromKernel = () => {
    if (writing) return;
    Object.assign(values, valuesFrom(model));
    specs.forEach((spec, k) => sliders[k].set(values[spec.name]));
    seed = model.get("clutter_seed") || 0;
    current = model.get("digit");
    image = Uint8Array.from(toUint8(model.get("image")));
    schedule();
  };
  const newWeights = () => {
    if (writing) return;
    loadWeights();
    schedule();
  };
  const events = ["change:angle", "change:scale", "change:tx", "change:ty", "change:digit", "change:image",
    "change:corners", "change:clutter", "change:clutter_seed"];
  events.forEach((e) => model.on(e, fromKernel));
  model.on("change:weights", newWeights);
  model.on("change:graph", newWeights);
  model.on("change:zoom", schedule);
  update();
  return () => {
    events.forEach((e) => model.off(e, fromKernel));
    model.off("change:weights", newWeights);
    model.off("change:graph", newWeights);
    model.off("change:zoom", schedule);
  };
}

export default { render };
